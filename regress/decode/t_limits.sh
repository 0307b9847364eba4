#!/usr/bin/env bash
#
# Decoding limits and hostile decode inputs, through the daemon (the
# project's client as the MTA).  A message over max_mime_depth,
# max_mime_parts, max_headers or max_message_size still gets a verdict:
# a filter on a value that was decoded still decides, oversize_action
# applies when none does, and the log line names the limit
# ("limits=max_mime_depth").  Then messages built to hurt the decoder
# (very deep or very wide MIME trees, huge lines, broken encodings,
# invalid text) must each get a verdict within seconds, and no worker
# may die.  The messages are written here with awk and printf.

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/lib.sh"

: "${PHISHMILTER:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter}"
: "${CLIENT:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter-client}"

[ -x "$PHISHMILTER" ] || skip_all "no daemon built at $PHISHMILTER"
[ -x "$CLIENT" ] || skip_all "no client built at $CLIENT"
command -v awk >/dev/null || skip_all "awk(1) not found"

export LC_ALL=C
MIN_SPARE=2 MAX_SPARE=4 MAX_WORKERS=8 TIMEOUT=30
export MIN_SPARE MAX_SPARE MAX_WORKERS TIMEOUT

# --- Messages -----------------------------------------------------------

# headers SUBJECT [CONTENT-TYPE]: the top of a message.
headers() {
	printf 'From: Sender <sender@example.org>\nTo: <rcpt@example.net>\n'
	printf 'Subject: %s\nMessage-ID: <%s@example.org>\n' "$1" "$RANDOM"
	printf 'MIME-Version: 1.0\n'
	[ -n "${2:-}" ] && printf 'Content-Type: %s\n' "$2"
	printf '\n'
}

# nested FILE LEVELS TEXT-AT-TOP TEXT-AT-BOTTOM [FILLER-LINES]: LEVELS
# multiparts one inside the other; the first holds a text part with
# TEXT-AT-TOP, the innermost one with TEXT-AT-BOTTOM (and FILLER-LINES
# lines of 80 bytes after it).
nested() {
	{
		headers "nested $2" 'multipart/mixed; boundary="b0"'
		awk -v n="$2" -v top="$3" -v bottom="$4" -v fill="${5:-0}" '
		BEGIN {
			printf "--b0\nContent-Type: text/plain\n\n%s\n", top
			for (i = 1; i < n; i++)
				printf "--b%d\nContent-Type: multipart/mixed;" \
				    " boundary=\"b%d\"\n\n", i - 1, i
			printf "--b%d\nContent-Type: text/plain\n\n%s\n",
			    n - 1, bottom
			line = sprintf("%080d", 0)
			for (i = 0; i < fill; i++)
				print line
			for (i = n - 1; i >= 0; i--)
				printf "--b%d--\n", i
		}'
	} >"$1"
}

# rfc822_chain FILE LEVELS TEXT: a text part with TEXT, then LEVELS
# message/rfc822 parts one inside the other.
rfc822_chain() {
	{
		headers "rfc822 chain $2" 'multipart/mixed; boundary="R"'
		printf -- '--R\nContent-Type: text/plain\n\n%s\n' "$3"
		printf -- '--R\nContent-Type: message/rfc822\n\n'
		awk -v n="$2" 'BEGIN {
			for (i = 1; i < n; i++)
				printf "Content-Type: message/rfc822\n\n"
			printf "Content-Type: text/plain\n\nbottom\n"
		}'
		printf -- '--R--\n'
	} >"$1"
}

# wide FILE PARTS FIRST-TEXT LAST-TEXT: a multipart of PARTS text parts.
wide() {
	{
		headers "wide $2" 'multipart/mixed; boundary="B"'
		awk -v n="$2" -v first="$3" -v last="$4" 'BEGIN {
			for (i = 1; i <= n; i++)
				printf "--B\nContent-Type: text/plain\n\n" \
				    "part %d %s\n", i, i == 1 ? first : \
				    i == n ? last : "filler"
			printf "--B--\n"
		}'
	} >"$1"
}

# bytes N CHAR: N copies of CHAR, no newline.
bytes() {
	head -c "$1" /dev/zero | tr '\0' "$2"
}

# --- Helpers ------------------------------------------------------------

