--[[ phishmilter.conf
subject_prefix = "[Phishing?]"
filter w1 {
	match = { 'header_subject:(?i)verify your account' }
	action = warn
}
filter r_late {
	match = { 'header_subject:(?i)and reject' }
	action = reject
}
]]
-- warn: the header (SMFIR_INSHEADER with protocol 6, SMFIR_ADDHEADER
-- with protocol 2) and the Subject mark (SMFIR_CHGHEADER, index 1).
dofile(LUADIR .. "/lib.lua")

T.run(function()
	local conn = T.open("mx.example.net", "192.0.2.10")
	T.ok(mt.test_action(conn, SMFIF_ADDHDRS), "SMFIF_ADDHDRS asked for")
	T.ok(mt.test_action(conn, SMFIF_CHGHDRS),
	    "SMFIF_CHGHDRS asked for (subject_prefix)")

	T.is(T.message(conn, T.subject("Please verify your account")),
	    "accept", "warn: SMFIR_ACCEPT")
	T.ok(mt.eom_check(conn, MT_HDRINSERT, "X-Phishing-Warning"),
	    "version 6: X-Phishing-Warning inserted (SMFIR_INSHEADER)")
	local v = mt.getheader(conn, "X-Phishing-Warning", 0)
	T.ok(v ~= nil and v:match("^ w1 ") ~= nil,
	    "the warning names the filter, after one leading space " ..
	    "(HDR_LEADSPC)", "got: " .. tostring(v))
	T.ok(mt.eom_check(conn, MT_HDRCHANGE, "Subject",
	    " [Phishing?] Please verify your account"),
	    "Subject prefixed (SMFIR_CHGHEADER)")

	T.is(T.message(conn, T.subject("verify your account and reject")),
	    "replycode", "warn, then a reject filter: rejected")
	mt.disconnect(conn)

	-- An MTA speaking protocol version 2: no INSHEADER, no LEADSPC.
	conn = T.open("mx.example.net", "192.0.2.10", 2, 0x7f, 0x3f)
	T.is(T.message(conn, T.subject("Please verify your account")),
	    "accept", "version 2: warn gives SMFIR_ACCEPT")
	T.ok(mt.eom_check(conn, MT_HDRADD, "X-Phishing-Warning"),
	    "version 2: X-Phishing-Warning added (SMFIR_ADDHEADER)")
	T.ok(not mt.eom_check(conn, MT_HDRINSERT),
	    "version 2: no SMFIR_INSHEADER")
	v = mt.getheader(conn, "X-Phishing-Warning", 0)
	T.ok(v ~= nil and v:match("^w1 ") ~= nil,
	    "version 2: the value has no leading space", "got: " ..
	    tostring(v))
	T.ok(mt.eom_check(conn, MT_HDRCHANGE, "Subject",
	    "[Phishing?] Please verify your account"),
	    "version 2: Subject prefixed")
	mt.disconnect(conn)

	-- An MTA that allows no header changes: the mail is only accepted.
	conn = T.open("mx.example.net", "192.0.2.10", nil, nil, 0)
	T.ok(not mt.test_action(conn, SMFIF_ADDHDRS),
	    "actions not offered are not asked for")
	T.is(T.message(conn, T.subject("Please verify your account")),
	    "accept", "no header actions allowed: warn gives SMFIR_ACCEPT")
	T.ok(not mt.eom_check(conn, MT_HDRINSERT) and
	    not mt.eom_check(conn, MT_HDRADD) and
	    not mt.eom_check(conn, MT_HDRCHANGE),
	    "no header actions allowed: no header change is sent")
	mt.disconnect(conn)
end)
