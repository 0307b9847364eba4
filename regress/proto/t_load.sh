#!/usr/bin/env bash
#
# The client as a load generator (-c, -N, -T, -M, -q): counts per
# verdict, the machine-readable summary line, the time bound, and errors
# when nothing listens.

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/lib.sh"

: "${PHISHMILTER:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter}"
: "${CLIENT:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter-client}"

[ -x "$PHISHMILTER" ] || skip_all "no daemon built at $PHISHMILTER"
[ -x "$CLIENT" ] || skip_all "no client built at $CLIENT"

# field LINE NAME: the value of NAME=value in a summary line.
field() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# le A B: A <= B for decimal numbers.
le() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'
}

pm_conf "$WORK/phishmilter.conf" <<'EOF2'
filter reject_invoice {
	match = { 'header_subject:(?i)invoice' }
	action = reject
}
EOF2
mkdir -p "$WORK/msgs"
mkmsg "$WORK/msgs/a.eml" "Invoice 2026-11"
mkmsg "$WORK/msgs/b.eml" "Lunch on Friday"
pm_start "$WORK/phishmilter.conf" || skip_all "daemon did not start"

out=$(client -q -c 4 -N 200 "$WORK/msgs")
st=$?
sum=$(printf '%s\n' "$out" | grep '^summary ')
diag "$sum"
is "$st" 0 "-c 4 -N 200 exits 0"
is "$(printf '%s\n' "$out" | grep -c ': \(accept\|reject\)')" 0 \
    "-q prints no verdict lines"
is "$(field "$sum" messages)" 200 "200 messages"
is "$(field "$sum" errors)" 0 "no errors"
is "$(field "$sum" reject)" 100 "100 rejected (round-robin)"
is "$(field "$sum" accept)" 100 "100 accepted (round-robin)"
p50=$(field "$sum" p50_ms) p90=$(field "$sum" p90_ms)
p99=$(field "$sum" p99_ms) max=$(field "$sum" max_ms)
like "$p50 $p90 $p99 $max" '^([0-9]+\.[0-9]{3} ){3}[0-9]+\.[0-9]{3}$' \
    "percentiles present"
le "$p50" "$p90" && le "$p90" "$p99" && le "$p99" "$max"
ok $? "p50 <= p90 <= p99 <= max ($p50 $p90 $p99 $max)"
like "$(field "$sum" msgs_per_s)" '^[0-9]+\.[0-9]$' "a rate"

out=$(client -c 2 -N 6 -M 0 "$WORK/msgs")
is "$(printf '%s\n' "$out" | grep -c "a.eml: reject 550")" 3 \
    "without -q each message has its verdict line (-M 0: one connection)"
like "$(printf '%s\n' "$out" | grep '^summary ')" \
    'messages=6 errors=0 accept=3 reject=3 ' "summary after the lines"

t0=$(date +%s%N)
out=$(client -q -c 2 -T 2 "$WORK/msgs")
st=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
sum=$(printf '%s\n' "$out" | grep '^summary ')
is "$st" 0 "-T 2 exits 0"
[ "$ms" -ge 1900 ] && [ "$ms" -le 4000 ]
ok $? "-T 2 stops in about 2 s (${ms} ms)"
[ "$(field "$sum" messages)" -gt 0 ]
ok $? "-T 2 sent messages ($(field "$sum" messages))"
is "$(field "$sum" errors)" 0 "-T 2 without errors"

out=$(client "$WORK/msgs/b.eml")
is "$out" "$WORK/msgs/b.eml: accept" "no load flag: the usual line only"

pm_stop
out=$(client -q -c 2 -N 4 "$WORK/msgs")
st=$?
sum=$(printf '%s\n' "$out" | grep '^summary ')
is "$st" 2 "no daemon: exit 2"
[ "$(field "$sum" errors)" -gt 0 ] 2>/dev/null
ok $? "no daemon: errors counted ($(field "$sum" errors))"
is "$(field "$sum" p50_ms)" "-" "no daemon: no latency"

done_testing
