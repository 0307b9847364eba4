#!/bin/bash
# Resources running out: a full disk under the log (standard error on
# /dev/full in the foreground; log_file on a full file system when one
# can be mounted, else on /dev/full), and too few file descriptors (a
# low ulimit -n at start; workers, then the parent, pushed to their
# limit at run time with prlimit).  The daemon must go on answering
# with the right verdicts, reloading and stopping cleanly; at start it
# either serves or refuses with a message, and never sits on an address
# that accepts connections but answers none; logging resumes when the
# disk has room again; a worker out of descriptors neither spins nor
# floods the log, and takes the waiting connection once it can.

. "${regress:-$(dirname "$0")/..}/lib.sh"
MNT=
trap 'pm_kill_tree; [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; pm_cleanup' EXIT

: "${PHISHMILTER:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter}"
: "${CLIENT:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter-client}"
[ -x "$PHISHMILTER" ] || skip_all "no daemon built at $PHISHMILTER"
[ -x "$CLIENT" ] || skip_all "no client built at $CLIENT"
[ -w /dev/full ] || skip_all "no /dev/full"

# rules WORD: a filter that rejects subjects with WORD.
rules() {
	cat <<EOF
filter phish {
	match = { 'header_subject:(?i)$1' }
	action = reject
	reply = "550 5.7.1 Rejected: $1"
}
EOF
}
mkdir -p "$WORK/msgs"
mkmsg "$WORK/msgs/alpha.eml" "alpha offer"
mkmsg "$WORK/msgs/beta.eml" "beta offer"

# verdicts: the client's verdicts on both messages, "alpha;beta".
verdicts() {
	client -t 10 "$WORK/msgs/alpha.eml" "$WORK/msgs/beta.eml" 2>&1 |
	    sed -e 's/^[^:]*: //' -e 's/ 550 5.7.1 Rejected: .*//' |
	    tr '\n' ';' | sed 's/;$//'
}

# load N: N messages over 2 connections; the summary line.
load() {
	client -q -t 10 -c 2 -N "$1" "$WORK/msgs" | grep '^summary '
}

# reload_to WORD CONF: the rules now reject WORD; SIGHUP, and wait until
# a new connection sees it.
reload_to() {
	rules "$1" >"$WORK/rules.conf"
	kill -HUP "$PM_PID"
	wait_until 10 reloaded "$1"
}
reloaded() {
	case $1 in
	alpha) [ "$(verdicts)" = "reject;accept" ];;
	beta) [ "$(verdicts)" = "accept;reject" ];;
	esac
}

conf_for() {	# conf_for FILE [EXTRA]: rules from $WORK/rules.conf
	pm_conf_low "$1" <<EOF
${2:-}
include("$WORK/rules.conf")
EOF
}

rules alpha >"$WORK/rules.conf"

# --- Standard error on /dev/full: every log line fails with ENOSPC.

conf_for "$WORK/full.conf"
"$PHISHMILTER" -d -f "$WORK/full.conf" >/dev/full 2>&1 &
PM_PID=$!
wait_until 10 port_busy "$PM_PORT"
ok $? "stderr on /dev/full: the daemon starts"
pm_wait_workers 2
is "$(verdicts)" "reject;accept" "stderr on /dev/full: verdicts"
like "$(load 200)" 'messages=200 errors=0 accept=100 reject=100 ' \
    "stderr on /dev/full: 200 messages, none lost"
reload_to beta
ok $? "stderr on /dev/full: SIGHUP reloads"
kill -USR1 "$PM_PID"
is "$(verdicts)" "accept;reject" "stderr on /dev/full: verdicts after SIGUSR1"
pm_stop
is $? 0 "stderr on /dev/full: SIGTERM, exit status 0"

# --- log_file on a full file system, detached; then room again.

