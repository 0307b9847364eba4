#!/bin/bash
# Faults under load, the project's client as the MTA (-c connections at
# once, one message per connection or a few): kill -9 of random workers,
# busy ones first, and SIGHUP to the parent every 100 ms.  Every MTA
# transaction must end either answered or with its connection closed,
# so that the MTA applies its milter_default_action; none may hang (the
# client gives up after 10 s), none may be refused, and the pool must be
# back to min_spare idle workers soon after.  Under SIGHUP no
# transaction may fail at all.
#
# Each phase runs FAULT_SECONDS (default 5; FAULT_SECONDS=60 for the
# full figure) with FAULT_CONC connections (default 4), and prints its
# figures: transactions=N answered=A closed=C failed=F hung=H ...

. "${regress:-$(dirname "$0")/..}/lib.sh"
trap 'pm_kill_tree; pm_cleanup' EXIT

: "${PHISHMILTER:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter}"
: "${CLIENT:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter-client}"
[ -x "$PHISHMILTER" ] || skip_all "no daemon built at $PHISHMILTER"
[ -x "$CLIENT" ] || skip_all "no client built at $CLIENT"

FAULT_SECONDS=${FAULT_SECONDS:-5}
CONC=${FAULT_CONC:-4}

mkdir -p "$WORK/msgs"
mkmsg "$WORK/msgs/a.eml" "phishtest one"
mkmsg "$WORK/msgs/b.eml" "hello two"
mkmsg "$WORK/msgs/c.eml" "phishtest three"
RULES=$(cat <<'EOF'
filter phish {
	match = { 'header_subject:(?i)phishtest' }
	action = reject
	reply = "550 5.7.1 Fault test phish"
}
EOF
)

# figures FILE: the client's output (one line per message, then the
# summary) as "transactions=N answered=A closed=C failed=F hung=H": a
# verdict, a connection the daemon closed, a connection refused, and
# no answer within the client's timeout.
figures() {
	awk '
	/^summary / {
		for (i = 2; i <= NF; i++)
			if (split($i, kv, "=") == 2 && kv[1] == "messages")
				total = kv[2]
		next
	}
	/: error .*timeout/		{ hung++; next }
	/: error connect: /		{ failed++; next }
	/: error /			{ closed++; next }
	/: (accept|reject|tempfail|discard|quarantine)/	{ answered++ }
	END {
		printf "transactions=%d answered=%d closed=%d failed=%d " \
		    "hung=%d\n", total, answered, closed, failed, hung
	}' "$1"
}

