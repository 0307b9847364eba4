--[[ phishmilter.conf
skip_authenticated = false
filter m_qid {
	match = { 'macro_i:^QID-ONE$' }
	action = reject
}
filter m_conn {
	match = { 'macro_j:^mx\.phish\.example$', 'header_subject:^conn-macro$' }
	action = tempfail
}
filter m_helo {
	match = { 'macro_{tls_version}:^TLSv1$', 'header_subject:^helo-macro$' }
	action = discard
}
filter m_auth {
	match = { 'macro_{auth_authen}:^mallory$' }
	action = reject
	reply = "550 5.7.1 auth"
}
]]
-- Message macros (MAIL, RCPT, EOM stages) last one message; connection
-- macros (CONNECT, HELO stages) last the connection.
dofile(LUADIR .. "/lib.lua")

T.run(function()
	local conn = T.open("mx.example.net", "192.0.2.10", nil, nil, nil,
	    { "j", "mx.phish.example", "{daemon_name}", "smtpd" })
	T.ok(not mt.test_option(conn, SMFIP_NOHELO) and
	    not mt.test_option(conn, SMFIP_NORCPT),
	    "macro rules keep HELO and RCPT on (macros may come with any step)")
	T.check(mt.macro(conn, SMFIC_HELO, "{tls_version}", "TLSv1"), "macro")
	T.check(mt.helo(conn, "client.example.net"), "helo")

	local m = T.subject("hello")
	m.mailmacros = { "i", "QID-ONE" }
	T.is(T.message(conn, m), "replycode", "message 1: i=QID-ONE at MAIL " ..
	    "is seen")
	T.is(T.message(conn, T.subject("hello")), "accept",
	    "message 2 (no i sent): the i of message 1 is gone")
	T.is(T.message(conn, T.subject("conn-macro")), "replycode",
	    "message 3: the CONNECT macro j is still there")
	T.ok(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1",
	    "Message temporarily refused (m_conn)"), "message 3: by m_conn")
	T.is(T.message(conn, T.subject("helo-macro")), "discard",
	    "message 4: the HELO macro {tls_version} is still there")

	m = T.subject("hello")
	m.mailmacros = { "{auth_authen}", "mallory", "i", "QID-FIVE" }
	T.is(T.message(conn, m), "replycode",
	    "message 5: {auth_authen} at MAIL is seen")
	T.is(T.message(conn, T.subject("hello")), "accept",
	    "message 6: {auth_authen} of message 5 is gone")

	T.send(conn, T.subject("hello"))
	T.check(mt.macro(conn, string.byte("E"), "i", "QID-ONE"), "eom macro")
	T.check(mt.eom(conn), "eom")
	T.reply_is(conn, "replycode", "message 7: i sent with EOM " ..
	    "(as Postfix does) is seen")

	T.check(mt.mailfrom(conn, "<a@example.org>"), "mailfrom")
	T.check(mt.macro(conn, SMFIC_RCPT, "i", "QID-ONE"), "rcpt macro")
	T.check(mt.rcptto(conn, "<b@example.net>"), "rcptto")
	T.check(mt.header(conn, "Subject", "hello"), "header")
	T.check(mt.eom(conn), "eom")
	T.reply_is(conn, "replycode", "message 8: i sent with RCPT is seen")

	m = T.subject("hello")
	m.mailmacros = { "i", "QID-ONE" }
	T.send(conn, m)
	T.check(mt.abort(conn), "abort")
	T.is(T.message(conn, T.subject("hello")), "accept",
	    "message 9: ABORT forgets the MAIL macros of the aborted one")
	T.is(T.message(conn, T.subject("conn-macro")), "replycode",
	    "message 10: ABORT keeps the CONNECT macros")
	mt.disconnect(conn)
end)
