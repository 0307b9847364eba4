#!/usr/bin/env bash
#
# The reporter against a stand-in for the Spamhaus API on 127.0.0.1
# (sink.pl; the real service is never contacted): the exact request for
# a rejected message sent through the daemon; no request for a safe or a
# private address, an accepted message or a repeat within the ttl;
# retries on 500 and 429, and Retry-After; a pause on 401; the spool
# kept across a restart while the service is down and drained when it
# is back; mail not delayed by a service that never answers; URL and
# email reports; the ttl kept across a reload and a restart; the token
# file's checks and the token kept out of logs and workers.

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/lib.sh"

: "${PHISHMILTER:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter}"
: "${CLIENT:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter-client}"


[ -x "$PHISHMILTER" ] || skip_all "no daemon built at $PHISHMILTER"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (privilege separation)"
perl -MJSON::PP -e1 2>/dev/null || skip_all "perl JSON::PP missing"

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/report/sink.sh"

mkmsg "$WORK/phish.eml" "Please verify your account today"
mkmsg "$WORK/ham.eml" "Minutes of the meeting"
mkmsg "$WORK/lottery.eml" "You won the lottery"
cat >"$WORK/link.eml" <<'EOF'
From: Bank <service@bank.example>
To: bob@example.net
Subject: Verify your account now
Content-Type: text/html; charset=utf-8

<p>Log in at <a href="https://login.bank-secure.example/verify?id=42">your bank</a>.</p>
EOF

# --- The token file

conf "$WORK/a.conf"
chmod 644 "$WORK/token"
"$PHISHMILTER" -d -f "$WORK/a.conf" >"$WORK/refused.out" 2>&1 &
pid=$!
wait_until 10 pids_gone "$pid"
ok $? "a group- or world-readable token file: the daemon does not start"
like "$(cat "$WORK/refused.out")" "token_file $WORK/token: mode 0644" \
    "and says why, naming the file"
chmod 600 "$WORK/token"
chown 1 "$WORK/token"
"$PHISHMILTER" -d -f "$WORK/a.conf" >"$WORK/refused.out" 2>&1 &
pid=$!
wait_until 10 pids_gone "$pid"
ok $? "a token file owned by another user: the daemon does not start"
like "$(cat "$WORK/refused.out")" "owned by uid 1, not by root" \
    "and says why"
chown root "$WORK/token"

# --- safe_address is checked where it is written

port=$PM_PORT
conf "$WORK/bad.conf" 'safe_address = { "192.0.2.0/24", "300.1.2.3" }'
PM_PORT=$port
out=$("$PHISHMILTER" -n -f "$WORK/bad.conf" 2>&1)
is "$?" 1 "-n: an invalid safe_address entry is an error"
like "$out" "bad.conf:[0-9]+: spamhaus: safe_address: \"300.1.2.3\" is not an address" \
    "reported with its file and line"

# --- The exact request for a rejected message

script 200
sink_start
pm_start "$WORK/a.conf" || skip_all "daemon did not start"
wait_until 10 reporter_pid >/dev/null
ok $? "a reporter process runs"
rp=$(reporter_pid)
is "$(awk '/^Uid:/ { print $2 }' /proc/$rp/status)" \
    "$(id -u nobody)" "it runs as the unprivileged user"
is "$(awk '/^Groups:/ { print $2 $3 }' /proc/$rp/status)" \
    "$(id -g nobody)" "with no supplementary group but its own"

like "$(send 203.0.113.7 "$WORK/phish.eml")" 'reject' \
    "a phishing message is rejected"
wait_until 10 have_requests 1
ok $? "one request reaches the API"
is "$(req 1 '$r->{method}')" POST "method POST"
is "$(req 1 '$r->{path}')" /portal/api/v1/submissions/add/ip "path"
is "$(req 1 '$r->{authorization}')" "Bearer $TOKEN" "Bearer token"
is "$(req 1 '$r->{content_type}')" application/json "JSON content type"
is "$(req 1 '$r->{json_ok}')" 1 "the body is JSON"
is "$(req 1 '$r->{body}{source}{object}')" 203.0.113.7 \
    "source.object is the client address"
