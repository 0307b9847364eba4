#!/bin/bash
# The worker pool: min_spare idle workers at start, growth under
# concurrent connections held open mid-message, the max_workers ceiling,
# trimming back to max_spare, retirement after max_requests, a busy
# worker killed with SIGKILL, and throttled respawn of workers that die
# at start-up.

. "${regress:-$(dirname "$0")/..}/lib.sh"
trap 'mt_cleanup; pm_kill_tree; pm_cleanup' EXIT

[ -n "${MILTERTEST:-}" ] || skip_all "miltertest not found"

RULES=$(cat <<'EOF'
filter phish {
	match = { 'header_subject:(?i)phishtest' }
	action = reject
	reply = "550 5.7.1 Pool test phish"
}
EOF
)

# verdict_pids: the pids of the workers that logged verdicts, in order.
verdict_pids() {
	grep -E 'verdict=' "$WORK/log" |
	    sed -nE 's/^[^[]*\[([0-9]+)\].*/\1/p'
}

count_workers() {
	pm_workers | wc -l | tr -d ' '
}

workers_are() {		# for wait_until: exactly N workers
	[ "$(count_workers)" -eq "$1" ]
}

idle_is() {		# for wait_until: exactly N idle workers
	[ "$(pm_idle)" = "$1" ]
}

any_ready() {		# for wait_until: one of these connections is held
	local c
	for c in "$@"; do [ -e "$WORK/$c.ready" ] && return 0; done
	return 1
}

# --- Growth, ceiling and trim: min_spare 2, max_spare 3, max_workers 7.

TIMEOUT=30 MIN_SPARE=2 MAX_SPARE=3 MAX_WORKERS=7 pm_conf_low "$WORK/pool.conf" <<EOF
$RULES
EOF
pm_must_start "$WORK/pool.conf"

pm_wait_idle 2
ok $? "min_spare (2) idle workers after start"
# The probes that saw the daemon start took workers, and spares were
# started for them: an excess over max_spare goes within a few seconds.
at_most_3() { [ "$(count_workers)" -le 3 ]; }
wait_until 5 at_most_3
ok $? "no more than max_spare (3) workers while idle ($(count_workers))"

# 3 x min_spare connections, each held open in the middle of a message.
for i in 1 2 3 4 5 6; do
	case $i in 1|3|5) s="phishtest $i";; *) s="hello $i";; esac
	mt_hold "c$i" "$s"
done
n=0
for i in 1 2 3 4 5 6; do mt_ready "c$i" && n=$((n + 1)); done
is "$n" 6 "6 concurrent connections are all mid-message at once"

# Sample the pool size for a while under load.
max=0
i=0
while [ $i -lt 10 ]; do
	c=$(count_workers)
	[ "$c" -gt "$max" ] && max=$c
	i=$((i + 1))
	sleep 0.05
done
[ "$max" -ge 6 ]
ok $? "the pool grew to serve them (largest seen: $max workers)"
[ "$max" -le 7 ]
ok $? "never more than max_workers (7) workers (largest seen: $max)"
wait_until 5 idle_is 1
ok $? "the one spare worker max_workers allows is idle"

# Two more connections: one gets the last worker, one waits its turn.
mt_hold c7 "phishtest 7"
mt_hold c8 "hello 8"
wait_until 10 any_ready c7 c8
ok $? "a 7th connection is served while 6 are held"
sleep 0.5
n=0
for i in 7 8; do [ -e "$WORK/c$i.ready" ] && n=$((n + 1)); done
is "$n" 1 "an 8th connection waits: max_workers are all busy"
is "$(count_workers)" 7 "still exactly max_workers workers"

t0=$(date +%s%N)
for i in 1 2 3 4 5 6 7 8; do mt_go "c$i"; done
for i in 1 2 3 4 5 6 7 8; do
	case $i in 1|3|5|7) want=verdict=replycode;; *) want=verdict=accept;; esac
	is "$(mt_verdict "c$i")" "$want" "held connection $i: right verdict"
done

# Idle workers are retired one a second, not all at once (which made a
# pool under a steady load of short connections kill and start workers
# all the time): at least half a second after the load, no more than
# one worker a second since has gone of the 4 over max_spare.
while [ $((($(date +%s%N) - t0) / 1000000)) -lt 500 ]; do sleep 0.1; done
n=$(count_workers)
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$n" -ge $((7 - 1 - ms / 1000)) ]
ok $? "idle workers are retired one a second ($n workers left after $ms ms)"

wait_until 10 workers_are 3
ok $? "idle workers trimmed back to max_spare (3) after the load"
diag "$(pm_pool_state)"
wait_until 5 idle_is 3
ok $? "the 3 remaining workers are idle"

# --- kill -9 of a busy worker.

from=$(log_lines)
mt_hold k1 "phishtest kill"
mt_ready k1
ok $? "a connection is held mid-message"
wait_until 5 log_has 'negotiated' "$from"
victim=$(tail -n +"$from" "$WORK/log" | grep negotiated |
    sed -nE 's/^[^[]*\[([0-9]+)\].*/\1/p' | tail -1)