field() {	# field LINE NAME: NAME=value's value
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# load SECONDS [CLIENT-ARGS...]: the client in the background, its
# output in $WORK/load.out, its pid in $LOAD_PID.
load() {
	local secs=$1
	shift
	client -t 10 -c "$CONC" -T "$secs" "$@" "$WORK/msgs" \
	    >"$WORK/load.out" 2>&1 &
	LOAD_PID=$!
}

# busy_workers: workers holding a connection (a second socket); one ls
# for all, since the load leaves little CPU time to this loop.
busy_workers() {
	pm_workers | sed 's|.*|/proc/&/fd|' | xargs -r ls -l 2>/dev/null |
	    awk -F'[/:]' '/^\/proc\// { pid = $3; next }
		/socket:/ { if (++n[pid] == 2) print pid }'
}

idle_back() {		# for wait_until: min_spare idle workers
	[ "$(pm_idle)" -ge 2 ] 2>/dev/null
}

pick() {		# pick WORDS...: one at random
	[ $# -gt 0 ] || return 1
	shift $((RANDOM % $#))
	echo "$1"
}

# --- kill -9 of random workers under load, busy ones first, and once,
# halfway, of every worker at once (the OOM killer's way).  max_requests
# is low so that workers are young when they die, as they are on a busy
# server.

TIMEOUT=10 MIN_SPARE=2 MAX_SPARE=4 MAX_WORKERS=8 pm_conf_low "$WORK/kill.conf" <<EOF
max_requests = 100
$RULES
EOF
pm_must_start "$WORK/kill.conf"
pm_wait_idle 2
from=$(log_lines)
load "$FAULT_SECONDS"
# The load takes every CPU: the killer must still keep its pace.
renice -n -10 -p $$ >/dev/null 2>&1
kills=0 empty_since=0 empty_ms=0
half=$(($(date +%s) + FAULT_SECONDS / 2))
while kill -0 "$LOAD_PID" 2>/dev/null; do
	all=$(pm_workers)
	now=$(date +%s%N)
	# The longest time the MTA found no worker at all.
	if [ -z "$all" ]; then
		[ "$empty_since" -eq 0 ] && empty_since=$now
		[ $(((now - empty_since) / 1000000)) -gt "$empty_ms" ] &&
		    empty_ms=$(((now - empty_since) / 1000000))
	else
		empty_since=0
	fi
	if [ "$half" -gt 0 ] && [ "$((now / 1000000000))" -ge "$half" ]; then
		victims=$all
		half=0
	else
		victims=$(pick $(busy_workers)) || victims=$(pick $all)
	fi
	for v in $victims; do
		kill -KILL "$v" 2>/dev/null || continue
		kills=$((kills + 1))
		t_last=$(date +%s%N)
	done
	sleep 0.25
done
renice -n 0 -p $$ >/dev/null 2>&1
wait "$LOAD_PID"
wait_until 30 idle_back
ok $? "kill -9: the pool is back to min_spare idle workers"
recovery=$((($(date +%s%N) - ${t_last:-$(date +%s%N)}) / 1000000))
res=$(figures "$WORK/load.out")
n=$(field "$res" transactions)
diag "kill -9, $FAULT_SECONDS s, $CONC connections: $res kills=$kills" \
    "recovery_ms=$recovery no_worker_ms=$empty_ms"
like "$res" ' failed=0 hung=0$' "kill -9: no transaction hung or was refused"
[ "$n" -gt 0 ] && [ $(($(field "$res" answered) + $(field "$res" closed))) -eq "$n" ]
ok $? "kill -9: every transaction answered or its connection closed ($n)"
[ "$(field "$res" closed)" -le "$kills" ]
ok $? "kill -9: no more connections closed than workers killed ($kills)"
[ "$kills" -ge 1 ] && [ "$(field "$res" answered)" -gt "$kills" ]
ok $? "kill -9: $kills workers killed, most transactions answered"
[ "$recovery" -lt 5000 ]
ok $? "kill -9: pool recovered within 5 s of the last kill ($recovery ms)"
[ "$empty_ms" -lt 3000 ]
ok $? "kill -9: never 3 s without a worker (at most $empty_ms ms)"
# A worker killed once it has served is not a start-up failure:
# throttling the pool for it would leave the MTA with no worker.
throttled=$(tail -n +"$from" "$WORK/log" | awk '
	/\]: worker: .*: negotiated / {
		sub(/^[^[]*\[/, ""); sub(/\].*/, ""); served[$0] = 1; next }
	/died at start-up/ {
		sub(/.*worker /, ""); sub(/ .*/, ""); if ($0 in served) n++ }
	END { print n + 0 }')
is "$throttled" 0 "kill -9: no worker that had served is taken for a start-up failure"
like "$(pm_pool_state)" " [1-9][0-9]* died abnormally" \
    "kill -9: SIGUSR1's counters count the killed workers"
like "$(client -t 10 "$WORK/msgs/a.eml")" 'reject 550 5.7.1 Fault test phish' \
    "kill -9: then a new connection gets its verdict"
kill -0 "$PM_PID"
ok $? "kill -9: the parent is alive"
pm_stop
is $? 0 "kill -9: the daemon stops with status 0"

# --- SIGHUP every 100 ms under load: five messages per connection, so
# that connections live across reloads.

: >"$WORK/log"
TIMEOUT=10 MIN_SPARE=2 MAX_SPARE=4 MAX_WORKERS=8 pm_conf_low "$WORK/hup.conf" <<EOF
$RULES
EOF
pm_must_start "$WORK/hup.conf"
pm_wait_idle 2
load "$FAULT_SECONDS" -M 5
hups=0
while kill -0 "$LOAD_PID" 2>/dev/null; do
	kill -HUP "$PM_PID" && hups=$((hups + 1))
	sleep 0.1
done
wait "$LOAD_PID"
res=$(figures "$WORK/load.out")
n=$(field "$res" transactions)
gens=$(grep -c 'parent: generation [0-9]*: [0-9]* filters' "$WORK/log")
diag "SIGHUP every 100 ms, $FAULT_SECONDS s, $CONC connections: $res" \
    "hups=$hups generations=$((gens + 1))"
[ "$n" -gt 0 ] && [ "$(field "$res" answered)" -eq "$n" ]
ok $? "SIGHUP storm: zero failed transactions ($n answered)"
[ "$hups" -ge 5 ] && [ "$gens" -ge 2 ]
ok $? "SIGHUP storm: $hups signals, $gens reloads"
is "$(log_count 'killed by signal|exited with status [1-9]|died at start-up|reload failed')" 0 \
    "SIGHUP storm: no worker died, no reload failed"
last=$(grep 'parent: generation [0-9]*: [0-9]* filters' "$WORK/log" | tail -1 |
    sed -E 's/.*generation ([0-9]+):.*/\1/')
old_gone() {	# every worker is of the last generation
	local w
	for w in $(pm_workers); do
		grep -q "\[$w\]: worker: ready, generation $last," "$WORK/log" ||
		    return 1
	done
}
wait_until 20 old_gone
ok $? "SIGHUP storm: the older generations' workers all exit"
wait_until 10 idle_back
ok $? "SIGHUP storm: min_spare idle workers of the last generation"
like "$(client -t 10 "$WORK/msgs/a.eml")" 'reject 550 5.7.1 Fault test phish' \
    "SIGHUP storm: then a new connection gets its verdict"
pm_stop
is $? 0 "SIGHUP storm: the daemon stops with status 0"

pm_diag_log
done_testing
