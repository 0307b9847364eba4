#!/bin/bash
# Signals and the command line: SIGTERM with a message in hand (it still
# gets its verdict, then a clean exit with no child left and the pid
# file removed), SIGTERM when idle, between two messages of a connection
# and while workers start (prompt), the shutdown_timeout limit, SIGUSR1's
# counters, -n on good and bad configurations, the pid file (the
# parent's pid; a second instance is refused), daemon mode (detach,
# log_file, reload of a relative -f path, log reopening), and a parent
# killed outright (its workers go too, the address is free again).

. "${regress:-$(dirname "$0")/..}/lib.sh"
trap 'mt_cleanup; pm_kill_tree; pm_cleanup' EXIT

[ -n "${MILTERTEST:-}" ] || skip_all "miltertest not found"

RULES=$(cat <<'EOF'
filter phish {
	match = { 'header_subject:(?i)phishtest' }
	action = reject
	reply = "550 5.7.1 Signal test phish"
}
EOF
)
PIDFILE=$WORK/phishmilter.pid

# wait_exit: SIGTERM was sent; waits for the parent (20 s at most, then
# SIGKILL) and sets ST to its exit status.
wait_exit() {
	wait_until 20 pids_gone "$PM_PID" || kill -KILL "$PM_PID"
	wait "$PM_PID"
	ST=$?
}

# --- -n

pm_conf_low "$WORK/good.conf" <<EOF
$RULES
EOF
"$PHISHMILTER" -n -f "$WORK/good.conf" >"$WORK/n.out" 2>&1
is $? 0 "-n on a good configuration exits 0"
pm_conf_low "$WORK/bad.conf" <<'EOF'
filter broken {
	match = { 'header_subject:(unclosed' }
	action = reject
}
EOF
"$PHISHMILTER" -n -f "$WORK/bad.conf" >/dev/null 2>"$WORK/n.err"
is $? 1 "-n on a bad regex exits 1"
line=$(grep -n "(unclosed" "$WORK/bad.conf" | cut -d: -f1)
like "$(cat "$WORK/n.err")" "bad\\.conf:$line: .*\\(unclosed" \
    "... with file:line: ($line) in stderr"
pm_conf_low "$WORK/bad2.conf" <<'EOF'
max_spare = = 3
EOF
"$PHISHMILTER" -n -f "$WORK/bad2.conf" >/dev/null 2>"$WORK/n.err"
is $? 1 "-n on a syntax error exits 1"
line=$(grep -n "= = 3" "$WORK/bad2.conf" | cut -d: -f1)
like "$(cat "$WORK/n.err")" "bad2\\.conf:$line: " \
    "... with file:line: ($line) in stderr"

# --- The pid file, SIGUSR1.

TIMEOUT=30 GRACE=10 pm_conf_low "$WORK/sig.conf" <<EOF
$RULES
EOF
pm_must_start "$WORK/sig.conf"
wait_until 5 test -s "$PIDFILE"
is "$(cat "$PIDFILE" 2>/dev/null)" "$PM_PID" "the pid file holds the parent's pid"

second_port=$(free_port_low)
sed "s/127\\.0\\.0\\.1:$PM_PORT\"/127.0.0.1:$second_port\"/" \
    "$WORK/sig.conf" >"$WORK/second.conf"
timeout 10 "$PHISHMILTER" -d -f "$WORK/second.conf" >"$WORK/second.out" 2>&1
is $? 1 "a second instance with the same pid file exits 1"
like "$(cat "$WORK/second.out")" 'pid file .*(locked|already)' \
    "... saying the pid file is in use"
is "$(cat "$PIDFILE" 2>/dev/null)" "$PM_PID" \
    "the pid file still holds the first instance's pid"
kill -0 "$PM_PID"
ok $? "the first instance still runs"

pm_wait_idle 2
state=$(pm_pool_state)
like "$state" 'generation 1: [0-9]+ workers \([0-9]+ idle, [0-9]+ starting\)' \
    "SIGUSR1 logs the pool"
like "$state" '[0-9]+ spawned, [0-9]+ died abnormally' "... and the counters"

# --- SIGTERM with a message in hand.

mt_hold held "phishtest held"
mt_ready held
ok $? "a message is held mid-transaction"
workers=$(pm_workers)
from=$(log_lines)
kill -TERM "$PM_PID"
wait_until 5 log_has 'shutting down' "$from"
ok $? "SIGTERM: the daemon starts shutting down"
sleep 0.3
kill -0 "$PM_PID" 2>/dev/null
ok $? "it waits for the message in hand"
mt_go held
is "$(mt_verdict held)" verdict=replycode \
    "the message in hand still gets its verdict"