is "$(req 1 '$r->{body}{threat_type}')" source-of-spam "threat_type"
like "$(req 1 '$r->{body}{reason}')" \
    '^phishmilter rep_phish reject [0-9A-F]{10}$' \
    "reason from the template: filter, verdict, queue id"
is "$(req 1 'join ",", sort keys %{$r->{body}}')" reason,source,threat_type \
    "no other field"

# --- What is never reported

send 198.51.100.9 "$WORK/phish.eml" >/dev/null	# safe_address
send 2001:db8:5afe::25 "$WORK/phish.eml" >/dev/null	# safe, IPv6
send 10.1.2.3 "$WORK/phish.eml" >/dev/null		# private
send 127.0.0.1 "$WORK/phish.eml" >/dev/null		# loopback
send fe80::1 "$WORK/phish.eml" >/dev/null		# link-local
send 203.0.113.8 "$WORK/ham.eml" >/dev/null		# accepted
send 203.0.113.9 "$WORK/lottery.eml" >/dev/null	# warn, report off
send 203.0.113.7 "$WORK/phish.eml" >/dev/null		# repeat within ttl
send 2001:db8:bad::7 "$WORK/phish.eml" >/dev/null	# this one is reported
wait_until 10 have_requests 2
sleep 1
is "$(requests)" 2 "safe, private, accepted, warned and repeated: no request"
is "$(req 2 '$r->{body}{source}{object}')" 2001:db8:bad::7 \
    "an IPv6 client is reported, in canonical form"

from=$(log_lines)
kill -USR1 "$PM_PID"
wait_until 5 log_has 'reporter: counters: ' "$from"
ok $? "SIGUSR1: the reporter logs its counters"
line=$(tail -n +"$from" "$WORK/log" | grep 'reporter: counters: ' | tail -1)
like "$line" 'sent=2 already_reported=0 failed=0 dropped=0 spooled=0 ' \
    "counters: sent, already reported, failed, dropped, spooled"
like "$line" 'skipped_safe=2 skipped_private=3 duplicates=1 ' \
    "counters: safe, private, duplicates"

# --- Retries on 500 and 429, 208, 400

script 500 429 200
send 203.0.113.20 "$WORK/phish.eml" >/dev/null
wait_until 20 have_requests 5
ok $? "500 and 429 are retried until the service takes the report"
is "$(req 3 '$r->{answer}') $(req 4 '$r->{answer}') $(req 5 '$r->{answer}')" \
    "500 429 200" "in that order"
is "$(req 5 '$r->{body}{source}{object}')" 203.0.113.20 "the same report"
t3=$(req 3 '$r->{t}') t4=$(req 4 '$r->{t}')
awk -v a="$t3" -v b="$t4" 'BEGIN { exit !(b - a >= 0.45) }'
ok $? "with a backoff between tries"

script 208
send 203.0.113.21 "$WORK/phish.eml" >/dev/null
wait_until 10 have_requests 6
script 400
send 203.0.113.22 "$WORK/phish.eml" >/dev/null
wait_until 10 have_requests 7
wait_until 5 log_has 'report ip 203.0.113.22 refused, dropped: HTTP 400'
ok $? "400: logged with the answer's body, and dropped"
like "$(grep 'HTTP 400' "$WORK/log" | tail -1)" 'sink says 400' \
    "the body is in the log"

# --- A pause on 401

script 401 401 200
from=$(log_lines)
send 203.0.113.23 "$WORK/phish.eml" >/dev/null
wait_until 20 have_requests 10
ok $? "after 401 the report is kept and tried again"
log_has 'configuration error: HTTP 401 .*reporting paused' "$from"
ok $? "401 is logged as a configuration error, reporting paused"
t8=$(req 8 '$r->{t}') t9=$(req 9 '$r->{t}')
awk -v a="$t8" -v b="$t9" 'BEGIN { exit !(b - a >= 0.45) }'
ok $? "no request during the pause"
is "$(req 10 '$r->{body}{source}{object}')" 203.0.113.23 \
    "the paused report is sent when the token works again"

# --- Retry-After: the service's delay where it is longer than the
# backoff (retry_min = 1: 0.5 to 1 s), but never beyond retry_max (2 s)

