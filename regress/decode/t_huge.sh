#!/usr/bin/env bash
#
# Huge messages, generated here and streamed to the daemon as an MTA
# sends them (regress/hostile_mta reads them from a pipe; nothing big is
# written to disk): a 50 MB header, at the top (one packet, over the
# 1 MiB a packet may have) and in a MIME part (body bytes), a 100 MB
# line without a newline, and 100,000 MIME parts.  With the default
# limits each gets the verdict the manual gives: the connection closed
# for the packet, else the filters on what max_message_size and
# max_mime_parts kept, the limit named in the log line.  Each within
# seconds, with no worker dying and none holding much more memory than
# max_message_size.

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/lib.sh"

: "${PHISHMILTER:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter}"
: "${CLIENT:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter-client}"
: "${HOSTILE_MTA:=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}/regress/hostile_mta}"

[ -x "$PHISHMILTER" ] || skip_all "no daemon built at $PHISHMILTER"
[ -x "$CLIENT" ] || skip_all "no client built at $CLIENT"
[ -x "$HOSTILE_MTA" ] || skip_all "no regress/hostile_mta built"
command -v awk >/dev/null || skip_all "awk(1) not found"

export LC_ALL=C
MIN_SPARE=2 MAX_SPARE=4 MAX_WORKERS=4 TIMEOUT=30
export MIN_SPARE MAX_SPARE MAX_WORKERS TIMEOUT
# Under AddressSanitizer freed memory is held in quarantine: no bound.
ASAN=0
ldd "$PHISHMILTER" 2>/dev/null | grep -q libasan && ASAN=1
REJECT='reject 550 5.7.1 f_marker'

# headers SUBJECT [CONTENT-TYPE]: the top of a message.
headers() {
	printf 'From: Sender <sender@example.org>\nTo: <rcpt@example.net>\n'
	printf 'Subject: %s\nMIME-Version: 1.0\n' "$1"
	[ -n "${2:-}" ] && printf 'Content-Type: %s\n' "$2"
	printf '\n'
}

# bytes N CHAR: N copies of CHAR, no newline.
bytes() {
	head -c "$1" /dev/zero | tr '\0' "$2"
}

# stream SECONDS GENERATOR...: the generator's output streamed to the
# daemon; the verdict (or "closed: why") in $GOT, the time in $MS.
stream() {
	local limit=$1 out
	shift
	out=$("$@" | "$HOSTILE_MTA" -p "$PM_PORT" -t "$limit" send 2>&1)
	GOT=$(printf '%s\n' "$out" | head -1)
	MS=$(printf '%s\n' "$out" | sed -n 's/^ms=//p')
	MS=${MS:-0}
}

# verdict_log FROM FILTER LIMITS: the verdict line, from line FROM on,
# names that filter and exactly those limits.
verdict_log() {
	wait_until 5 log_has "verdict=[a-z]+ filter=$2 ms=[0-9.]+ limits=$3( |\$)" "$1"
}

# alive WHAT: no worker died since the last check, none holds more than
# MAX_RSS_KB at its peak, min_spare workers run, and a normal client
# gets its verdict.
SEEN=1
MAX_RSS_KB=$((200 * 1024))	# 10M kept, and its decoded copies
alive() {
	local died got w peak=0 hwm d
	died=$(tail -n +"$SEEN" "$WORK/log" |
	    grep -E 'worker [0-9]+ (killed by signal|exited with status)')
	is "$died" "" "$1: no worker died"
	for w in $(pm_workers); do
		hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' \
		    "/proc/$w/status" 2>/dev/null)
		[ "${hwm:-0}" -gt "$peak" ] && peak=$hwm
	done
	if [ "$ASAN" -eq 1 ]; then
		echo "ok $((T_N + 1)) # SKIP $1: memory peak (AddressSanitizer)"
		T_N=$((T_N + 1))
	else
		d="no worker's memory peaked above $((MAX_RSS_KB / 1024)) MB"
		[ "$peak" -le "$MAX_RSS_KB" ]
		ok $? "$1: $d ($((peak / 1024)) MB)"
	fi
	pm_wait_workers "$MIN_SPARE"
	ok $? "$1: $MIN_SPARE workers run"
	got=$(client -t 20 "$WORK/small.eml" 2>&1)
	is "${got#"$WORK/small.eml: "}" "$REJECT" "$1: then a normal client gets its verdict"
	SEEN=$(log_lines)
}

