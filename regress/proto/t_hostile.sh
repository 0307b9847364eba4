#!/usr/bin/env bash
#
# Hostile and broken peers: raw bytes to the daemon's socket (bash's
# /dev/tcp, printf), never through a milter library.  Each case shows
# what the daemon does with the connection (answers, or closes it with
# one log line naming the reason), and that afterwards it still answers
# a normal client with the right verdict and keeps at least min_spare
# workers.  Nothing a peer sends may end a worker.
#
# The raw sessions offer protocol steps 0 (no SMFIP_NO* or SMFIP_NR_*),
# so the daemon answers every command and the sequence of reply
# commands shows what it did with each.

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/lib.sh"

: "${PHISHMILTER:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter}"
: "${CLIENT:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter-client}"

[ -x "$PHISHMILTER" ] || skip_all "no daemon built at $PHISHMILTER"
[ -x "$CLIENT" ] || skip_all "no client built at $CLIENT"
command -v od >/dev/null || skip_all "od(1) not found"
command -v timeout >/dev/null || skip_all "timeout(1) not found"

MIN_SPARE=2 MAX_SPARE=4 MAX_WORKERS=4 TIMEOUT=2
export MIN_SPARE MAX_SPARE MAX_WORKERS TIMEOUT
REJECT="reject 550 5.7.1 Message rejected as phishing (r1)"

# --- Packets.

# be32f N: N as four bytes, most significant first, written as a
# printf format (a command substitution would drop the NUL bytes).
be32f() {
	printf '%08x' "$1" | sed 's/../\\x&/g'
}

# be32 N: those four bytes.
be32() {
	printf "$(be32f "$1")"
}

