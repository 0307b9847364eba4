--[[ phishmilter.conf
filter r1 {
	match = { 'header_subject:^phish$' }
	action = reject
}
]]
-- parallel: 6
-- Run 6 times at once (-D ID=1..6), 3 x min_spare connections: each
-- holds its connection open mid-message a while, so the pool must grow,
-- and each gets its own verdicts.
dofile(LUADIR .. "/lib.lua")

T.run(function()
	local id = tonumber(ID)
	local conn = T.open("client" .. id .. ".example.net",
	    "192.0.2." .. (20 + id))
	for i = 1, 3 do
		local kind = (id + i) % 2 == 0 and "phish" or "clean"
		local m = T.subject(kind)
		m.mailmacros = { "i", "Q" .. id .. "-" .. i }
		T.send(conn, m)
		mt.sleep(0.3)
		T.check(mt.eom(conn), "eom")
		T.reply_is(conn, kind == "phish" and "replycode" or "accept",
		    "connection " .. id .. " message " .. i .. " (" .. kind ..
		    ")")
	end
	mt.disconnect(conn)
end)
