--[[ phishmilter.conf
filter r_subject {
	match = { 'header_subject:^phish$' }
	action = reject
}
filter r_rcpt {
	match = { 'envelope_rcpt:^spamtrap@' }
	action = tempfail
}
filter r_from {
	match = { 'envelope_from:^bad@' }
	action = discard
}
]]
-- SMFIC_ABORT forgets the transaction (headers, recipients, sender)
-- and nothing else: the next message on the connection starts clean.
dofile(LUADIR .. "/lib.lua")

T.run(function()
	local conn = T.open("mx.example.net", "192.0.2.10")

	T.send(conn, T.subject("phish"))
	T.check(mt.abort(conn), "abort")
	T.is(T.message(conn, T.subject("hello")), "accept",
	    "phishing headers, ABORT, clean message: accepted")

	T.send(conn, T.subject("hello"))
	T.check(mt.abort(conn), "abort")
	T.is(T.message(conn, T.subject("phish")), "replycode",
	    "clean headers, ABORT, phishing message: rejected")
	T.ok(mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1",
	    "Message rejected as phishing (r_subject)"),
	    "the reply names the filter of the second message")

	T.send(conn, { rcpt = { "<spamtrap@example.net>" },
	    headers = { { "Subject", "hello" } } })
	T.check(mt.abort(conn), "abort")
	T.is(T.message(conn, { rcpt = { "<alice@example.net>" },
	    headers = { { "Subject", "hello" } } }), "accept",
	    "recipients do not survive ABORT")

	T.send(conn, { from = "<bad@phish.example>",
	    headers = { { "Subject", "hello" } } })
	T.check(mt.abort(conn), "abort")
	T.is(T.message(conn, { from = "<good@example.org>",
	    headers = { { "Subject", "hello" } } }), "accept",
	    "the sender does not survive ABORT")

	-- An ABORT after EOM (Postfix sends one at RSET) is harmless.
	T.is(T.message(conn, T.subject("phish")), "replycode",
	    "rejected message before a stray ABORT")
	T.check(mt.abort(conn), "abort")
	T.check(mt.abort(conn), "abort")
	T.is(T.message(conn, T.subject("hello")), "accept",
	    "two ABORTs after EOM, clean message: accepted")
	mt.disconnect(conn)
end)