wait_exit
is "$ST" 0 "then the daemon exits 0"
wait_until 5 pids_gone $workers
ok $? "no worker is left"
is "$(pgrep -P "$PM_PID" | wc -l | tr -d ' ')" 0 "no child is left (pgrep)"
test ! -e "$PIDFILE"
ok $? "the pid file is removed"
like "$(tail -n +"$from" "$WORK/log")" 'exiting' "the daemon logs its exit"
PM_PID=

# --- SIGTERM when idle: prompt.

pm_must_start "$WORK/sig.conf" "daemon starts again"
pm_wait_idle 2
workers=$(pm_workers)
t0=$(date +%s%N)
kill -TERM "$PM_PID"
wait_exit
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
is "$ST" 0 "SIGTERM with idle workers: exit status 0"
[ "$ms" -lt 3000 ]
ok $? "... within 3 s (took $ms ms)"
wait_until 5 pids_gone $workers
ok $? "... leaving no worker"
test ! -e "$PIDFILE"
ok $? "... and no pid file"
PM_PID=

# --- SIGTERM the moment the socket answers: handled, not fatal.

fails=0
slow=0
for i in $(seq 20); do
	"$PHISHMILTER" -d -f "$WORK/sig.conf" >>"$WORK/log" 2>&1 &
	PM_PID=$!
	# Probe without a fork or a pause: the signal follows the bind closely.
	j=0
	until exec 3<>"/dev/tcp/127.0.0.1/$PM_PORT"; do
		j=$((j + 1))
		[ $j -gt 20000 ] && break
	done 2>/dev/null
	kill -TERM "$PM_PID"
	t0=$(date +%s%N)
	exec 3>&-
	wait_exit
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$ST" -eq 0 ] && [ ! -e "$PIDFILE" ] || {
		fails=$((fails + 1)); diag "try $i: exit status $ST"; }
	[ "$ms" -lt 3000 ] || { slow=$((slow + 1)); diag "try $i: $ms ms"; }
done
PM_PID=
is "$fails" 0 "SIGTERM as soon as the port answers: exit 0 and no pid file, 20 times"
is "$slow" 0 "... and workers still starting take it too: no exit waited for shutdown_timeout"

# --- SIGTERM with a connection open between two messages: no message
# is in hand, so the daemon need not wait for the MTA to quit.

pm_must_start "$WORK/sig.conf" "daemon starts again"
MT_MODE=idle mt_hold idle "hello idle"
mt_ready idle
ok $? "a connection is held open after its message"
like "$(head -1 "$WORK/idle.out")" '^verdict=accept' "... which got its verdict"
workers=$(pm_workers)
t0=$(date +%s%N)
kill -TERM "$PM_PID"
wait_exit
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
is "$ST" 0 "SIGTERM with an idle connection open: exit status 0"
[ "$ms" -lt 3000 ]
ok $? "... without waiting for the MTA (took $ms ms; shutdown_timeout is 10 s)"
wait_until 5 pids_gone $workers
ok $? "... leaving no worker"
PM_PID=
mt_go idle

# --- Daemon mode (no -d), started with a relative -f path as an rc
# script might: it detaches, logs to log_file, reloads the same file
# although daemon(3) changed its directory, and reopens the log on HUP.

sed -e "s|^pidfile = .*|pidfile = \"$WORK/bg.pid\"|" \
    -e "s|^log_level = .*|log_level = debug\nlog_file = \"$WORK/bg.log\"|" \
    "$WORK/sig.conf" >"$WORK/bg.conf"
PM_PORT=$(sed -nE 's/^listen = "inet:127\.0\.0\.1:([0-9]+)".*/\1/p' "$WORK/bg.conf")
(cd "$WORK" && timeout 10 "$PHISHMILTER" -f bg.conf >"$WORK/bg.out" 2>&1)
is $? 0 "without -d the command returns 0 at once (the daemon detached)"
wait_until 10 test -s "$WORK/bg.pid"
PM_PID=$(cat "$WORK/bg.pid" 2>/dev/null)
like "$PM_PID" '^[0-9]+$' "the detached daemon wrote its pid file"
kill -0 "$PM_PID" 2>/dev/null && pm_wait_workers 2
ok $? "it runs, with its workers"
like "$(tr '\0' ' ' <"/proc/$PM_PID/cmdline" 2>/dev/null)" 'phishmilter' \
    "the pid file names the phishmilter parent"
wait_until 5 port_busy "$PM_PORT"
mkmsg "$WORK/bg.eml" "phishtest detached"
like "$(client "$WORK/bg.eml")" 'reject 550 5.7.1 Signal test phish' \
    "the detached daemon gives verdicts"
like "$(cat "$WORK/bg.log" 2>/dev/null)" 'parent: started' "it logs to log_file"
mv "$WORK/bg.log" "$WORK/bg.log.1"
kill -HUP "$PM_PID"
wait_until 10 grep -sqE 'generation 2: [0-9]+ filters|reload failed' "$WORK/bg.log"
like "$(cat "$WORK/bg.log" 2>/dev/null)" 'generation 2: [0-9]+ filters' \
    "SIGHUP reloads the relatively named file after daemon(3)'s chdir"
