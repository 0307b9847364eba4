#!/usr/bin/env bash
#
# The reporter's bounds and changes: spool_size keeps the newest reports
# and logs each one dropped; the rate limit holds requests back without
# losing them; a reload restarts the reporter with the new settings and
# a reload with a bad token file changes nothing; a full disk under the
# spool keeps reports in memory, writes them when it has room again,
# and a restart sends them all; invalid records on the pipe are
# counted, never sent.

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/lib.sh"

: "${PHISHMILTER:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter}"
: "${CLIENT:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter-client}"

[ -x "$PHISHMILTER" ] || skip_all "no daemon built at $PHISHMILTER"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (privilege separation)"
perl -MJSON::PP -e1 2>/dev/null || skip_all "perl JSON::PP missing"

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/report/sink.sh"

mkmsg "$WORK/phish.eml" "Please verify your account today"
spooled() { ls "$SPOOL" 2>/dev/null | grep -c '^[0-9a-f]\{16\}\.'; }
spooled_is() { [ "$(spooled)" -eq "$1" ]; }

# --- spool_size: the oldest go first, each with a line

conf "$WORK/a.conf" "spool_size = 1K"
pm_start "$WORK/a.conf" || skip_all "daemon did not start"
wait_until 10 reporter_pid >/dev/null
for i in $(seq 1 14); do
	send 203.0.113.$i "$WORK/phish.eml" >/dev/null
done
wait_until 10 log_has 'spool .* full \(1024 bytes\): dropped the oldest report, ip 203\.0\.113\.1 '
ok $? "over spool_size the oldest report is dropped, with a log line"
newest_kept() { grep -q '^client 203.0.113.14$' "$SPOOL"/* 2>/dev/null; }
wait_until 10 newest_kept
ok $? "the newest report is kept"
n=$(spooled)
[ "$n" -ge 1 ] && [ "$n" -lt 14 ]
ok $? "the spool holds fewer than the 14 reports ($n)"
size=$(cat "$SPOOL"/* | wc -c)
[ "$size" -le 1024 ]
ok $? "and stays within 1024 bytes ($size)"
script 200
sink_start
wait_until 20 spooled_is 0
ok $? "the service back: what was kept drains"
is "$(req "$(requests)" '$r->{body}{source}{object}')" 203.0.113.14 \
    "newest last"
pm_stop

# --- The rate limit (new addresses: the ttl outlives a restart)

: >"$SINK_LOG"
conf "$WORK/b.conf" "rate = 2"
pm_start "$WORK/b.conf"
for i in 21 22 23 24; do
	send 203.0.113.$i "$WORK/phish.eml" >/dev/null
done
wait_until 10 have_requests 2
sleep 2
is "$(requests)" 2 "rate = 2: two requests a minute, the rest wait"
spooled_is 2
ok $? "the two waiting are in the spool"

# --- Reload: a new reporter with the new settings

old=$(reporter_pid)
conf "$WORK/b.conf" "rate = 600" "reason = \"reloaded %f\""
kill -HUP "$PM_PID"
wait_until 15 have_requests 4
ok $? "after a reload with a higher rate the waiting reports go"
new=$(reporter_pid)
[ -n "$new" ] && [ "$new" != "$old" ]
ok $? "by a new reporter process"
is "$(req 4 '$r->{body}{reason}')" "reloaded rep_phish" \
    "with the new reason template"

chmod 644 "$WORK/token"
from=$(log_lines)
port=$PM_PORT
conf "$WORK/b.conf" "reason = \"bad reload %f\""
PM_PORT=$port	# the failed reload keeps the old listen address
kill -HUP "$PM_PID"
wait_until 10 log_has 'reload failed' "$from"
ok $? "a reload with a readable-by-all token file fails"
log_has 'token_file .*mode 0644' "$from"
ok $? "naming the token file"
is "$(reporter_pid)" "$new" "and the reporter keeps running"
send 203.0.113.25 "$WORK/phish.eml" >/dev/null
wait_until 10 have_requests 5
is "$(req 5 '$r->{body}{reason}')" "reloaded rep_phish" \
    "with the old settings"
chmod 600 "$WORK/token"
pm_stop

# --- Invalid records on the pipe

conf "$WORK/c.conf"
pm_start "$WORK/c.conf"
wait_until 10 reporter_pid >/dev/null
rp=$(reporter_pid)
# The pipe's write end, as a worker holds it (the one pipe it shares
# with the reporter): forge garbage into it.
w=$(pgrep -P "$PM_PID" | grep -v "^$rp\$" | head -1)
rpipes=$(for f in /proc/"$rp"/fd/*; do readlink "$f"; done | grep '^pipe:')
fd=$(for f in /proc/"$w"/fd/*; do
	l=$(readlink "$f")
	printf '%s\n' "$rpipes" | grep -qxF "$l" && basename "$f"
done)
n0=$(requests)
wrote=0
for f in $fd; do
	# One record-sized block of garbage and one with a bad magic.
	head -c 2048 /dev/urandom >/proc/"$w"/fd/"$f" 2>/dev/null && wrote=1
done
[ "$wrote" -eq 1 ] || diag "no pipe written (fds: $fd)"
send 203.0.113.70 "$WORK/phish.eml" >/dev/null
wait_until 10 have_requests $((n0 + 1))
ok $? "garbage on the pipe: the reporter goes on with the next record"
is "$(req "$(requests)" '$r->{body}{source}{object}')" 203.0.113.70 \
    "and sends it"
from=$(log_lines)
kill -USR1 "$PM_PID"
wait_until 5 log_has 'reporter: counters: .* invalid=[1-9]' "$from"
ok $? "the garbage is counted as invalid"
pm_stop

# --- A stopped reporter: the pipe fills, mail goes on

conf "$WORK/e.conf" "report_email = true" "max_email_size = 1M"
pm_start "$WORK/e.conf"
wait_until 10 reporter_pid >/dev/null
{
	cat "$WORK/phish.eml"
	head -c 120000 /dev/zero | tr '\0' 'x' | fold -w 76
} >"$WORK/big.eml"
rp=$(reporter_pid)
kill -STOP "$rp"
from=$(log_lines)
out=$("$CLIENT" -s "inet:127.0.0.1:$PM_PORT" -q -c 2 -N 40 \
    -a 203.0.113.90 "$WORK/big.eml" 2>&1)
sum=$(printf '%s\n' "$out" | grep '^summary ')
diag "$sum"
like "$sum" 'messages=40 errors=0 accept=0 reject=40 ' \
    "40 messages of 120 KB rejected while the reporter is stopped"
max=$(printf '%s\n' "$sum" | tr ' ' '\n' | sed -n 's/^max_ms=//p')
awk -v m="$max" 'BEGIN { exit !(m < 1500) }'
ok $? "none waited on the full pipe (max ${max} ms)"
log_has 'worker: report pipe full: [0-9]+ report records dropped' "$from"
ok $? "the dropped records are counted and logged"
per_pid=$(tail -n +"$from" "$WORK/log" | grep 'report pipe full' |
    sed 's/^[^[]*\[\([0-9]*\)\].*/\1/' | sort | uniq -c |
    awk '$1 > m { m = $1 } END { print m + 0 }')