# send FILE [TIMEOUT]: the client's verdict line, without the file name,
# in $GOT; the seconds it took in $SECS.
send() {
	local t0 t1
	t0=$(date +%s%N)
	GOT=$(client -t "${2:-20}" "$1" 2>&1 | head -1)
	t1=$(date +%s%N)
	GOT=${GOT#"$1": }
	SECS=$(((t1 - t0) / 1000000000))
}

# verdict_log FROM FILTER LIMITS: the daemon logged, from line FROM on,
# the verdict line with that filter and exactly those limits.
verdict_log() {
	wait_until 5 log_has "verdict=[a-z]+ filter=$2 ms=[0-9.]+ limits=$3( |\$)" "$1"
}

# workers_survive DESCRIPTION: the parent logged no worker's death (a
# signal, or a status other than 0) since the last check, and the pool
# is back to min_spare workers.  (A worker's pid may go away without
# harm: the parent retires idle workers beyond max_spare.)
SEEN=1
workers_survive() {
	local died
	died=$(tail -n +"$SEEN" "$WORK/log" |
	    grep -E 'worker [0-9]+ (killed by signal|exited with status)')
	pm_wait_workers "$MIN_SPARE" ||
	    died="$died (only $(pm_workers | wc -l) workers)"
	is "$died" "" "$1"
	SEEN=$(log_lines)
}

# --- Limits -------------------------------------------------------------

pm_conf "$WORK/limits.conf" <<'EOF'
max_mime_depth = 5
max_mime_parts = 50
max_headers = 30
max_message_size = 100K
oversize_action = tempfail
filter f_deep {
	match = { 'decode_text:deep-level-marker' }
	action = reject
	reply = "550 5.7.1 f_deep"
}
filter f_late_part {
	match = { 'decode_text:late-part-marker' }
	action = reject
	reply = "550 5.7.1 f_late_part"
}
filter f_late_subject {
	match = { 'decode_subject:late-subject' }
	action = reject
	reply = "550 5.7.1 f_late_subject"
}
filter f_tail {
	match = { 'decode_text:tail-marker' }
	action = reject
	reply = "550 5.7.1 f_tail"
}
filter f_shallow {
	match = { 'decode_text:shallow-marker' }
	action = reject
	reply = "550 5.7.1 f_shallow"
}
filter f_early_part {
	match = { 'decode_text:early-part-marker' }
	action = reject
	reply = "550 5.7.1 f_early_part"
}
filter f_early_from {
	match = { 'decode_from:early-from' }
	action = reject
	reply = "550 5.7.1 f_early_from"
}
filter f_oversize_subject {
	match = { 'decode_subject:oversize-subject' }
	action = discard
}
EOF
pm_must_start "$WORK/limits.conf" 'daemon with small limits starts'
pm_wait_workers 2
SEEN=$(log_lines)

# max_mime_depth: 40 levels, the limit 5.
nested "$WORK/deep40.eml" 40 shallow-marker deep-level-marker
from=$(log_lines)
send "$WORK/deep40.eml"
is "$GOT" 'reject 550 5.7.1 f_shallow' \
    'max_mime_depth: text above the limit decides, text below is not read'
verdict_log "$from" f_shallow max_mime_depth
ok $? 'max_mime_depth: the log line says limits=max_mime_depth'

nested "$WORK/deep40-none.eml" 40 nothing deep-level-marker
from=$(log_lines)
send "$WORK/deep40-none.eml"
is "$GOT" accept 'max_mime_depth: no filter holds, accepted'
verdict_log "$from" - max_mime_depth
ok $? 'max_mime_depth: limits= logged also without a deciding filter'

# max_mime_parts: 60 parts, the limit 50.
wide "$WORK/wide60.eml" 60 early-part-marker late-part-marker
from=$(log_lines)
send "$WORK/wide60.eml"
is "$GOT" 'reject 550 5.7.1 f_early_part' \
    'max_mime_parts: the first part decides, the 60th is not read'
verdict_log "$from" f_early_part max_mime_parts
ok $? 'max_mime_parts: the log line says limits=max_mime_parts'

# max_headers: 40 headers, the limit 30; the Subject is the 40th.
{
	printf 'From: early-from <sender@example.org>\nTo: <rcpt@example.net>\n'
	awk 'BEGIN { for (i = 3; i < 40; i++) printf "X-Filler-%d: %d\n", i, i }'
	printf 'Subject: late-subject\n\nHello.\n'
} >"$WORK/headers40.eml"
from=$(log_lines)
send "$WORK/headers40.eml"
is "$GOT" 'reject 550 5.7.1 f_early_from' \
    'max_headers: an early header decides, one past the limit is not read'
verdict_log "$from" f_early_from max_headers
ok $? 'max_headers: the log line says limits=max_headers'

# max_message_size: 200 KB, the limit 100 KB.
{
	headers 'big' 'text/plain; charset=us-ascii'
	echo 'early-part-marker'
	awk 'BEGIN { for (i = 0; i < 2500; i++) printf "%079d\n", i }'
	echo 'tail-marker'
} >"$WORK/big-early.eml"
from=$(log_lines)
send "$WORK/big-early.eml"
is "$GOT" 'reject 550 5.7.1 f_early_part' \
    'max_message_size: text kept before the cut decides'
verdict_log "$from" f_early_part max_message_size
ok $? 'max_message_size: the log line says limits=max_message_size'

{
	headers 'oversize-subject' 'text/plain; charset=us-ascii'
	awk 'BEGIN { for (i = 0; i < 2500; i++) printf "%079d\n", i }'
} >"$WORK/big-subject.eml"
from=$(log_lines)
send "$WORK/big-subject.eml"
is "$GOT" discard 'max_message_size: a filter on the Subject decides'
verdict_log "$from" f_oversize_subject max_message_size
ok $? 'max_message_size: limits= logged with the deciding filter'

{
	headers 'nothing' 'text/plain; charset=us-ascii'
	awk 'BEGIN { for (i = 0; i < 2500; i++) printf "%079d\n", i }'
	echo 'tail-marker'
} >"$WORK/big-none.eml"
from=$(log_lines)
send "$WORK/big-none.eml"
like "$GOT" '^tempfail 451 4\.7\.1 .*\(oversize\)' \
    'max_message_size: no filter holds, oversize_action (tempfail) applies'
verdict_log "$from" oversize max_message_size
ok $? 'max_message_size: the log line names the oversize verdict and limit'

workers_survive 'limits: no worker died'
pm_stop
ok $? 'daemon with small limits stops cleanly'

# --- Hostile decode inputs ----------------------------------------------

pm_conf "$WORK/hostile.conf" <<'EOF'
max_message_size = 64M
filter f_marker {
	match = { 'decode_text:hostile-marker' }
	action = reject
	reply = "550 5.7.1 f_marker"
}
EOF
pm_must_start "$WORK/hostile.conf" 'daemon for hostile input starts'
pm_wait_workers 2
SEEN=$(log_lines)
REJECT='reject 550 5.7.1 f_marker'

# hostile NAME FILE [SECONDS]: the message gets the marker's verdict in
# SECONDS (5 by default), and no worker dies.
hostile() {
	local limit=${3:-5}
	send "$2" $((limit + 5))
	is "$GOT" "$REJECT" "$1: verdict"
	ok $((SECS > limit)) "$1: within $limit s (took $SECS s)"
	workers_survive "$1: no worker died"
}

nested "$WORK/deep1000.eml" 1000 hostile-marker bottom
from=$(log_lines)
hostile '1,000 nested multiparts' "$WORK/deep1000.eml"
verdict_log "$from" f_marker max_mime_depth
ok $? '1,000 nested multiparts: limits=max_mime_depth logged'

wide "$WORK/wide20000.eml" 20000 hostile-marker last
from=$(log_lines)
hostile '20,000 parts' "$WORK/wide20000.eml"
verdict_log "$from" f_marker max_mime_parts
ok $? '20,000 parts: limits=max_mime_parts logged'

# A header line of 5 MB inside a MIME part: the body reaches the
# daemon in chunks, so this is the decoder's problem.
{
	headers 'long part header' 'multipart/mixed; boundary="B"'
	printf -- '--B\nContent-Type: text/plain\nX-Long: '
	bytes 5000000 A
	printf '\n\nfirst part\n--B\nContent-Type: text/plain\n\n'
	printf 'hostile-marker\n--B--\n'
} >"$WORK/part-header-5m.eml"
hostile 'a 5 MB header line in a MIME part' "$WORK/part-header-5m.eml"

# Top-level headers travel one per packet: 900 KB fits in the 1 MB a
# packet may have, 5 MB does not (no MTA sends that: Postfix cuts a
# header at header_size_limit, 100 KB by default).
{
	printf 'From: a@example.org\nTo: b@example.net\nSubject: '
	bytes 900000 S
	printf '\n\nhostile-marker\n'
} >"$WORK/header-900k.eml"
hostile 'a 900 KB Subject line' "$WORK/header-900k.eml"

{
	printf 'From: a@example.org\nTo: b@example.net\nSubject: '
	bytes 5000000 S
	printf '\n\nhostile-marker\n'
} >"$WORK/header-5m.eml"
from=$(log_lines)
send "$WORK/header-5m.eml" 10
like "$GOT" '^error ' 'a 5 MB Subject line: over the packet limit, connection closed'
wait_until 5 log_has 'connection closed: packet too large' "$from"
ok $? 'a 5 MB Subject line: the log says why'
workers_survive 'a 5 MB Subject line: no worker died'

{
	headers 'long body line' 'text/plain; charset=us-ascii'
	printf 'hostile-marker '
	bytes 20000000 x
} >"$WORK/body-line-20m.eml"
hostile 'a 20 MB body line without a newline' "$WORK/body-line-20m.eml" 8

# Broken base64 and quoted-printable in every part and encoded word.
{
	printf 'From: =?UTF-8?B?!!!?= <a@example.org>\nTo: b@example.net\n'
	printf 'Subject: =?UTF-8?Q?=ZZ=?= =?UTF-8?B?=?= =?x?Q??= =?UTF-8?B?5LiJ6\n'
	printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n'
	awk 'BEGIN {
		printf "--B\nContent-Type: text/plain; charset=utf-8\n"
		printf "Content-Transfer-Encoding: quoted-printable\n\n"
		printf "=G0 hostile-=\nmarker =Z\n"
		for (i = 0; i < 450; i++) {
			printf "--B\nContent-Type: text/plain; charset=utf-8\n"
			printf "Content-Transfer-Encoding: base64\n\n"
			for (j = 0; j < 50; j++)
				printf "=!*%%$#@^YW=Jj=ZA====ab\n"
			printf "--B\nContent-Type: text/html; charset=utf-8\n"
			printf "Content-Transfer-Encoding: quoted-printable\n\n"
			for (j = 0; j < 50; j++)
				printf "=ZZ=G=\n=\r=0=x0=FF=C3=A=\n"
		}
		printf "--B--\n"
	}'
} >"$WORK/broken-encodings.eml"
hostile 'broken base64 and quoted-printable everywhere' \
    "$WORK/broken-encodings.eml"

