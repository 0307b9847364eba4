#!/usr/bin/env bash
#
# Hostile peers that bash alone cannot play (regress/hostile_mta does):
# 10,000 connections opened at once; a peer that keeps a message going
# with one small packet now and then, each well within timeout, which
# message_timeout must cut; and a filter with a catastrophically
# backtracking pattern, which match_limit must cut.  After each, the
# daemon answers a normal client with the right verdict, no worker has
# died, and the pool is back between min_spare and max_spare workers.

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/lib.sh"

: "${PHISHMILTER:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter}"
: "${CLIENT:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter-client}"
: "${HOSTILE_MTA:=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}/regress/hostile_mta}"

[ -x "$PHISHMILTER" ] || skip_all "no daemon built at $PHISHMILTER"
[ -x "$CLIENT" ] || skip_all "no client built at $CLIENT"
[ -x "$HOSTILE_MTA" ] || skip_all "no regress/hostile_mta built"

export LC_ALL=C
MIN_SPARE=2 MAX_SPARE=4 MAX_WORKERS=8 TIMEOUT=10
export MIN_SPARE MAX_SPARE MAX_WORKERS TIMEOUT
FLOOD=${FLOOD:-10000}
REJECT="reject 550 5.7.1 Message rejected as phishing (r1)"

# hmta ARGS...: hostile_mta against the test daemon; its first line in
# $GOT (the verdict, or "closed: why"), its milliseconds in $MS.
hmta() {
	local out
	out=$("$HOSTILE_MTA" -p "$PM_PORT" "$@" 2>&1)
	GOT=$(printf '%s\n' "$out" | head -1)
	MS=$(printf '%s\n' "$out" | sed -n 's/^ms=//p')
	MS=${MS:-0}
}

# alive WHAT: a normal client gets the right verdict, no worker died
# since the last check, and the pool is back to min_spare..max_spare.
SEEN=1
alive() {
	local got died
	got=$(client -t 20 "$WORK/phish.eml" 2>&1)
	is "${got#"$WORK/phish.eml: "}" "$REJECT" \
	    "$1: then a normal client still gets its verdict"
	died=$(tail -n +"$SEEN" "$WORK/log" |
	    grep -E 'worker [0-9]+ (killed by signal|exited with status)')
	is "$died" "" "$1: no worker died"
	wait_until 20 pool_settled
	ok $? "$1: then $MIN_SPARE to $MAX_SPARE idle workers ($(pm_workers | wc -l) run)"
	SEEN=$(log_lines)
}

pool_settled() {	# for wait_until
	local idle n
	idle=$(pm_idle)
	n=$(pm_workers | wc -l)
	[ "${idle:-0}" -ge "$MIN_SPARE" ] && [ "$n" -le "$MAX_SPARE" ]
}

pm_conf "$WORK/phishmilter.conf" <<'EOF'
message_timeout = 3
filter r1 {
	match = { 'header_subject:^reject-me$' }
	action = reject
}
filter f_backtrack {
	match = { 'header_subject:(a+)+$' }
	action = reject
	reply = "550 5.7.1 f_backtrack"
}
filter f_after {
	match = { 'header_subject:^a+c$' }
	action = tempfail
	reply = "451 4.7.1 f_after"
}
# Only so that the daemon asks for the recipients.
filter f_rcpt {
	match = { 'envelope_rcpt:^nobody@example\.invalid$' }
	action = reject
}
EOF
mkmsg "$WORK/phish.eml" "reject-me"
pm_must_start "$WORK/phishmilter.conf"
pm_wait_workers "$MIN_SPARE"
alive "at start"

# --- 10,000 connections at once.  Each sends OPTNEG and QUIT and waits
# for the answer; the listen queue holds 1024, the rest are SYNs the
# kernel retries.  Every one must be answered, none may hang (60 s).

W="$FLOOD connections opened at once"
"$HOSTILE_MTA" -p "$PM_PORT" -t 60 flood "$FLOOD" >"$WORK/flood.out" 2>&1 &
fpid=$!
max=0
while kill -0 "$fpid" 2>/dev/null; do
	n=$(pm_workers | wc -l)
	[ "$n" -gt "$max" ] && max=$n
	sleep 0.1
done
wait "$fpid"
st=$?
if [ "$st" -eq 77 ]; then
	echo "ok $((T_N + 1)) # SKIP $(tail -1 "$WORK/flood.out")"
	T_N=$((T_N + 1))
else
	res=$(grep '^connections=' "$WORK/flood.out")
	diag "$W: $res; at most $max workers seen"
	like "$res" "^connections=$FLOOD answered=$FLOOD closed=0 failed=0 hung=0 " \
	    "$W: every one answered, none closed, refused or hung"
	[ "$T_FAILED" -eq 0 ] || diag "$(tail -n +"$SEEN" "$WORK/log" |
	    grep 'connection closed' | sort | uniq -c | head)"
	# Idle workers told to retire are not counted while they exit.
	[ "$max" -le $((MAX_WORKERS + MAX_SPARE)) ]
	ok $? "$W: the pool stays bounded (saw $max workers; max_workers $MAX_WORKERS)"
	kill -0 "$PM_PID"
	ok $? "$W: the parent is alive"
fi
alive "$W"

# --- Trickling peers.  timeout (10 s) bounds each wait; message_timeout
# (3 s) bounds the receipt of a message's content, from its first
# header to its end.

W="a header every 0.5 s for 10 s"
from=$(log_lines)
hmta -i 500 trickle 20
is "$GOT" "closed: by the daemon while trickling" "$W: the daemon closes the connection"
[ "$MS" -ge 2500 ] && [ "$MS" -lt 9000 ]
ok $? "$W: after message_timeout, about 3 s (took $MS ms)"
wait_until 5 log_has 'connection closed: message timeout' "$from"
ok $? "$W: the log says why"
alive "$W"

W="a header every 0.5 s for 1.5 s"
hmta -i 500 trickle 3
is "$GOT" accept "$W: within message_timeout, the message gets its verdict"

W="a recipient every 0.5 s for 5 s"
from=$(log_lines)
hmta -e -i 500 trickle 10
is "$GOT" accept "$W: the envelope is not timed, the message gets its verdict"
! log_has 'connection closed' "$from"
ok $? "$W: no connection closed"

alive "trickling peers"

# --- (a+)+$ against a long run of a's: match_limit (1,000,000 by
# default) cuts each match; it counts as no match, the next filter
# decides, and the log names the pattern.

for n in 30 100000; do
	W="(a+)+\$ against $n a's"
	from=$(log_lines)
	hmta -t 20 send < <(
		printf 'From: <a@example.org>\nSubject: '
		head -c "$n" /dev/zero | tr '\0' a
		printf 'c\n\nHello.\n')
	is "$GOT" "tempfail 451 4.7.1 f_after" \
	    "$W: no match, so the next filter decides"
	[ "$MS" -lt 5000 ]
	ok $? "$W: in bounded time (took $MS ms)"
	wait_until 5 log_has "verdict=tempfail filter=f_after .*match-limit-hit" "$from"
	ok $? "$W: the verdict line says match-limit-hit"
	log_has "pattern '\\(a\\+\\)\\+\\\$' on .*match error -?[0-9]+, taken as no match" "$from"
	ok $? "$W: a line names the pattern"
done
alive "catastrophic backtracking"

is "$(log_count 'killed by signal|exited with status [1-9]')" 0 \
    "no worker crashed or failed"
pm_stop
ok $? "the daemon exits cleanly on SIGTERM"
pm_diag_log
done_testing
