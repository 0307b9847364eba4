--[[ phishmilter.conf
filter trap {
	match = { 'envelope_rcpt:^spamtrap@example\.net$' }
	action = reject
}
filter helo_check {
	match = { 'helo:^phish\.example$' }
	action = quarantine
}
]]
-- Option negotiation with envelope_rcpt and helo rules: RCPT and HELO
-- stay on, headers (no header rule, no warn) are turned off.
dofile(LUADIR .. "/lib.lua")

T.run(function()
	local conn = T.open("mx.example.net", "192.0.2.10")
	T.ok(not mt.test_option(conn, SMFIP_NORCPT),
	    "SMFIP_NORCPT is not set with an envelope_rcpt rule")
	T.ok(not mt.test_option(conn, SMFIP_NOHELO),
	    "SMFIP_NOHELO is not set with a helo rule")
	T.ok(mt.test_option(conn, SMFIP_NR_RCPT),
	    "SMFIP_NR_RCPT: no reply wanted after RCPT")
	T.ok(mt.test_option(conn, SMFIP_NOHDRS),
	    "SMFIP_NOHDRS: headers are not needed")
	T.ok(mt.test_option(conn, SMFIP_NOBODY), "SMFIP_NOBODY is set")
	T.ok(mt.test_action(conn, SMFIF_QUARANTINE),
	    "SMFIF_QUARANTINE is asked for by a quarantine filter")
	T.ok(not mt.test_action(conn, SMFIF_ADDHDRS),
	    "SMFIF_ADDHDRS is not asked for without a warn filter")

	T.is(T.message(conn, { helo = "mx.example.net",
	    rcpt = { "<alice@example.net>", "<spamtrap@example.net>" } }),
	    "replycode", "the second RCPT is seen: rejected")
	T.is(T.message(conn, { rcpt = { "<alice@example.net>" } }),
	    "accept", "next message with another RCPT: accepted")
	mt.disconnect(conn)

	conn = T.open("mx.example.net", "192.0.2.10")
	T.is(T.message(conn, { helo = "phish.example" }), "accept",
	    "HELO phish.example: quarantined (accept)")
	T.ok(mt.eom_check(conn, MT_QUARANTINE, "helo_check"),
	    "quarantine reason is the filter name")
	mt.disconnect(conn)
end)