rules alpha >"$WORK/rules.conf"
mkdir -p "$WORK/full"
if mount -t tmpfs -o size=256k tmpfs "$WORK/full" 2>/dev/null; then
	MNT=$WORK/full
	LOGFILE=$MNT/phishmilter.log
	dd if=/dev/zero of="$MNT/filler" bs=4k >/dev/null 2>&1
	: >"$LOGFILE" 2>/dev/null
	what="log_file on a full file system"
else
	LOGFILE=/dev/full
	what="log_file /dev/full"
	diag "cannot mount a tmpfs: $what"
fi
conf_for "$WORK/bg.conf" "log_file = \"$LOGFILE\""
"$PHISHMILTER" -f "$WORK/bg.conf" >"$WORK/bg.out" 2>&1
is $? 0 "$what: the daemon detaches, exit 0"
wait_until 10 test -s "$WORK/phishmilter.pid"
PM_PID=$(cat "$WORK/phishmilter.pid" 2>/dev/null)
wait_until 10 port_busy "$PM_PORT"
pm_wait_workers 2
ok $? "$what: the daemon runs"
is "$(verdicts)" "reject;accept" "$what: verdicts"
like "$(load 200)" 'messages=200 errors=0 accept=100 reject=100 ' \
    "$what: 200 messages, none lost"
reload_to beta
ok $? "$what: SIGHUP reloads (and reopens the log)"
if [ -n "$MNT" ]; then
	rm -f "$MNT/filler"
	kill -USR1 "$PM_PID"
	wait_until 10 grep -q 'parent: generation 2: [0-9]* workers' "$LOGFILE"
	ok $? "$what: once there is room, lines are logged again"
fi
workers=$(pm_workers)
kill -TERM "$PM_PID"
wait_until 20 pids_gone "$PM_PID" $workers
ok $? "$what: SIGTERM ends the daemon and its workers"
test ! -e "$WORK/phishmilter.pid"
ok $? "$what: the pid file is removed"
PM_PID=

# --- ulimit -n from 3 to 14 at start: each start serves, or exits
# non-zero saying why; none may listen without answering.

rules alpha >"$WORK/rules.conf"
conf_for "$WORK/nofile.conf"
outcomes=
# LeakSanitizer needs descriptors at exit, which the limit denies: it
# then stalls the process that failed to start, still listening.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
pm_gone() {	# for wait_until
	! kill -0 "$PM_PID" 2>/dev/null
}
for n in 3 4 5 6 7 8 9 10 11 12 13 14; do
	: >"$WORK/nofile.log"
	(ulimit -n "$n" && exec "$PHISHMILTER" -d -f "$WORK/nofile.conf") \
	    >"$WORK/nofile.log" 2>&1 </dev/null &
	PM_PID=$!
	wait_until 10 pm_up_or_dead
	# The address is bound before the rest of the start-up, which may
	# still fail: only a daemon that stays and answers serves.
	if ! pm_gone && [ "$(verdicts)" = "reject;accept" ]; then
		outcomes="$outcomes $n:served"
		pm_stop
	elif wait_until 10 pm_gone; then
		wait "$PM_PID"
		st=$?
		if [ "$st" -ne 0 ] && grep -Eq 'Too many open files|Error 24' \
		    "$WORK/nofile.log"; then
			outcomes="$outcomes $n:refused"
		else
			outcomes="$outcomes $n:died($st)"
			diag "ulimit -n $n: $(cat "$WORK/nofile.log")"
		fi
	else
		outcomes="$outcomes $n:hung"
		diag "ulimit -n $n: $(tail -5 "$WORK/nofile.log")"
		pm_stop
	fi
	PM_PID=
	wait_until 10 eval "! port_busy $PM_PORT"
done
diag "ulimit -n at start:$outcomes"
like "$outcomes" '^( [0-9]+:(refused|served))+$' \
    "ulimit -n 3 to 14: every start serves or refuses with a message"
like "$outcomes" ' 14:served$' "ulimit -n 14 is enough to serve"

