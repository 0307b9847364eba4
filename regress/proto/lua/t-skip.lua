--[[ phishmilter.conf
skip_networks = { "198.51.100.0/24", "2001:db8:1::/48" }
filter everything {
	match = { 'header_subject:.' }
	action = reject
}
]]
-- skip_authenticated (on by default) and skip_networks: accepted
-- without evaluation.  {auth_authen} comes with MAIL, so it counts for
-- one message; the client address counts for the connection.
dofile(LUADIR .. "/lib.lua")

T.run(function()
	local conn = T.open("mx.example.net", "192.0.2.10")
	local m = T.subject("anything")
	m.mailmacros = { "{auth_authen}", "alice@example.org" }
	T.is(T.message(conn, m), "accept",
	    "authenticated sender: accepted without evaluation")
	T.is(T.message(conn, T.subject("anything")), "replycode",
	    "next message without {auth_authen}: filtered")
	mt.disconnect(conn)

	conn = T.open("mx.example.net", "198.51.100.25")
	T.is(T.message(conn, T.subject("anything")), "accept",
	    "client in 198.51.100.0/24: accepted")
	T.is(T.message(conn, T.subject("anything")), "accept",
	    "second message of that client: accepted")
	mt.disconnect(conn)

	conn = T.open("mx.example.net", "2001:db8:1::25")
	T.is(T.message(conn, T.subject("anything")), "accept",
	    "client in 2001:db8:1::/48: accepted")
	mt.disconnect(conn)

	conn = T.open("mx.example.net", "2001:db8:2::25")
	T.is(T.message(conn, T.subject("anything")), "replycode",
	    "client outside 2001:db8:1::/48: filtered")
	mt.disconnect(conn)
end)