# ISO-2022-JP escape sequences that never return to ASCII.
{
	printf 'From: a@example.org\nTo: b@example.net\n'
	printf 'Subject: =?ISO-2022-JP?B?GyRC?= \033$B\n'
	printf 'Content-Type: text/plain; charset=iso-2022-jp\n\n'
	printf 'hostile-marker\n'
	awk 'BEGIN {
		for (i = 0; i < 100000; i++)
			printf "\033$B\033(I\033$(D\033.A\033N!!#$"
		printf "\033$B"
	}'
} >"$WORK/jis-escapes.eml"
hostile 'ISO-2022-JP escapes that never return to ASCII' \
    "$WORK/jis-escapes.eml"

# Invalid UTF-8 in every header and all through the body.
{
	printf 'From: \377\376\300\200 <a@example.org>\nTo: \355\240\200@example.net\n'
	printf 'Subject: \364\220\200\200\303\n \343\201\n'
	printf 'Content-Type: text/html; charset=utf-8\n\n'
	printf '<p>\303hostile-marker\377</p>\n'
	awk 'BEGIN {
		for (i = 0; i < 100000; i++)
			printf "\303<a href=\"http://\377\376.example/\343\201\">" \
			    "\360\237\230</a>\355\277\277&#xD800;&#x110000;&#0;"
		printf "\n"
	}'
} >"$WORK/invalid-utf8.eml"
hostile 'invalid UTF-8 everywhere' "$WORK/invalid-utf8.eml"

# Beyond max_mime_depth the tree is not walked, but libetpan parses all
# of it first, recursively, and each level of multipart scans the rest
# of the message for its boundary.  Both stay within the default
# max_message_size (10M).
rfc822_chain "$WORK/rfc822-40000.eml" 40000 hostile-marker
from=$(log_lines)
hostile '40,000 nested message/rfc822 parts (1.2 MB)' \
    "$WORK/rfc822-40000.eml"
verdict_log "$from" f_marker max_mime_depth
ok $? '40,000 nested message/rfc822 parts: limits=max_mime_depth logged'
nested "$WORK/deep20000.eml" 20000 hostile-marker bottom
hostile '20,000 nested multiparts (1.4 MB)' "$WORK/deep20000.eml"
nested "$WORK/deep1000-9m.eml" 1000 hostile-marker bottom 110000
hostile '1,000 nested multiparts over 9 MB' "$WORK/deep1000-9m.eml"

pm_stop
ok $? 'daemon for hostile input stops cleanly'

done_testing