script "429 retry-after=2" 200 "503 retry-after=30" 200
send 203.0.113.24 "$WORK/phish.eml" >/dev/null
wait_until 20 have_requests 12
t11=$(req 11 '$r->{t}') t12=$(req 12 '$r->{t}')
awk -v a="$t11" -v b="$t12" 'BEGIN { exit !(b - a >= 1.9) }'
ok $? "429 with Retry-After: 2 is retried after 2 s, not the backoff"
is "$(req 12 '$r->{body}{source}{object}')" 203.0.113.24 "... the same report"
send 203.0.113.25 "$WORK/phish.eml" >/dev/null
wait_until 20 have_requests 14
t13=$(req 13 '$r->{t}') t14=$(req 14 '$r->{t}')
awk -v a="$t13" -v b="$t14" 'BEGIN { exit !(b - a >= 1.4 && b - a < 10) }'
ok $? "503 with Retry-After: 30 waits retry_max, not 30 s"

# --- The token is in no log and no worker

grep -q -- "$TOKEN" "$WORK/log"
ok $((! $?)) "the token is not in the log"
found=0
for w in $(pgrep -P "$PM_PID"); do
	[ "$w" = "$(reporter_pid)" ] && continue
	perl -e '
	    my ($pid, $tok) = @ARGV;
	    open(my $m, "<", "/proc/$pid/maps") or exit 0;
	    open(my $mem, "<:raw", "/proc/$pid/mem") or exit 0;
	    while (<$m>) {
		my ($a, $b, $perm) = /^(\w+)-(\w+) (\S+)/ or next;
		next unless $perm =~ /^r/;
		my $len = hex($b) - hex($a);
		next if $len > 64 << 20;
		seek($mem, hex($a), 0) or next;
		my $n = sysread($mem, my $buf, $len) or next;
		exit 1 if index($buf, $tok) >= 0;
	    }
	    exit 0' "$w" "$TOKEN" || found=1
done
is "$found" 0 "no worker holds the token in its memory"

# --- Spool across a restart while the service is down

sink_stop
n0=$(requests)
send 203.0.113.30 "$WORK/phish.eml" >/dev/null
send 203.0.113.31 "$WORK/phish.eml" >/dev/null
spooled() { [ "$(ls "$SPOOL" | grep -c '^[0-9a-f]\{16\}\.')" -eq "$1" ]; }
wait_until 10 spooled 2
ok $? "the service down: both reports are in the spool"
is "$(stat -c '%U %a' "$SPOOL")" "nobody 700" "the spool is the user's, 0700"
pm_stop
is "$?" 0 "the daemon stops cleanly with reports pending"
spooled 2
ok $? "the spool survives the stop"
script 200
sink_start
pm_start "$WORK/a.conf"
wait_until 20 have_requests $((n0 + 2))
ok $? "after the restart the spool drains when the service is back"
is "$(req $((n0 + 1)) '$r->{body}{source}{object}') $(req $((n0 + 2)) \
    '$r->{body}{source}{object}')" "203.0.113.30 203.0.113.31" \
    "oldest first"
wait_until 5 spooled 0
ok $? "and the spool is empty"

# --- The reporter killed: restarted, nothing lost

kill -KILL "$(reporter_pid)"
wait_until 10 reporter_pid >/dev/null
ok $? "a killed reporter is restarted"
n0=$(requests)
send 203.0.113.40 "$WORK/phish.eml" >/dev/null
wait_until 20 have_requests $((n0 + 1))
ok $? "and reports again"

# --- The parent killed outright: once no worker is left, the reporter
# sees the end of its pipe and exits too, leaving no process behind.

children=$(pm_workers)
kill -KILL "$PM_PID"
wait "$PM_PID" 2>/dev/null
PM_PID=
wait_until 10 pids_gone $children
ok $? "parent killed: the workers and the reporter exit"
log_has 'reporter: .*the report pipe has no writer left'
ok $? "... the reporter saying why"
pm_start "$WORK/a.conf"
wait_until 10 reporter_pid >/dev/null
ok $? "the daemon starts again, with its reporter"

# --- A service that never answers does not delay mail

