--[[ phishmilter.conf
filter r1 {
	match = { 'header_subject:^reject-me$' }
	action = reject
}
]]
-- Option negotiation with header rules only: the daemon turns off the
-- steps it does not need and asks for no replies to the others.
dofile(LUADIR .. "/lib.lua")

T.run(function()
	local conn = T.connect()
	T.check(mt.negotiate(conn, nil, nil, nil), "negotiate")
	for _, o in ipairs({ "SMFIP_NOHELO", "SMFIP_NORCPT", "SMFIP_NOBODY",
	    "SMFIP_NOUNKNOWN", "SMFIP_NODATA", "SMFIP_NOEOH",
	    "SMFIP_NR_CONN", "SMFIP_NR_MAIL", "SMFIP_NR_HDR",
	    "SMFIP_HDR_LEADSPC" }) do
		T.ok(mt.test_option(conn, _G[o]), o .. " is set")
	end
	for _, o in ipairs({ "SMFIP_NOCONNECT", "SMFIP_NOMAIL",
	    "SMFIP_NOHDRS" }) do
		T.ok(not mt.test_option(conn, _G[o]), o .. " is not set " ..
		    "(connect, MAIL and headers are needed)")
	end
	for _, a in ipairs({ "SMFIF_ADDHDRS", "SMFIF_CHGHDRS",
	    "SMFIF_QUARANTINE", "SMFIF_CHGBODY", "SMFIF_ADDRCPT",
	    "SMFIF_DELRCPT", "SMFIF_CHGFROM" }) do
		T.ok(not mt.test_action(conn, _G[a]), a .. " is not asked " ..
		    "for by reject filters")
	end
	local good, err = pcall(mt.helo, conn, "mx.example.net")
	T.ok(not good and tostring(err):find("SMFIP_NOHELO") ~= nil,
	    "miltertest refuses to send HELO the filter turned off",
	    tostring(err))

	T.check(mt.conninfo(conn, "mx.example.net", "192.0.2.10"), "conninfo")
	T.is(T.message(conn, T.subject("reject-me")), "replycode",
	    "the steps left on still carry the message to a verdict")
	T.ok(mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1",
	    "Message rejected as phishing (r1)"), "reply text is exact")
	mt.disconnect(conn)
end)