pm_conf "$WORK/huge.conf" <<'EOF'
filter f_marker {
	match = { 'decode_text:hostile-marker' }
	action = reject
	reply = "550 5.7.1 f_marker"
}
EOF
{ headers small 'text/plain'; echo hostile-marker; } >"$WORK/small.eml"
pm_must_start "$WORK/huge.conf"
pm_wait_workers "$MIN_SPARE"
alive "at start"

# --- A 50 MB Subject: one HEADER packet of 50 MB.  Packets are at most
# 1 MiB (Postfix cuts a header at header_size_limit, 100 KB by
# default): the daemon closes the connection after reading the length,
# and the MTA applies its milter_default_action.

top_header() {
	printf 'From: <sender@example.org>\nSubject: '
	bytes 50000000 S
	printf '\n\nhostile-marker\n'
}
W="a 50 MB Subject header"
from=$(log_lines)
stream 20 top_header
like "$GOT" '^closed: ' "$W: the connection is closed ($GOT)"
[ "$MS" -lt 10000 ]
ok $? "$W: at once (took $MS ms)"
wait_until 5 log_has 'connection closed: packet too large \(500000[0-9]{2} bytes\)' "$from"
ok $? "$W: the log says: packet too large"
alive "$W"

# --- A 50 MB header in a MIME part: body bytes, of which the first
# max_message_size (10M) are kept; the first part decides.

part_header() {
	headers 'long part header' 'multipart/mixed; boundary="B"'
	printf -- '--B\nContent-Type: text/plain\n\nhostile-marker\n'
	printf -- '--B\nContent-Type: text/plain\nX-Long: '
	bytes 50000000 A
	printf '\n\nlast part\n--B--\n'
}
W="a 50 MB header in a MIME part"
from=$(log_lines)
stream 60 part_header
is "$GOT" "$REJECT" "$W: the part before it decides"
[ "$MS" -lt 30000 ]
ok $? "$W: within 30 s (took $MS ms)"
verdict_log "$from" f_marker max_message_size
ok $? "$W: the log line says limits=max_message_size"
alive "$W"

# --- A 100 MB line without a newline, the marker at its start, then
# without the marker: oversize_action (accept by default) applies.

long_line() {
	headers 'long line' 'text/plain; charset=us-ascii'
	printf '%s ' "$1"
	bytes 100000000 x
}
W="a 100 MB line without a newline"
from=$(log_lines)
stream 60 long_line hostile-marker
is "$GOT" "$REJECT" "$W: the text kept decides"
[ "$MS" -lt 30000 ]
ok $? "$W: within 30 s (took $MS ms)"
verdict_log "$from" f_marker max_message_size
ok $? "$W: the log line says limits=max_message_size"
from=$(log_lines)
stream 60 long_line nothing
is "$GOT" accept "$W, no marker: oversize_action (accept)"
verdict_log "$from" - max_message_size
ok $? "$W, no marker: limits=max_message_size logged"
alive "$W"

# --- 100,000 parts (5 MB): the first max_mime_parts (1000) are decoded.

parts() {
	headers 'many parts' 'multipart/mixed; boundary="B"'
	awk 'BEGIN {
		for (i = 1; i <= 100000; i++)
			printf "--B\nContent-Type: text/plain\n\npart %d %s\n",
			    i, i == 1 ? "hostile-marker" : "filler"
		printf "--B--\n"
	}'
}
W="100,000 MIME parts"
from=$(log_lines)
stream 60 parts
is "$GOT" "$REJECT" "$W: the first part decides"
[ "$MS" -lt 30000 ]
ok $? "$W: within 30 s (took $MS ms)"
verdict_log "$from" f_marker max_mime_parts
ok $? "$W: the log line says limits=max_mime_parts"
alive "$W"

pm_stop
ok $? "the daemon exits cleanly on SIGTERM"
pm_diag_log
done_testing