script hang
send 203.0.113.50 "$WORK/phish.eml" >/dev/null
out=$("$CLIENT" -s "inet:127.0.0.1:$PM_PORT" -q -c 4 -N 200 \
    -a 203.0.113.51 "$WORK/phish.eml" 2>&1)
sum=$(printf '%s\n' "$out" | grep '^summary ')
diag "$sum"
like "$sum" 'messages=200 errors=0 accept=0 reject=200 ' \
    "200 messages rejected while the service hangs"
max=$(printf '%s\n' "$sum" | tr ' ' '\n' | sed -n 's/^max_ms=//p')
awk -v m="$max" 'BEGIN { exit !(m < 1500) }'
ok $? "none waited on the reporter (max ${max} ms, request timeout 3 s)"
wait_until 10 log_has 'report ip 203.0.113.50: .*(Timeout|timed out)'
ok $? "the hung request times out and is retried later"
pm_stop
sink_stop

# --- The reason is cut at the API's 255 characters

long=$(printf 'x%.0s' $(seq 1 300))
: >"$SINK_LOG"
conf "$WORK/c.conf" "reason = \"%f $long\""
script 200
sink_start
pm_start "$WORK/c.conf"
send 203.0.113.60 "$WORK/phish.eml" >/dev/null
wait_until 10 have_requests 1
is "$(req 1 'length $r->{body}{reason}')" 255 \
    "a long reason is cut at 255 characters"
like "$(req 1 '$r->{body}{reason}')" '^rep_phish xxx' "after the filter name"
pm_stop
sink_stop

# --- URL and email reports

: >"$SINK_LOG"
rm -f "$SPOOL"/*
script 200
sink_start
conf "$WORK/b.conf" "report_urls = true" "report_email = true" \
    "url_threat_type = \"phish\""
pm_start "$WORK/b.conf"
send 192.0.2.77 "$WORK/link.eml" >/dev/null
wait_until 10 have_requests 3
ok $? "IP, URL and email reports for one rejected message"
paths=$(for i in 1 2 3; do req $i '$r->{path}'; done | sort | tr '\n' ' ')
is "$paths" "/portal/api/v1/submissions/add/email /portal/api/v1/submissions/add/ip /portal/api/v1/submissions/add/url " \
    "one request to each endpoint"
for i in 1 2 3; do
	case $(req $i '$r->{path}') in
	*/url) is "$(req $i '$r->{body}{source}{object}')" \
	    "https://login.bank-secure.example/verify?id=42" "the link"
	    is "$(req $i '$r->{body}{threat_type}')" phish \
	    "url_threat_type" ;;
	*/email) like "$(req $i '$r->{body}{source}{object}')" \
	    'Subject: *Verify your account now' "the message itself" ;;
	esac
done

# --- The ttl outlives the reporter: a reload restarts it, a restart
# starts a new one, and neither reports again what was just reported
# (the address, the link, the message).

rp=$(reporter_pid)
from=$(log_lines)
kill -HUP "$PM_PID"
wait_until 10 log_has 'reporter: de-duplication: [1-9][0-9]* entries from before' "$from"
ok $? "a reload: the new reporter loads the table its predecessor saved"
[ "$(reporter_pid)" != "$rp" ]
ok $? "... and is a new process"
send 192.0.2.77 "$WORK/link.eml" >/dev/null
pm_stop
pm_start "$WORK/b.conf"
wait_until 10 reporter_pid >/dev/null
send 192.0.2.77 "$WORK/link.eml" >/dev/null
send 192.0.2.78 "$WORK/link.eml" >/dev/null	# its URL and message are not
wait_until 10 have_requests 4
sleep 1
n=$(requests)
is "$n" 4 "after a reload and a restart only the new client is reported"
[ "$n" -eq 4 ] || for i in $(seq "$n"); do
	diag "$i: $(req "$i" '$r->{path}') $(req "$i" \
	    '$r->{body}{source}{object}' | head -c 80)"
done
is "$(req 4 '$r->{body}{source}{object}')" 192.0.2.78 "... which is that one"
test ! -e "$SPOOL/tmp.seen" && [ "$(stat -c '%U %a' "$SPOOL/seen")" = "nobody 600" ]
ok $? "the table is saved in the spool, the user's, mode 0600"
pm_stop
done_testing
