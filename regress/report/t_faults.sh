#!/usr/bin/env bash
#
# Faults around the reporter, under load: the API flapping between
# errors, slow answers and no answer at all, the reporter killed with
# SIGKILL, the service down for a while.  Mail is never delayed, and once
# the service works every address that was rejected is reported: none
# is lost (the spool bound is not reached here).  FAULT_ROUNDS sets the
# number of client addresses (default 40).

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/lib.sh"

: "${PHISHMILTER:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter}"
: "${CLIENT:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter-client}"

[ -x "$PHISHMILTER" ] || skip_all "no daemon built at $PHISHMILTER"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (privilege separation)"
perl -MJSON::PP -e1 2>/dev/null || skip_all "perl JSON::PP missing"

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/report/sink.sh"

ROUNDS=${FAULT_ROUNDS:-40}
mkmsg "$WORK/phish.eml" "Please verify your account today"
conf "$WORK/a.conf" "rate = 6000" "request_timeout = 1"
script 500 slow300 429 hang 200 503 slow200 hang 500 200
sink_start
pm_start "$WORK/a.conf" || skip_all "daemon did not start"
wait_until 10 reporter_pid >/dev/null

worst=0 failed=0 kills=0
for i in $(seq 1 "$ROUNDS"); do
	addr=203.0.$((113 + i / 250)).$((i % 250 + 1))
	sum=$(client -q -c 2 -N 10 -a "$addr" "$WORK/phish.eml" 2>&1 |
	    grep '^summary ')
	printf '%s\n' "$sum" | grep -q 'messages=10 errors=0 accept=0 reject=10 ' ||
	    { failed=$((failed + 1)); diag "$addr: $sum"; }
	max=$(printf '%s\n' "$sum" | tr ' ' '\n' | sed -n 's/^max_ms=//p')
	worst=$(awk -v a="$worst" -v b="${max:-99999}" \
	    'BEGIN { print (b > a) ? b : a }')
	case $((i % 10)) in
	3)	# the reporter killed outright
		rp=$(reporter_pid) && kill -KILL "$rp" && kills=$((kills + 1)) ;;
	6)	# the service down for a while
		sink_stop ;;
	8)	sink_start
		script 500 slow300 hang 200 429 200 ;;
	esac
done
[ -n "$SINK_PID" ] || sink_start
script 200
diag "$ROUNDS addresses, 10 messages each; reporter killed $kills times; worst latency $worst ms"
is "$failed" 0 "every message got its verdict"
awk -v m="$worst" 'BEGIN { exit !(m < 1500) }'
ok $? "no message waited on the reporter (worst $worst ms)"

# Every address reported with a 2xx answer, whatever happened before.
reported() {
	perl -MJSON::PP -ne '$r = decode_json($_);
	    print $r->{body}{source}{object}, "\n" if $r->{answer} =~ /^2|^slow/' \
	    "$SINK_LOG" | sort -u | wc -l
}
all_reported() { [ "$(reported)" -ge "$ROUNDS" ]; }
wait_until 60 all_reported
ok $? "every one of the $ROUNDS addresses was reported in the end ($(reported))"
is "$(ls "$SPOOL" | grep -c '^[0-9a-f]\{16\}\.')" 0 "the spool is empty"
pm_stop
is "$?" 0 "the daemon stops cleanly"
done_testing