[ "$per_pid" -ge 1 ] && [ "$per_pid" -le 2 ]
ok $? "logged at a bounded rate (a line a minute per worker, one at exit)"
kill -CONT "$rp"
from=$(log_lines)
kill -USR1 "$PM_PID"
wait_until 10 log_has 'reporter: counters: ' "$from"
ok $? "the reporter goes on when continued"
pm_stop

# --- A full disk under the spool

mkdir -p "$WORK/small"
if mount -t tmpfs -o size=64k,mode=755 tmpfs "$WORK/small" 2>/dev/null; then
	SPOOL=$WORK/small/spool
	sink_stop
	: >"$SINK_LOG"
	conf "$WORK/d.conf"
	pm_start "$WORK/d.conf"
	wait_until 10 reporter_pid >/dev/null
	head -c 1M /dev/zero >"$WORK/small/fill" 2>/dev/null
	from=$(log_lines)
	send 203.0.113.80 "$WORK/phish.eml" >/dev/null
	send 203.0.113.81 "$WORK/phish.eml" >/dev/null
	wait_until 10 log_has 'spool .*cannot write a report' "$from"
	ok $? "a full disk is logged"
	is "$(spooled)" 0 "nothing could be written"
	rm -f "$WORK/small/fill"
	wait_until 15 spooled_is 2
	ok $? "once the disk has room, the reports kept in memory are written"
	log_has 'spool .*: 2 reports kept in memory are written' "$from"
	ok $? "... and that is logged"
	pm_stop
	pm_start "$WORK/d.conf"
	script 200
	sink_start
	wait_until 20 have_requests 2
	ok $? "after a restart, those reports are sent when the service is back"
	wait_until 10 spooled_is 0
	ok $? "... and leave the spool"
	pm_stop
	umount "$WORK/small"
else
	ok 0 "# SKIP cannot mount a tmpfs here"
fi

done_testing
