# Shared by the script tests: TAP output, a scratch directory, free
# ports on 127.0.0.1, and starting/stopping the built daemon with a
# configuration written for the test.  Sourced, never run.

set -u

T_N=0
T_FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pmtest.XXXXXX")
PM_PID=
PM_PORT=

# Workers first: once the parent is gone they are no longer its children.
pm_cleanup() {
	[ -n "$PM_PID" ] && pkill -KILL -P "$PM_PID" 2>/dev/null
	[ -n "$PM_PID" ] && kill -KILL "$PM_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap pm_cleanup EXIT

ok() {		# ok STATUS DESCRIPTION: STATUS 0 passes
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_N - $2"
	else
		T_FAILED=$((T_FAILED + 1))
		echo "not ok $T_N - $2"
	fi
}

is() {		# is GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"; echo "#   got:  '$1'"; echo "#   want: '$2'"
	fi
}

like() {	# like GOT EXTENDED-REGEX DESCRIPTION
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else
		ok 1 "$3"; echo "#   got:  '$1'"; echo "#   want: /$2/"
	fi
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

done_testing() {
	# Under the sanitizers of CI, any report by a daemon process fails.
	if grep -aqE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
	    "$WORK/log" 2>/dev/null; then
		ok 1 "no sanitizer report in the daemon's log"
		grep -aE -A20 'Sanitizer|runtime error:' "$WORK/log" |
		    head -40 | sed 's/^/# /'
	fi
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
	exit $?
}

diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A free port below the kernel's ephemeral range (32768 and up unless
# ip_local_port_range says otherwise), so that no outgoing connection of
# a concurrent test can take it between the choice and the bind.
free_port() {
	local lo=32768 p
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null
	[ "${lo:-0}" -gt 12000 ] || lo=32768
	while :; do
		p=$((10000 + RANDOM % (lo - 10000)))
		port_busy "$p" || { echo "$p"; return; }
	done
}

# The unprivileged user workers run as: nobody when the tests run as
# root, else the user running them.
pm_user() {
	if [ "$(id -u)" -eq 0 ]; then echo nobody; else id -un; fi
}

# pm_conf FILE [extra configuration text on stdin]: a configuration
# listening on a fresh port, logging to $WORK/log.
pm_conf() {
	PM_PORT=$(free_port)
	{
		cat <<EOF
listen = "inet:127.0.0.1:$PM_PORT"
user = "$(pm_user)"
pidfile = "$WORK/phishmilter.pid"
min_spare = ${MIN_SPARE:-2}
max_spare = ${MAX_SPARE:-4}
max_workers = ${MAX_WORKERS:-16}
timeout = ${TIMEOUT:-10}
shutdown_timeout = ${GRACE:-10}
skip_networks = { "192.0.2.200/32" }
log_level = debug
EOF
		cat
	} >"$1"
}

# pm_start CONF: runs the daemon in the foreground (logs in $WORK/log)
# and waits until it answers on its port.
pm_start() {
	"$PHISHMILTER" -d -f "$1" >>"$WORK/log" 2>&1 &
	PM_PID=$!
	pm_wait_port "$PM_PORT"
}

pm_wait_port() {
	local i=0
	while ! port_busy "$1"; do
		i=$((i + 1))
		[ $i -gt 100 ] && { diag "daemon did not start:";
		    diag "$(tail -20 "$WORK/log")"; return 1; }
		sleep 0.1
	done
}

# pm_stop: SIGTERM and wait; returns the daemon's exit status.
pm_stop() {
	local st
	[ -n "$PM_PID" ] || return 0
	kill -TERM "$PM_PID" 2>/dev/null
	wait "$PM_PID"
	st=$?
	PM_PID=
	return $st
}

# Children of the daemon (workers), one pid per line.
pm_workers() {
	pgrep -P "$PM_PID" 2>/dev/null
}

# pm_wait_workers N: until N workers exist (5 s at most).
pm_wait_workers() {
	local i=0
	while [ "$(pm_workers | wc -l)" -lt "$1" ]; do
		i=$((i + 1)); [ $i -gt 50 ] && return 1
		sleep 0.1
	done
}

# client [args...]: the project's client against the test daemon.
client() {
	"$CLIENT" -s "inet:127.0.0.1:$PM_PORT" "$@"
}

# mkmsg FILE SUBJECT [FROM]: a small message.
mkmsg() {
	cat >"$1" <<EOF
From: ${3:-Alice <alice@example.org>}
To: Bob <bob@example.net>
Subject: $2
Message-ID: <$(date +%s%N)@example.org>
Date: Sun, 22 Nov 2026 10:00:00 +0000

Hello.
EOF
}

# --- Process tests (proc/, e2e/): polling, log reading, held connections.

# wait_until SECONDS COMMAND...: runs COMMAND every 0.1 s until it
# succeeds; returns 1 if it never did within SECONDS.
wait_until() {
	local n=$(($1 * 10)) i=0
	shift
	until "$@"; do
		i=$((i + 1))
		[ $i -ge $n ] && return 1
		sleep 0.1
	done
}

# log_count REGEX: how many lines of $WORK/log match (extended regex).
log_count() {
	grep -Ec -- "$1" "$WORK/log" 2>/dev/null || true
}

# log_has REGEX [FROM]: a line of $WORK/log from line FROM on matches.
log_has() {
	tail -n +"${2:-1}" "$WORK/log" 2>/dev/null | grep -Eq -- "$1"
}

# log_lines: the current length of $WORK/log, for log_has's FROM.
log_lines() {
	echo $(($(cat "$WORK/log" 2>/dev/null | wc -l) + 1))
}

# pm_pool_state: sends SIGUSR1 and prints the counters line the parent
# logs ("generation G: N workers (I idle, S starting), ...").
pm_pool_state() {
	local from
	from=$(log_lines)
	kill -USR1 "$PM_PID" 2>/dev/null || return 1
	wait_until 5 log_has 'parent: generation [0-9]+: [0-9]+ workers' \
	    "$from" || return 1
	tail -n +"$from" "$WORK/log" |
	    grep -E 'parent: generation [0-9]+: [0-9]+ workers' | tail -1
}

# pm_idle: the number of idle workers of the current generation.
pm_idle() {
	pm_pool_state | sed -nE 's/.*workers \(([0-9]+) idle.*/\1/p'
}

# pm_wait_idle N: until at least N workers are idle (10 s at most).
pm_wait_idle() {
	local i=0 n
	while :; do
		n=$(pm_idle)
		[ "${n:-0}" -ge "$1" ] && return 0
		i=$((i + 1))
		[ $i -gt 50 ] && return 1
		sleep 0.2
	done
}

# mt_hold NAME SUBJECT [FROM]: a miltertest run in the background that
# opens a connection to $MT_SOCK (default: the test daemon's port),
# sends a message up to its headers, creates $WORK/NAME.ready, waits for
# $WORK/NAME.go (mt_go), then ends the message and writes
# "verdict=accept|replycode|reject|tempfail|..." (or "error: ...") to
# $WORK/NAME.out.  The connection stays open, mid-message, in between.
# With MT_MODE=idle the message is ended first, and the connection is
# held between messages instead (ready: verdict known; go: QUIT).  With
# MT_MODE=early it is held after the negotiation (ready, go) and again
# once the message up to its headers is sent (NAME.ready.sent, NAME.go2).
# SIGPIPE is ignored so that a connection the daemon cuts shows as an
# error instead of a silent death.
mt_hold() {
	[ -f "$WORK/hold.lua" ] || mt_hold_script >"$WORK/hold.lua"
	rm -f "$WORK/$1.ready" "$WORK/$1.go" "$WORK/$1.out" "$WORK/$1.done" \
	    "$WORK/$1.ready.sent" "$WORK/$1.go2"
	(trap '' PIPE; exec "$MILTERTEST" \
	    -D SOCK="${MT_SOCK:-inet:$PM_PORT@127.0.0.1}" \
	    -D SUBJECT="$2" -D FROM="${3:-Alice <alice@example.org>}" \
	    -D QID="Q$1" -D READY="$WORK/$1.ready" -D GO="$WORK/$1.go" \
	    -D DONE="$WORK/$1.done" -D MODE="${MT_MODE:-mid}" \
	    -s "$WORK/hold.lua" \
	    >"$WORK/$1.out" 2>&1) &
	echo $! >"$WORK/$1.mtpid"
}

# mt_ready NAME: until that connection is mid-message (10 s at most).
mt_ready() {
	wait_until 10 test -e "$WORK/$1.ready"
}

# mt_go NAME: lets that connection end its message.
mt_go() {
	: >"$WORK/$1.go"
}

# mt_verdict NAME: waits (20 s at most) until that miltertest is done
# and prints its verdict ("verdict=...") or its error.  Works in $(...).
mt_verdict() {
	wait_until 20 test -e "$WORK/$1.done" ||
	    echo "error: miltertest $1 did not finish"
	cat "$WORK/$1.out"
}

mt_hold_script() {
	cat <<'EOF'
-- Written by lib.sh's mt_hold: one message, held open mid-message.
local function touch(p) local f = assert(io.open(p, "w")); f:close() end
local function exists(p)
	local f = io.open(p, "r")
	if f then f:close() return true end
	return false
end
local names = {}
names[SMFIR_ACCEPT] = "accept"; names[SMFIR_REJECT] = "reject"
names[SMFIR_TEMPFAIL] = "tempfail"; names[SMFIR_DISCARD] = "discard"
names[SMFIR_REPLYCODE] = "replycode"; names[SMFIR_CONTINUE] = "continue"
local function check(e) if e ~= nil then error(e) end end
local function hold(ready, go)
	touch(ready)
	local waited = 0
	while not exists(go) do
		os.execute("sleep 0.1")
		waited = waited + 1
		if waited > 600 then error("no go after 60 s") end
	end
end
local function main()
	local conn = mt.connect(SOCK, 50, 0.1)
	if conn == nil then error("cannot connect to " .. SOCK) end
	check(mt.negotiate(conn, nil, nil, nil))
	if not mt.test_option(conn, SMFIP_NOCONNECT) then
		check(mt.conninfo(conn, "client.example", "192.0.2.1"))
	end
	if MODE == "early" then hold(READY, GO) end
	check(mt.macro(conn, SMFIC_MAIL, "i", QID))
	check(mt.mailfrom(conn, "<sender@example.org>"))
	if not mt.test_option(conn, SMFIP_NORCPT) then
		check(mt.rcptto(conn, "<rcpt@example.net>"))
	end
	if not mt.test_option(conn, SMFIP_NOHDRS) then
		check(mt.header(conn, "From", FROM))
		check(mt.header(conn, "To", "<rcpt@example.net>"))
		check(mt.header(conn, "Subject", SUBJECT))
	end
	if MODE == "early" then hold(READY .. ".sent", GO .. "2")
	elseif MODE ~= "idle" then hold(READY, GO) end
	if not mt.test_option(conn, SMFIP_NOEOH) then check(mt.eoh(conn)) end
	if not mt.test_option(conn, SMFIP_NOBODY) then
		check(mt.bodystring(conn, "Hello.\r\n"))
	end
	check(mt.eom(conn))
	local r = mt.getreply(conn)
	print("verdict=" .. (names[r] or tostring(r)))
	if MODE == "idle" then io.stdout:flush(); hold(READY, GO) end
	mt.disconnect(conn)
end
local good, err = xpcall(main, debug.traceback)
if not good then print("error: " .. tostring(err)) end
io.stdout:flush()
touch(DONE)
if not good then os.exit(1) end
EOF
}

# mt_cleanup: ends the miltertest runs mt_hold started that still run.
mt_cleanup() {
	local f
	for f in "$WORK"/*.mtpid; do
		[ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
	done
	return 0
}

# pm_start_retry CONF: pm_start that does not wait for a daemon that
# died, and that moves CONF to another port when the daemon found its
# port taken (free_port's range overlaps the ephemeral ports of other
# tests' connections, so a port can be taken between the two).
pm_start_retry() {
	local try=0 from new
	while [ $try -lt 5 ]; do
		from=$(log_lines)
		"$PHISHMILTER" -d -f "$1" >>"$WORK/log" 2>&1 &
		PM_PID=$!
		wait_until 10 pm_up_or_dead
		if kill -0 "$PM_PID" 2>/dev/null; then
			port_busy "$PM_PORT" && return 0
			break
		fi
		wait "$PM_PID" 2>/dev/null
		PM_PID=
		log_has 'Address already in use' "$from" || break
		new=$(free_port_low)
		sed -i "s/127\\.0\\.0\\.1:$PM_PORT\"/127.0.0.1:$new\"/" "$1"
		PM_PORT=$new
		try=$((try + 1))
	done
	diag "daemon did not start:"
	diag "$(tail -20 "$WORK/log")"
	return 1
}

pm_up_or_dead() {	# for wait_until
	! kill -0 "$PM_PID" 2>/dev/null || port_busy "$PM_PORT"
}

# pm_must_start CONF [DESCRIPTION]: one assertion; a daemon that does
# not start ends the test (the rest would only time out).
pm_must_start() {
	pm_start_retry "$1"
	ok $? "${2:-daemon starts}"
	[ -n "$PM_PID" ] && kill -0 "$PM_PID" 2>/dev/null && return 0
	echo "Bail out! the daemon did not start"
	exit 1
}

# pids_gone PID...: none of them is alive (a zombie counts as gone: an
# orphan's zombie may wait for a container's init to reap it).
pids_gone() {
	local p
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null || continue
		grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null ||
		    return 1
	done
	return 0
}

# free_port_low: kept for the scripts that name it; free_port is low.
free_port_low() {
	free_port
}

# pm_conf_low FILE: pm_conf with a port from free_port_low.
pm_conf_low() {
	local new
	pm_conf "$1"
	new=$(free_port_low)
	sed -i "s/127\\.0\\.0\\.1:$PM_PORT\"/127.0.0.1:$new\"/" "$1"
	PM_PORT=$new
}

# pm_diag_log: the end of the daemon's log as TAP comments, when an
# assertion failed (call before done_testing).
pm_diag_log() {
	[ "$T_FAILED" -eq 0 ] && return 0
	diag "last lines of the daemon's log:"
	diag "$(tail -40 "$WORK/log" 2>/dev/null)"
}

# pm_kill_tree: SIGKILL to the daemon's workers, then to the daemon
# (in that order: once the parent is gone, pkill -P finds no child).
pm_kill_tree() {
	[ -n "${PM_PID:-}" ] || return 0
	pkill -KILL -P "$PM_PID" 2>/dev/null
	kill -KILL "$PM_PID" 2>/dev/null
	return 0
}
