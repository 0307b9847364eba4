-- Shared by the t-*.lua scenarios that t_miltertest.sh runs with
-- miltertest(8).  A scenario prints "ok - WHAT" or "not ok - WHAT" per
-- assertion and "# ..." for diagnostics; t_miltertest.sh numbers them.
-- Globals set with -D: SOCK (the daemon's socket, miltertest syntax
-- "inet:PORT@127.0.0.1") and LUADIR (this folder).

T = {}

-- Lua 5.1 has unpack, later versions table.unpack.
local unpack = table.unpack or unpack

local names = {}
names[SMFIR_CONTINUE] = "continue"
names[SMFIR_ACCEPT] = "accept"
names[SMFIR_REJECT] = "reject"
names[SMFIR_TEMPFAIL] = "tempfail"
names[SMFIR_DISCARD] = "discard"
names[SMFIR_REPLYCODE] = "replycode"
if SMFIR_SKIP ~= nil then names[SMFIR_SKIP] = "skip" end

-- The name of a reply code ("accept", "replycode", ...).
function T.name(r)
	if r == nil then return "nil" end
	return names[r] or string.format("'%s' (%d)",
	    r > 0 and r < 256 and string.char(r) or "?", r)
end

local function diag(s)
	print("# " .. tostring(s):gsub("\n", "\n# "))
end
T.diag = diag

function T.ok(cond, what, why)
	print((cond and "ok" or "not ok") .. " - " .. what)
	if not cond and why ~= nil then diag(why) end
	return cond
end

function T.is(got, want, what)
	return T.ok(got == want, what, "got: " .. tostring(got) ..
	    "\nwant: " .. tostring(want))
end

-- The last reply of conn, by name.
function T.reply_is(conn, want, what)
	return T.is(T.name(mt.getreply(conn)), want, what)
end

-- mt.* functions return nil or an error text.
function T.check(err, what)
	if err ~= nil then error((what or "mt call") .. ": " .. tostring(err), 2) end
end

-- A new connection; mt.connect retries while the daemon starts.
function T.connect()
	local conn = mt.connect(SOCK, 50, 0.1)
	if conn == nil then error("cannot connect to " .. SOCK) end
	return conn
end

-- Negotiates (miltertest's defaults unless given: version, protocol
-- steps, actions -- in that order, whatever the manual says), then
-- sends CONNECT unless the filter turned it off.
function T.open(host, ip, version, protocol, actions, conmacros)
	local conn = T.connect()
	T.check(mt.negotiate(conn, version, protocol, actions), "negotiate")
	if conmacros ~= nil then
		T.check(mt.macro(conn, SMFIC_CONNECT, unpack(conmacros)),
		    "connect macros")
	end
	if not mt.test_option(conn, SMFIP_NOCONNECT) then
		T.check(mt.conninfo(conn, host or "client.example.net",
		    ip or "192.0.2.1"), "conninfo")
	end
	return conn
end

-- Sends one message up to, not including, end of message; steps the
-- filter turned off are left out, as an MTA does.  m: from, rcpt (a
-- list), headers (a list of {name, value}), body, mailmacros (a list
-- of name, value, ...), helo.
function T.send(conn, m)
	if m.helo ~= nil and not mt.test_option(conn, SMFIP_NOHELO) then
		T.check(mt.helo(conn, m.helo), "helo")
	end
	if m.mailmacros ~= nil then
		T.check(mt.macro(conn, SMFIC_MAIL, unpack(m.mailmacros)),
		    "mail macros")
	end
	T.check(mt.mailfrom(conn, m.from or "<sender@example.org>"), "mailfrom")
	if not mt.test_option(conn, SMFIP_NORCPT) then
		for _, r in ipairs(m.rcpt or { "<rcpt@example.net>" }) do
			T.check(mt.rcptto(conn, r), "rcptto " .. r)
		end
	end
	if not mt.test_option(conn, SMFIP_NOHDRS) then
		for _, h in ipairs(m.headers or {}) do
			T.check(mt.header(conn, h[1], h[2]), "header " .. h[1])
		end
	end
	if not mt.test_option(conn, SMFIP_NOEOH) then
		T.check(mt.eoh(conn), "eoh")
	end
	if not mt.test_option(conn, SMFIP_NOBODY) then
		T.check(mt.bodystring(conn, m.body or "Hello.\r\n"), "body")
	end
end

-- One whole message: T.send, then end of message; returns the reply name.
function T.message(conn, m)
	T.send(conn, m)
	T.check(mt.eom(conn), "eom")
	return T.name(mt.getreply(conn))
end

-- A message with just this Subject.
function T.subject(s)
	return { headers = { { "From", "Alice <alice@example.org>" },
	    { "Subject", s } } }
end

-- Runs main, prints a Lua error as a failed assertion, and "# done"
-- when the script ran to its end.
function T.run(main)
	local good, err = xpcall(main, debug.traceback)
	if not good then
		print("not ok - the script ran without a Lua error")
		diag(err)
		os.exit(1)
	end
	print("# done")
end