grep -q 'reloading' "$WORK/bg.log" 2>/dev/null
ok $? "SIGHUP reopens log_file after it was rotated"
workers=$(pm_workers)
kill -TERM "$PM_PID"
wait_until 10 pids_gone "$PM_PID" $workers
ok $? "SIGTERM: the detached daemon and its workers exit"
test ! -e "$WORK/bg.pid"
ok $? "... and its pid file is removed"
PM_PID=

# --- The parent killed outright: its workers must not live on, holding
# the listening socket with the old rules, so that a restart can bind.

pm_must_start "$WORK/sig.conf" "daemon starts again"
pm_wait_workers 2
workers=$(pm_workers)
kill -KILL "$PM_PID"
wait "$PM_PID" 2>/dev/null
PM_PID=
wait_until 5 pids_gone $workers
ok $? "SIGKILL of the parent: the workers exit too"
wait_until 5 eval "! port_busy $PM_PORT"
ok $? "... and the listening port is released"
"$PHISHMILTER" -d -f "$WORK/sig.conf" >>"$WORK/log" 2>&1 &
PM_PID=$!
wait_until 10 pm_up_or_dead
kill -0 "$PM_PID" 2>/dev/null && port_busy "$PM_PORT"
ok $? "a new daemon starts on the same address"
pm_stop
is $? 0 "daemon stops with status 0"

# --- The parent killed outright while one connection is between two
# messages and another in the middle of one: the message gets its
# verdict, and then every worker exits, the one holding the idle
# connection too.  (Workers learn of the death from a pipe only the
# parent holds a write end of, which hangs up: the same on every
# system.)

pm_must_start "$WORK/sig.conf" "daemon starts again"
pm_wait_idle 2
MT_MODE=idle mt_hold pk_idle "hello idle"
mt_ready pk_idle
mt_hold pk_mid "phishtest parent killed"
mt_ready pk_mid
ok $? "one connection is idle, another mid-message"
workers=$(pm_workers)
kill -KILL "$PM_PID"
wait "$PM_PID" 2>/dev/null
PM_PID=
mt_go pk_mid
is "$(mt_verdict pk_mid)" verdict=replycode \
    "parent killed: the message in hand still gets its verdict"
wait_until 5 pids_gone $workers
ok $? "... and every worker exits, the one with the idle connection too"
mt_go pk_idle

# --- SIGTERM while commands the MTA sent (MAIL, RCPT, headers: none
# answered, all in the socket) wait for a worker that has not read them
# yet: they began a message, which still gets its verdict.  The workers
# are stopped so that the commands are surely unread when the signal
# comes, and continued once it is pending.

# term_pending PID...: SIGTERM is pending for every one of them.
term_pending() {
	local p m
	for p in "$@"; do
		m=$(awk '/^ShdPnd:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		[ -n "$m" ] && [ $((0x$m & 0x4000)) -ne 0 ] || return 1
	done
}

pm_must_start "$WORK/sig.conf" "daemon starts again"
pm_wait_idle 2
MT_MODE=early mt_hold early "phishtest early"
mt_ready early
ok $? "a connection is negotiated"
workers=$(pm_workers)
kill -STOP $workers
mt_go early
wait_until 10 test -e "$WORK/early.ready.sent"
ok $? "MAIL, RCPT and headers are sent while no worker can read them"
kill -TERM "$PM_PID"
wait_until 5 term_pending $workers
ok $? "SIGTERM reaches the stopped workers"
kill -CONT $workers
: >"$WORK/early.go2"
is "$(mt_verdict early)" verdict=replycode \
    "the message those commands began still gets its verdict"
wait_exit
is "$ST" 0 "then the daemon exits 0"
PM_PID=

# --- A message that does not end within shutdown_timeout.

TIMEOUT=30 GRACE=2 pm_conf_low "$WORK/grace.conf" <<EOF
$RULES
EOF
pm_must_start "$WORK/grace.conf" "daemon with shutdown_timeout = 2 starts"
mt_hold stuck "phishtest stuck"
mt_ready stuck
ok $? "a message is held and never ended"
workers=$(pm_workers)
from=$(log_lines)
t0=$(date +%s%N)
kill -TERM "$PM_PID"
wait_exit
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
is "$ST" 0 "the daemon exits 0 after shutdown_timeout"
[ "$ms" -ge 1500 ] && [ "$ms" -lt 6000 ]
ok $? "... after about 2 s (took $ms ms)"
log_has 'still busy after 2 s: killed' "$from"
ok $? "... logging that it killed the busy worker"
wait_until 5 pids_gone $workers
ok $? "... leaving no worker"
PM_PID=
mt_go stuck
like "$(mt_verdict stuck)" '^error' "the stuck connection was closed"

pm_diag_log
done_testing