# pkt CMD [FORMAT [ARG...]]: one packet; the payload is printf's output
# for FORMAT, so \x00 writes a NUL.
pkt() {
	local cmd=$1 f=$WORK/payload
	shift
	if [ $# -gt 0 ]; then printf -- "$@" >"$f"; else : >"$f"; fi
	be32 $(($(wc -c <"$f") + 1))
	printf '%s' "$cmd"
	cat "$f"
}

# optneg [VERSION [ACTIONS [PROTOCOL]]]: version 6, every action, and no
# protocol step left out or unanswered.
optneg() {
	pkt O "$(be32f "${1:-6}")$(be32f "${2:-0x1ff}")$(be32f "${3:-0}")"
}

# connect_pkt HOST ADDR: CONNECT from an IPv4 client, port 25.
connect_pkt() {
	pkt C '%s\x004\x00\x19%s\x00' "$1" "$2"
}

# message_pkts SUBJECT: MAIL, a Subject header, EOH and EOM.
message_pkts() {
	pkt M '<sender@example.org>\x00'
	pkt L 'Subject\x00%s\x00' "$1"
	pkt N
	pkt E
}

# --- Talking to the daemon.

# raw IN OUT [SECONDS]: the bytes of IN to the daemon on one connection,
# what comes back into OUT until the daemon closes it (status 0, or 1
# on a reset) or SECONDS (default 5) pass (status 124).
raw() {
	local st wpid
	exec 3<>"/dev/tcp/127.0.0.1/$PM_PORT" || return 2
	(timeout 10 cat "$1" >&3) 2>/dev/null &
	wpid=$!
	timeout "${3:-5}" cat <&3 >"$2" 2>/dev/null
	st=$?
	exec 3>&-
	wait $wpid 2>/dev/null
	return $st
}

# raw_close IN [N]: the bytes of IN, then the connection is closed at
# once, after reading N bytes of reply (default 0): closing a socket
# with unread bytes resets it instead of ending it.
raw_close() {
	exec 3<>"/dev/tcp/127.0.0.1/$PM_PORT" || return 2
	cat "$1" >&3 2>/dev/null
	[ "${2:-0}" -gt 0 ] &&
	    timeout 3 dd bs=1 count="$2" <&3 >/dev/null 2>&1
	exec 3>&-
}

# replies FILE: the packets in FILE, one a line: the command character,
# a space, the payload (NUL as \0, other unprintable bytes as \xHH).
replies() {
	od -An -v -tx1 "$1" | tr -s ' ' '\n' | grep . | awk '
	function byte(h) {
		return (index(X, substr(h, 1, 1)) - 1) * 16 + \
		    index(X, substr(h, 2, 1)) - 1
	}
	BEGIN	{ X = "0123456789abcdef" }
		{ b[n++] = byte($1) }
	END {
		for (i = 0; i + 5 <= n; i += 4 + len) {
			len = b[i] * 16777216 + b[i + 1] * 65536 + \
			    b[i + 2] * 256 + b[i + 3]
			s = sprintf("%c ", b[i + 4])
			for (j = i + 5; j < i + 4 + len && j < n; j++) {
				c = b[j]
				if (c == 0)
					s = s "\\0"
				else if (c < 32 || c > 126)
					s = s sprintf("\\x%02x", c)
				else
					s = s sprintf("%c", c)
			}
			print s
		}
		if (i < n)
			print "! " (n - i) " bytes left over"
	}'
}

# reply_cmds FILE: the reply commands in FILE as one word ("Occcy").
reply_cmds() {
	replies "$1" | cut -c1 | tr -d '\n'
}

# --- Assertions.

# once FROM REGEX WHAT: exactly one line logged since line FROM matches
# (waiting up to 3 s for it).
once() {
	local n
	wait_until 3 log_has "$2" "$1"
	n=$(tail -n +"$1" "$WORK/log" | grep -Ec -- "$2")
	is "$n" 1 "$3: one log line /$2/"
	[ "$n" -eq 1 ] ||
	    diag "logged: $(tail -n +"$1" "$WORK/log" | grep -v ' debug\|negotiated\|verdict=' | head -5)"
}

# logged_n FROM REGEX N: at least N lines logged since line FROM match.
logged_n() {
	[ "$(tail -n +"$1" "$WORK/log" | grep -Ec -- "$2")" -ge "$3" ]
}

# alive WHAT: a normal client still gets the right verdict, and at
# least min_spare workers run.
alive() {
	local got
	got=$(client -t 10 "$WORK/phish.eml" 2>&1)
	is "${got#"$WORK/phish.eml: "}" "$REJECT" \
	    "$1: then a normal client still gets its verdict"
	pm_wait_workers "$MIN_SPARE"
	ok $? "$1: then at least $MIN_SPARE workers run"
}

# closed ST WHAT: raw's status says the daemon closed the connection.
closed() {
	[ "$1" -ne 124 ]
	ok $? "$2: the daemon closes the connection"
}

pm_conf "$WORK/phishmilter.conf" <<'EOF'
filter r1 {
	match = { 'header_subject:^reject-me$' }
	action = reject
}
filter bad_host {
	match = { 'remote_host:^bad\.phish\.example$' }
	action = reject
	reply = "550 5.7.1 bad host"
}
filter bad_ip6 {
	match = { 'remote_ip:^2001:db8:bad::1$' }
	action = reject
	reply = "550 5.7.1 bad ip6"
}
filter old_macro {
	match = { 'macro_j:^mx-old$', 'header_subject:^macro-test$' }
	action = tempfail
}
EOF
mkmsg "$WORK/phish.eml" "reject-me"
if ! pm_start "$WORK/phishmilter.conf"; then
	ok 1 "the daemon starts"
	done_testing
fi
pm_wait_workers "$MIN_SPARE"
ok $? "the daemon starts with $MIN_SPARE workers"
alive "at start"

# --- Bad lengths.

W="zero-length packet"
from=$(log_lines)
printf '\x00\x00\x00\x00' >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
is "$(wc -c <"$WORK/out" | tr -d ' ')" 0 "$W: no reply"
once "$from" 'connection closed: zero-length packet' "$W"
alive "$W"

W="length 1: OPTNEG command byte, no payload"
from=$(log_lines)
printf '\x00\x00\x00\x01O' >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
is "$(wc -c <"$WORK/out" | tr -d ' ')" 0 "$W: no reply"
once "$from" 'bad option negotiation' "$W"
alive "$W"

W="length 2^31"
from=$(log_lines)
printf '\x80\x00\x00\x00O\x00\x00\x00\x06' >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
once "$from" 'connection closed: packet too large \(2147483647 bytes\)' "$W"
alive "$W"

W="length 2^32-1"
from=$(log_lines)
{ optneg; printf '\xff\xff\xff\xffL'; } >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
is "$(reply_cmds "$WORK/out")" "O" "$W: after OPTNEG's answer, nothing"
once "$from" 'connection closed: packet too large \(4294967294 bytes\)' "$W"
alive "$W"

W="payload of 1 MiB (the largest accepted)"
from=$(log_lines)
{
	optneg
	pkt M '<a@example.org>\x00'
	be32 $((1024 * 1024 + 1)); printf 'B'
	head -c $((1024 * 1024)) /dev/zero | tr '\0' 'a'
	pkt E
	pkt Q
} >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
is "$(reply_cmds "$WORK/out")" "Occa" "$W: BODY answered, then EOM"
! log_has 'connection closed' "$from"
ok $? "$W: nothing logged about the connection"

W="payload of 1 MiB + 1"
from=$(log_lines)
{
	optneg
	be32 $((1024 * 1024 + 2)); printf 'B'
	head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' 'a'
} >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
once "$from" 'connection closed: packet too large \(1048577 bytes\)' "$W"
alive "$W"

W="truncated packet, then close"
from=$(log_lines)
{ optneg; printf '\x00\x00\x00\x64LSubject\x00'; } >"$WORK/in"
raw_close "$WORK/in" 17
once "$from" 'connection closed: truncated packet' "$W"
alive "$W"

W="truncated length, then close"
from=$(log_lines)
{ optneg; printf '\x00\x00'; } >"$WORK/in"
raw_close "$WORK/in" 17
once "$from" 'connection closed: truncated packet' "$W"
alive "$W"

W="truncated first packet, then close"
from=$(log_lines)
printf '\x00\x00\x00\x0dO\x00\x00\x00\x06' >"$WORK/in"
raw_close "$WORK/in"
once "$from" 'connection closed: truncated packet' "$W"
alive "$W"

W="peer resets the connection mid-packet"
from=$(log_lines)
{ optneg; printf '\x00\x00\x00\x64LSubject\x00'; } >"$WORK/in"
raw_close "$WORK/in" 1
once "$from" 'connection closed: connection reset' "$W"
alive "$W"

# --- Bad payloads: each closes the connection with one line.

hostile_payload() {	# WHAT REGEX PACKET-ARGS...
	local what=$1 re=$2
	shift 2
	from=$(log_lines)
	{ optneg; connect_pkt client.example 192.0.2.9; pkt "$@"; } \
	    >"$WORK/in"
	raw "$WORK/in" "$WORK/out"; closed $? "$what"
	is "$(reply_cmds "$WORK/out")" "Oc" "$what: no answer to it"
	once "$from" "$re" "$what"
	alive "$what"
}
hostile_payload "MAIL without NUL" 'malformed mail packet' M '<a@example.org>'
hostile_payload "RCPT without payload" 'malformed rcpt packet' R
hostile_payload "HEADER with a name only" 'malformed header packet' \
    L 'Subject\x00reject-me'
hostile_payload "HELO without NUL" 'malformed helo packet' H 'mx.example'
hostile_payload "CONNECT without family" 'malformed connect' C 'host\x00'
hostile_payload "CONNECT without address" 'malformed connect' \
    C 'host\x004\x00\x19'

W="OPTNEG with version 1"
from=$(log_lines)
optneg 1 >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
is "$(wc -c <"$WORK/out" | tr -d ' ')" 0 "$W: no reply"
once "$from" 'bad option negotiation \(version 1\)' "$W"
alive "$W"

# --- Order of commands.

W="CONNECT before OPTNEG"
from=$(log_lines)
{ connect_pkt client.example 192.0.2.9; optneg; message_pkts reject-me; } \
    >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
is "$(wc -c <"$WORK/out" | tr -d ' ')" 0 "$W: no reply at all"
once "$from" 'connect before option negotiation' "$W"
alive "$W"

W="EOM before OPTNEG"
from=$(log_lines)
pkt E >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
once "$from" 'eom before option negotiation' "$W"
alive "$W"

W="MACRO before OPTNEG"
from=$(log_lines)
{
	pkt D 'Cj\x00mx.example.org\x00'
	optneg
	connect_pkt client.example 192.0.2.9
	message_pkts reject-me
	pkt Q
} >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
is "$(reply_cmds "$WORK/out")" "Occccy" "$W is allowed: the message is answered"
like "$(replies "$WORK/out" | tail -1)" '^y 550 5\.7\.1 .*\(r1\)\\0$' \
    "$W: the verdict is the reject"
is "$(tail -n +"$from" "$WORK/log" | grep -Ec 'warn|closed|before')" 0 \
    "$W: nothing logged as wrong"

W="BODY before MAIL, then EOM twice"
from=$(log_lines)
{
	optneg
	pkt B 'a body with no transaction\r\n'
	pkt E
	pkt E
	message_pkts reject-me
	pkt Q
} >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
is "$(reply_cmds "$WORK/out")" "Ocaacccy" \
    "$W: every command answered, each EOM with a verdict"
like "$(replies "$WORK/out" | tail -1)" '^y 550 5\.7\.1 .*\(r1\)\\0$' \
    "$W: the next message on the connection is rejected"
alive "$W"

W="RCPT, HEADER and EOH before MAIL, HELO inside the transaction"
from=$(log_lines)
{
	optneg
	pkt R '<rcpt@example.net>\x00'
	pkt L 'Subject\x00hello\x00'
	pkt N
	pkt M '<a@example.org>\x00'
	pkt H 'late.example\x00'
	pkt L 'Subject\x00reject-me\x00'
	pkt N
	pkt N
	pkt E
	pkt Q
} >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
is "$(reply_cmds "$WORK/out")" "Occccccccy" "$W: all answered, then the verdict"
alive "$W"

W="unknown command after OPTNEG"
from=$(log_lines)
{
	optneg
	pkt Z 'junk\x00'
	pkt '~'
	connect_pkt client.example 192.0.2.9
	message_pkts reject-me
	pkt Q
} >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
is "$(reply_cmds "$WORK/out")" "Occccy" \
    "$W: ignored without a reply, the connection stays open"
like "$(replies "$WORK/out" | tail -1)" '^y 550 5\.7\.1 .*\(r1\)\\0$' \
    "$W: the message after it is rejected"
once "$from" 'unknown command 0x5a ignored' "$W (Z)"
once "$from" 'unknown command 0x7e ignored' "$W (~)"
alive "$W"

W="QUIT_NC between two SMTP sessions"
from=$(log_lines)
{
	optneg
	pkt D 'Cj\x00mx-old\x00'
	connect_pkt bad.phish.example 192.0.2.9
	message_pkts hello
	pkt K
	connect_pkt good.example.org 192.0.2.10
	message_pkts macro-test
	pkt Q
} >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
is "$(reply_cmds "$WORK/out")" "Occccycccca" \
    "$W: no reply to QUIT_NC, the second session is answered"
like "$(replies "$WORK/out" | sed -n 6p)" '^y 550 5\.7\.1 bad host\\0$' \
    "$W: first session rejected by its host name"
like "$(replies "$WORK/out" | tail -1)" '^a $' \
    "$W: second session accepted: host and CONNECT macros were reset"

W="CONNECT families 6 (with IPv6: prefix), L and U"
from=$(log_lines)
{
	optneg
	pkt C 'bad6.example\x006\x00\x19IPv6:2001:db8:bad::1\x00'
	message_pkts hello
	pkt K
	pkt C 'localhost\x00L\x00\x00/run/smtpd.sock\x00'
	message_pkts hello
	pkt K
	pkt C 'unknown\x00U'
	message_pkts hello
	pkt Q
} >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
is "$(reply_cmds "$WORK/out")" "Occccyccccacccca" "$W: each session answered"
like "$(replies "$WORK/out" | sed -n 6p)" '^y 550 5\.7\.1 bad ip6\\0$' \
    "$W: remote_ip of family 6 is the address without IPv6:"
is "$(tail -n +"$from" "$WORK/log" | grep -Ec 'malformed|closed')" 0 \
    "$W: nothing logged as malformed"

# --- Silence and floods.

W="peer stops mid-packet (timeout = 2)"
from=$(log_lines)
{ optneg; printf '\x00\x00\x00\x20LSubj'; } >"$WORK/in"
t0=$(date +%s%N)
raw "$WORK/in" "$WORK/out" 8; st=$?
t=$((($(date +%s%N) - t0) / 1000000))
closed $st "$W"
ok $((t < 1500 || t > 6000)) "$W: closed after about 2 s (took $t ms)"
once "$from" 'connection closed: timeout' "$W"
alive "$W"

W="every worker held by a silent peer"
from=$(log_lines)
optneg >"$WORK/in"
for fd in 4 5 6 7; do
	eval "exec $fd<>/dev/tcp/127.0.0.1/$PM_PORT"
	cat "$WORK/in" >&$fd
done
wait_until 5 logged_n "$from" 'negotiated' 4
ok $? "$W: all $MAX_WORKERS connections were taken by workers"
t0=$(date +%s%N)
got=$(client -t 15 "$WORK/phish.eml" 2>&1)
t=$((($(date +%s%N) - t0) / 1000000))
is "${got#"$WORK/phish.eml: "}" "$REJECT" \
    "$W: a client waiting behind them is served"
ok $((t < 1000 || t > 8000)) \
    "$W: once the timeout freed a worker (waited $t ms)"
wait_until 5 logged_n "$from" 'connection closed: timeout' 4
ok $? "$W: each silent connection timed out"
for fd in 4 5 6 7; do eval "exec $fd>&-"; done
alive "$W"

W="garbage flood before OPTNEG"
from=$(log_lines)
yes GARBAGE | head -c 262144 >"$WORK/in"
raw "$WORK/in" "$WORK/out"; closed $? "$W"
is "$(wc -c <"$WORK/out" | tr -d ' ')" 0 "$W: no reply"
once "$from" 'connection closed: packet too large' "$W"
alive "$W"

W="flood of 500 unknown commands"
from=$(log_lines)
{
	optneg
	for i in $(seq 500); do printf '\x00\x00\x00\x05Xjunk'; done
	message_pkts reject-me
	pkt Q
} >"$WORK/in"
raw "$WORK/in" "$WORK/out" 10; closed $? "$W"
is "$(reply_cmds "$WORK/out")" "Occcy" "$W: the message after them is answered"
once "$from" 'unknown command' "$W (not one line per packet)"
alive "$W"

W="1024 pipelined messages on one connection"
from=$(log_lines)
{ message_pkts hello; message_pkts reject-me; } >"$WORK/pair"
for i in 1 2 3 4 5 6 7 8 9; do		# 2^9 pairs
	cat "$WORK/pair" "$WORK/pair" >"$WORK/pair2"
	mv "$WORK/pair2" "$WORK/pair"
done
{
	optneg 6 0x1ff 0x1fffff
	connect_pkt client.example 192.0.2.9
	cat "$WORK/pair"
	pkt Q
} >"$WORK/in"
raw "$WORK/in" "$WORK/out" 20; closed $? "$W"
is "$(replies "$WORK/out" | sed 1d | cut -c1 | tr -d '\n')" \
    "$(printf 'ay%.0s' $(seq 512))" \
    "$W: with no-reply steps, one verdict per message, in order"
alive "$W"

is "$(log_count 'killed by signal|exited with status [1-9]')" 0 \
    "no worker crashed or failed"
pm_stop
ok $? "the daemon exits cleanly on SIGTERM"

done_testing
