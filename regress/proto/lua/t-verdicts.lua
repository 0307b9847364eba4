--[[ phishmilter.conf
filter r_default {
	match = { 'header_subject:^r-default$' }
	action = reject
}
filter r_custom {
	match = { 'header_subject:^r-custom$' }
	action = reject
	reply = "554 5.7.0 Rejected: the sender impersonates MUFG"
}
filter r_percent {
	match = { 'header_subject:^r-percent$' }
	action = reject
	reply = "550 5.7.1 100% phishing"
}
filter t_default {
	match = { 'header_subject:^t-default$' }
	action = tempfail
}
filter t_custom {
	match = { 'header_subject:^t-custom$' }
	action = tempfail
	reply = "421 4.3.2 Try again later"
}
filter d1 {
	match = { 'header_subject:^discard$' }
	action = discard
}
filter q_default {
	match = { 'header_subject:^q-default$' }
	action = quarantine
}
filter q_reason {
	match = { 'header_subject:^q-reason$' }
	action = quarantine
	reply = "held: looks like phishing"
}
filter a1 {
	match = { 'header_subject:^accept$' }
	action = accept
}
filter r_after_accept {
	match = { 'header_subject:^accept$' }
	action = reject
}
]]
-- Every rule kind, with the exact reply, over one connection.
dofile(LUADIR .. "/lib.lua")

local function smtp(conn, code, esc, text, what)
	T.ok(mt.eom_check(conn, MT_SMTPREPLY, code, esc, text), what ..
	    ": reply is \"" .. code .. " " .. esc .. " " .. text .. "\"")
end

T.run(function()
	local conn = T.open("mx.example.net", "192.0.2.10")

	T.is(T.message(conn, T.subject("r-default")), "replycode",
	    "reject without reply: SMFIR_REPLYCODE")
	smtp(conn, "550", "5.7.1", "Message rejected as phishing (r_default)",
	    "reject default")

	T.is(T.message(conn, T.subject("r-custom")), "replycode",
	    "reject with reply: SMFIR_REPLYCODE")
	smtp(conn, "554", "5.7.0", "Rejected: the sender impersonates MUFG",
	    "reject custom")

	T.is(T.message(conn, T.subject("r-percent")), "replycode",
	    "reject with % in reply: SMFIR_REPLYCODE")
	smtp(conn, "550", "5.7.1", "100%% phishing", "% doubled")

	T.is(T.message(conn, T.subject("t-default")), "replycode",
	    "tempfail without reply: SMFIR_REPLYCODE")
	smtp(conn, "451", "4.7.1", "Message temporarily refused (t_default)",
	    "tempfail default")

	T.is(T.message(conn, T.subject("t-custom")), "replycode",
	    "tempfail with reply: SMFIR_REPLYCODE")
	smtp(conn, "421", "4.3.2", "Try again later", "tempfail custom")

	T.is(T.message(conn, T.subject("discard")), "discard",
	    "discard: SMFIR_DISCARD")
	T.ok(not mt.eom_check(conn, MT_SMTPREPLY, "550"),
	    "discard: no SMTP reply")

	T.is(T.message(conn, T.subject("q-default")), "accept",
	    "quarantine: SMFIR_ACCEPT after the quarantine request")
	T.ok(mt.eom_check(conn, MT_QUARANTINE, "q_default"),
	    "quarantine: the reason is the filter name")

	T.is(T.message(conn, T.subject("q-reason")), "accept",
	    "quarantine with reply: SMFIR_ACCEPT")
	T.ok(mt.eom_check(conn, MT_QUARANTINE, "held: looks like phishing"),
	    "quarantine: the reason is the reply")

	T.is(T.message(conn, T.subject("accept")), "accept",
	    "accept filter before a reject filter: SMFIR_ACCEPT")
	T.ok(not mt.eom_check(conn, MT_QUARANTINE) and
	    not mt.eom_check(conn, MT_HDRINSERT) and
	    not mt.eom_check(conn, MT_HDRADD),
	    "accept: no quarantine and no header")

	T.is(T.message(conn, T.subject("nothing matches")), "accept",
	    "clean message: SMFIR_ACCEPT")
	mt.disconnect(conn)
end)