like "$victim" '^[0-9]+$' "the busy worker is known ($victim)"
pm_workers | grep -qx "$victim"
ok $? "it is a child of the daemon"
kill -KILL "$victim"
wait_until 5 log_has "worker $victim killed by signal 9 while busy" "$from"
ok $? "the daemon logs the busy worker's death"
mt_go k1
like "$(mt_verdict k1)" '^error' "the held connection was cut (expected)"
mkmsg "$WORK/a.eml" "phishtest after kill"
like "$(client "$WORK/a.eml")" 'reject 550 5.7.1 Pool test phish' \
    "the next connection is served"
pm_wait_idle 2
ok $? "the pool is restored to min_spare idle workers"
like "$(pm_pool_state)" ' [1-9][0-9]* died abnormally' \
    "SIGUSR1's counters count the killed worker"
kill -0 "$PM_PID"
ok $? "the parent survived"
pm_stop
is $? 0 "daemon stops with status 0"

# --- max_requests = 2: one worker at a time, so the pid must change.

MIN_SPARE=1 MAX_SPARE=1 MAX_WORKERS=1 pm_conf_low "$WORK/req.conf" <<EOF
max_requests = 2
$RULES
EOF
: >"$WORK/log"
pm_must_start "$WORK/req.conf" "daemon with max_requests = 2 starts"
mkmsg "$WORK/b.eml" "hello"
for i in 1 2 3 4 5; do
	client "$WORK/b.eml" >/dev/null
done
pids=$(verdict_pids)
diag "served by:$pids"
is "$(echo $pids | wc -w | tr -d ' ')" 5 "5 connections served, one after another"
most=$(echo $pids | tr ' ' '\n' | sort | uniq -c | sort -rn |
    awk 'NR == 1 { print $1 }')
[ "${most:-9}" -le 2 ]
ok $? "no worker served more than max_requests (2) connections"
[ "$(echo $pids | tr ' ' '\n' | sort -u | wc -l)" -ge 2 ]
ok $? "the serving worker's pid changes"
like "$(grep -c 'exiting after 2 connections' "$WORK/log")" '^[1-9]' \
    "a worker logs its retirement after 2 connections"
pm_stop
is $? 0 "daemon stops with status 0"

# --- Workers that die at start-up are throttled.

MIN_SPARE=1 pm_conf_low "$WORK/die.conf" <<EOF
chroot = "$WORK/no/such/dir"
$RULES
EOF
: >"$WORK/log"
pm_must_start "$WORK/die.conf" \
    "daemon starts with a chroot that does not exist"
sleep 3
n=$(log_count 'chroot .*no/such/dir')
diag "worker start-up failures in 3 s: $n"
[ "$n" -ge 1 ] && [ "$n" -le 4 ]
ok $? "start-up failures are throttled: $n in 3 s (1 to 4 allowed)"
like "$(grep 'died at start-up' "$WORK/log" | tail -1)" \
    'next start in [0-9]+ ms' "the throttle is logged"
kill -0 "$PM_PID"
ok $? "the parent stays alive"

# Mending the configuration and reloading lifts the throttle at once
# (the last delay logged was several seconds).
sed -i '/^chroot = /d' "$WORK/die.conf"
from=$(log_lines)
t0=$(date +%s%N)
kill -HUP "$PM_PID"
wait_until 10 log_has 'worker: ready, generation 2' "$from"
ok $? "after a reload with the chroot removed, a worker starts"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 2000 ]
ok $? "... without waiting out the throttle (took $ms ms)"
like "$(client "$WORK/a.eml")" 'reject 550 5.7.1 Pool test phish' \
    "and the daemon serves again"
pm_stop
is $? 0 "daemon stops with status 0"

# --- A connection that falls silent beyond timeout is closed; its worker
# lives on and serves the next one.

TIMEOUT=1 MIN_SPARE=1 MAX_SPARE=1 MAX_WORKERS=1 pm_conf_low "$WORK/to.conf" <<EOF
$RULES
EOF
: >"$WORK/log"
pm_must_start "$WORK/to.conf" "daemon with timeout = 1 and one worker starts"
pm_wait_idle 1
w=$(pm_workers)
mt_hold silent "phishtest silent"
mt_ready silent
ok $? "a connection goes silent mid-message"
wait_until 5 log_has 'connection closed: timeout'
ok $? "after the timeout the worker closes it and logs why"
mt_go silent
like "$(mt_verdict silent)" '^error' "the silent peer finds its connection closed"
like "$(client "$WORK/a.eml")" 'reject 550 5.7.1 Pool test phish' \
    "the next connection is served"
is "$(pm_workers)" "$w" "by the same worker, which survived"
pm_stop
is $? 0 "daemon stops with status 0"

pm_diag_log
done_testing
