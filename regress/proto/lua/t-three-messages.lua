--[[ phishmilter.conf
subject_prefix = "[P]"
filter r1 {
	match = { 'header_subject:^phish$' }
	action = reject
}
filter w1 {
	match = { 'header_subject:^suspicious$' }
	action = warn
}
]]
-- Three messages on one connection, with an ABORT (RSET) between them,
-- in two orders: each verdict depends on its own message only.
dofile(LUADIR .. "/lib.lua")

local function three(conn, order)
	for i, kind in ipairs(order) do
		local what = table.concat(order, ",") .. ": message " .. i ..
		    " (" .. kind .. ")"
		local r = T.message(conn, T.subject(kind))
		if kind == "phish" then
			T.is(r, "replycode", what .. " rejected")
			T.ok(not mt.eom_check(conn, MT_HDRINSERT),
			    what .. " carries no warning header")
		elseif kind == "suspicious" then
			T.is(r, "accept", what .. " accepted")
			T.ok(mt.eom_check(conn, MT_HDRINSERT,
			    "X-Phishing-Warning"), what .. " is warned")
		else
			T.is(r, "accept", what .. " accepted")
			T.ok(not mt.eom_check(conn, MT_HDRINSERT) and
			    not mt.eom_check(conn, MT_HDRCHANGE),
			    what .. " is not modified")
		end
		T.check(mt.abort(conn), "abort")
	end
end

T.run(function()
	local conn = T.open("mx.example.net", "192.0.2.10")
	three(conn, { "phish", "clean", "suspicious" })
	three(conn, { "suspicious", "clean", "phish" })
	three(conn, { "clean", "phish", "clean" })
	mt.disconnect(conn)
end)
