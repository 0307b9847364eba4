# Shared by the script tests: TAP output, a scratch directory, free
# ports on 127.0.0.1, and starting/stopping the built daemon with a
# configuration written for the test.  Sourced, never run.

set -u

T_N=0
T_FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pmtest.XXXXXX")
PM_PID=
PM_PORT=

pm_cleanup() {
	[ -n "$PM_PID" ] && kill -KILL "$PM_PID" 2>/dev/null
	[ -n "$PM_PID" ] && pkill -KILL -P "$PM_PID" 2>/dev/null
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

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
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
