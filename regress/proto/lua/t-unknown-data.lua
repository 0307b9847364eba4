--[[ phishmilter.conf
filter r1 {
	match = { 'header_subject:^phish$' }
	action = reject
}
]]
-- SMFIC_UNKNOWN (an SMTP command the MTA did not know) and SMFIC_DATA,
-- from an MTA that cannot leave them out: each is answered CONTINUE,
-- or not at all when SMFIP_NR_* says so, and the message goes on.
dofile(LUADIR .. "/lib.lua")

local ALL = 0x1fffff
local NODATA, NOUNKN = 0x200, 0x100
local NR_DATA, NR_UNKN = 0x10000, 0x20000

T.run(function()
	local conn = T.open("mx.example.net", "192.0.2.10", 6,
	    ALL - NODATA - NOUNKN - NR_DATA - NR_UNKN, nil)
	T.ok(not mt.test_option(conn, SMFIP_NODATA) and
	    not mt.test_option(conn, SMFIP_NOUNKNOWN),
	    "not offered: SMFIP_NODATA and SMFIP_NOUNKNOWN stay off")
	T.check(mt.unknown(conn, "XFROB something"), "unknown")
	T.reply_is(conn, "continue", "UNKNOWN before MAIL: CONTINUE")
	T.check(mt.mailfrom(conn, "<a@example.org>"), "mailfrom")
	T.check(mt.unknown(conn, "XFROB again"), "unknown")
	T.reply_is(conn, "continue", "UNKNOWN inside a transaction: CONTINUE")
	T.check(mt.data(conn), "data")
	T.reply_is(conn, "continue", "DATA: CONTINUE")
	T.check(mt.header(conn, "Subject", "phish"), "header")
	T.check(mt.eom(conn), "eom")
	T.reply_is(conn, "replycode", "the message still gets its verdict")
	T.is(T.message(conn, T.subject("hello")), "accept",
	    "and the next message too")
	mt.disconnect(conn)

	-- Offered with no-reply: the daemon must stay silent, or the MTA
	-- would read that stray CONTINUE as the verdict.
	conn = T.open("mx.example.net", "192.0.2.10", 6,
	    ALL - NODATA - NOUNKN, nil)
	T.ok(mt.test_option(conn, SMFIP_NR_UNKN) and
	    mt.test_option(conn, SMFIP_NR_DATA),
	    "SMFIP_NR_UNKN and SMFIP_NR_DATA negotiated")
	T.check(mt.unknown(conn, "XFROB something"), "unknown")
	T.check(mt.mailfrom(conn, "<a@example.org>"), "mailfrom")
	T.check(mt.data(conn), "data")
	T.check(mt.header(conn, "Subject", "phish"), "header")
	T.check(mt.eom(conn), "eom")
	T.reply_is(conn, "replycode",
	    "no-reply UNKNOWN and DATA: the verdict is the next reply")
	mt.disconnect(conn)
end)