# --- At run time, the parent at its descriptor limit: a reload cannot
# open the configuration, is refused, and the old generation serves on.

skip_rest() {
	echo "ok $((T_N + 1)) # SKIP $*"
	T_N=$((T_N + 1))
	pm_stop
	pm_diag_log
	done_testing
}
command -v prlimit >/dev/null || skip_rest "prlimit(1) not found"

# lowest_free PID: the lowest descriptor number the process has free.
lowest_free() {
	local i=0
	while [ -e "/proc/$1/fd/$i" ]; do i=$((i + 1)); done
	echo "$i"
}
cputime() {	# cputime PID: user + system clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
soft_nofile() {	# soft_nofile PID: its soft limit on descriptors
	awk '/^Max open files/ { print $4 }' "/proc/$1/limits"
}
two_workers() {	# for wait_until
	[ "$(pm_workers | wc -l)" -eq 2 ]
}

: >"$WORK/log"
MIN_SPARE=2 MAX_SPARE=2 conf_for "$WORK/rt.conf"
pm_must_start "$WORK/rt.conf"
pm_wait_idle 2
soft=$(soft_nofile "$PM_PID")
prlimit --pid "$PM_PID" --nofile="$(lowest_free "$PM_PID")":
from=$(log_lines)
rules beta >"$WORK/rules.conf"
kill -HUP "$PM_PID"
wait_until 10 log_has 'reload failed' "$from"
ok $? "parent out of descriptors: the reload is refused"
is "$(verdicts)" "reject;accept" "parent out of descriptors: generation 1 serves on"
prlimit --pid "$PM_PID" --nofile="$soft":
reload_to beta
ok $? "descriptors back: SIGHUP reloads"

# --- At run time: every worker's descriptor limit lowered to the
# number it holds, so that accept() fails with EMFILE; then raised.

wait_until 10 two_workers
pm_wait_idle 2
workers=$(pm_workers)
soft=$(soft_nofile "$PM_PID")
for w in $workers; do
	# Another user's limits take CAP_SYS_RESOURCE, which a container
	# may not give root.
	prlimit --pid "$w" --nofile="$(lowest_free "$w")": 2>"$WORK/prlimit.err" ||
	    skip_rest "prlimit on a worker: $(head -1 "$WORK/prlimit.err")"
done
from=$(log_lines)
client -t 30 "$WORK/msgs/beta.eml" >"$WORK/waiting.out" 2>&1 &
cpid=$!
wait_until 10 log_has 'accept: Too many open files' "$from"
ok $? "out of descriptors: the workers log accept's EMFILE"
t0=0
for w in $workers; do t0=$((t0 + $(cputime "$w"))); done
sleep 2
t1=0
for w in $workers; do t1=$((t1 + $(cputime "$w"))); done
n=$(tail -n +"$from" "$WORK/log" | grep -c 'accept: Too many open files')
[ "$n" -le 10 ]
ok $? "out of descriptors: no log flood ($n lines in about 2 s)"
ticks=$(getconf CLK_TCK 2>/dev/null || echo 100)
[ $((t1 - t0)) -lt $((ticks / 2)) ]
ok $? "out of descriptors: the workers do not spin ($((t1 - t0)) ticks in 2 s)"
kill -0 "$cpid" 2>/dev/null
ok $? "out of descriptors: the connection waits in the queue"
for w in $workers; do prlimit --pid "$w" --nofile="$soft":; done
wait "$cpid"
like "$(cat "$WORK/waiting.out")" 'beta.eml: reject 550 5.7.1 Rejected: beta' \
    "descriptors back: the waiting connection gets its verdict"
is "$(verdicts)" "accept;reject" "descriptors back: verdicts"

is "$(log_count 'killed by signal|exited with status [1-9]')" 0 \
    "no worker died"
pm_stop
is $? 0 "the daemon stops with status 0"

pm_diag_log
done_testing
