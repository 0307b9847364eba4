#!/bin/bash
# contrib/milteragent-import: each conversion rule on fixtures of our own
# (regress/import/fixtures), then MilterAgent's shipped rule set
# ($CORPUS/milteragent) converted and run against messages that carry,
# in their X-Expect header, the verdict MilterAgent's semantics give.

. "$regress/lib.sh"

IMPORT="$top_srcdir/contrib/milteragent-import"
FX="$regress/import/fixtures"
MSGS="$regress/import/msgs"

command -v perl >/dev/null 2>&1 || skip_all "no perl"

# grep -F for a line of the converted file, as a test.
has() {		# has FILE FIXED-STRING DESCRIPTION
	grep -qF -- "$2" "$1"
	ok $? "$3"
}
hasnt() {	# hasnt FILE FIXED-STRING DESCRIPTION
	! grep -qF -- "$2" "$1"
	ok $? "$3"
}
# The body of filter NAME in FILE, one line.
body() {
	awk -v n="$2" '$1 == "filter" && $2 == n { on = 1 }
	    on { printf "%s ", $0 } on && /^}/ { exit }' "$1" |
	    tr -s ' \t' ' '
}
# The verdict of CONF on a message with SUBJECT and FROM.
verdict() {	# verdict CONF SUBJECT [FROM] [BODY]
	printf 'From: %s\r\nTo: b@example.org\r\nSubject: %s\r\n\r\n%s\r\n' \
	    "${3:-a@example.net}" "$2" "${4:-hello}" >"$WORK/m.eml"
	"$PHISHMILTER" -t -f "$1" "$WORK/m.eml" 2>&1 | sed 's/^[^:]*: //'
}

# --- usage and errors ------------------------------------------------

"$IMPORT" >/dev/null 2>&1
is $? 2 "no argument: usage, exit 2"
"$IMPORT" "$WORK/nonexistent.conf" >/dev/null 2>"$WORK/e"
is $? 1 "unreadable input: exit 1"
like "$(cat "$WORK/e")" "nonexistent.conf" "unreadable input is named"

# --- the fixtures ----------------------------------------------------

C="$WORK/fx.conf"
"$IMPORT" "$FX/ma.conf" >"$C" 2>"$WORK/fx.err"
is $? 0 "fixtures convert, exit 0"
E=$(cat "$WORK/fx.err")
out=$("$PHISHMILTER" -n -v -f "$C" 2>&1)
ok $? "phishmilter -n accepts the converted fixtures"
like "$out" ": 17 filters" "15 MilterAgent filters became 17"

like "$(head -1 "$C")" "^# .*converted from MilterAgent" "header comment"
has "$C" "#	$FX/ma.conf" "header names the main file"
has "$C" "#	$FX/ma.d/rules.conf" "header names the included file"
like "$(sed -n 2p "$C")" "[0-9]{4}-[0-9]{2}-[0-9]{2}" "header has the date"
like "$E" "include /nonexistent/ma.d/: not found, using" \
    "missing include directory taken next to the file"

# Keys.
has "$C" 'listen = "inet:192.0.2.1:4000"' "Listen HOST:PORT"
has "$C" 'timeout = 45' "Client_timeout"
has "$C" 'log_file = "/var/log/milteragent.log"' "Log_file"
has "$C" 'log_level = debug' "Log_level trace is debug"
has "$C" 'skip_networks = {}' "RemoteIP_Target 2 inspects every client"
has "$C" 'subject_prefix = "[SUSPECT] "' "WARN_Subject_Prefix, space added"
has "$C" '	report = true' "Spamhaus_report yes"
has "$C" '	url = "https://submit.example/api/v1/add/ip"' "Spamhaus_api_url"
has "$C" 'safe_address = { "192.0.2.0/24", "2001:db8::/32", "198.51.100.7" }' \
    "Spamhaus_safe_address: lists and repeated lines"
has "$C" 'token_file = "/etc/phishmilter/spamhaus.token"' "token_file"
hasnt "$C" "SECRET-TOKEN" "the API token is not in the configuration"
like "$E" "0600.*SECRET-TOKEN-0123456789" "the token is in a warning"
like "$E" "unknown key Bogus_key" "unknown key: warning"
has "$C" "# unknown MilterAgent key at $FX/ma.conf:16, not converted: Bogus_key 1" \
    "unknown key: comment"

# Filters.
is "$(body "$C" t_and)" \
    "filter t_and { match = { 'decode_from:Acme', 'header_from:!@acme\.example' } whitespace = strip action = reject } " \
    "AND chain: match"
is "$(body "$C" t_or)" \
    "filter t_or { any = { 'decode_subject:alpha', 'decode_subject:beta', 'decode_subject:gamma' } whitespace = strip action = reject } " \
    "OR chain: any"
is "$(body "$C" t_and_or)" \
    "filter t_and_or { match = { 'decode_from:Corp' } any = { 'decode_subject:one', 'decode_subject:two' } whitespace = strip action = discard } " \
    "AND then OR: match and any; DROP is discard"
is "$(body "$C" t_split)" \
    "filter t_split { match = { 'decode_subject:first' } whitespace = strip action = reject } " \
    "OR then AND: first filter"
is "$(body "$C" t_split_2)" \
    "filter t_split_2 { match = { 'decode_subject:second', 'decode_text:third' } whitespace = strip action = reject } " \
    "OR then AND: second filter"
has "$C" "'decode_html:https://evil\.example/'" '\: is a colon'
has "$C" "'decode_subject:\x{30C6}\x{30B9}\x{30C8}'" '\uXXXX is \x{XXXX}'
has "$C" "'decode_subject:it\'s'" "a quote is escaped"
has "$C" "'decode_subject:\\\\\\bMUFG'" 'a double backslash stays a literal backslash'
like "$E" 't_backslash.*literal backslash' '\\b: warning'
like "$(body "$C" t_warn)" "action = warn" "WARN is warn"
like "$(body "$C" t_warn.stop)" "match = \{ 'decode_subject:warnme' \}.*action = accept" \
    "WARN is followed by an accept: it ends the evaluation"
like "$(body "$C" t_dup_dup2)" "duptwo" "duplicate name renamed _dup2"
like "$E" 'duplicate filter name "t_dup" renamed "t_dup_dup2"' "duplicate: warning"
is "$(body "$C" t_unknown)" \
    "filter t_unknown { match = { 'decode_subject:unknowntarget' } whitespace = strip action = reject } " \
    "unknown target: rule dropped"
has "$C" '#   dropped: "decode_body:xyz:AND" (unknown target decode_body)' \
    "unknown target: comment"
like "$E" 'target "decode_body" unknown' "unknown target: warning"
is "$(body "$C" t_open)" "" "unterminated chain: no filter"
has "$C" "# filter[t_open] ($FX/ma.d/rules.conf:33): ignored by MilterAgent" \
    "unterminated chain: comment"
like "$(body "$C" t_lower)" "action = accept" "lower-case reject accepts, as in MilterAgent"
like "$E" 't_space\]: "two words" .*never match.*whitespace' "space: warning"
like "$E" 't_zw.*U\+200B' "zero-width character: warning"

# Verdicts of the converted fixtures.
is "$(verdict "$C" alpha)" "reject t_or" "verdict: OR, first rule"
is "$(verdict "$C" gamma)" "reject t_or" "verdict: OR, last rule"
is "$(verdict "$C" second)" "accept -" "verdict: OR then AND, AND part alone"
is "$(verdict "$C" second a@example.net third)" "reject t_split_2" \
    "verdict: OR then AND, AND part whole"
is "$(verdict "$C" 'x one' 'Corp <c@example.net>')" "discard t_and_or" \
    "verdict: AND then OR"
is "$(verdict "$C" 'テスト')" "reject t_uni" 'verdict: \uXXXX'
is "$(verdict "$C" "it's")" "reject t_quote" "verdict: quote"
is "$(verdict "$C" 'warnme dupone')" "accept t_warn.stop" \
    "verdict: WARN stops before a later REJECT"
is "$(verdict "$C" 'two words')" "accept -" \
    "verdict: a pattern with a space does not match (strip)"
is "$(verdict "$C" 'A c m e' 'A c m e <x@evil.example>')" "reject t_and" \
    "verdict: whitespace stripped as MilterAgent does"
is "$(verdict "$C" 'Acme' 'Acme <x@acme.example>')" "accept -" \
    "verdict: negated raw header"

# --- MilterAgent's rule set ------------------------------------------

MA="$CORPUS/milteragent"
if [ ! -d "$MA/MilterAgent.d" ]; then
	ok 0 "# SKIP $MA missing: MilterAgent's rule set not converted"
	done_testing
fi

C="$WORK/ma.conf"
"$IMPORT" "$MA/MilterAgent.conf.sample" "$MA/MilterAgent.d" >"$C" \
    2>"$WORK/ma.err"
is $? 0 "MilterAgent's rule set converts, exit 0"
E=$(cat "$WORK/ma.err")
out=$("$PHISHMILTER" -n -v -f "$C" 2>&1)
ok $? "phishmilter -n accepts it"
n=$(printf '%s\n' "$out" | sed -n 's/.*: \([0-9]*\) filters$/\1/p')
ok $([ "${n:-0}" -ge 375 ]; echo $?) "at least 375 filters ($n)"

# Every MilterAgent name is there, a duplicate as NAME_dup2.
names=$(cat "$MA"/MilterAgent.d/*.conf |
    sed -n 's/^[[:space:]]*filter\[\([^]]*\)\].*/\1/p')
total=$(printf '%s\n' "$names" | wc -l)
is "$total" 375 "375 filters in the corpus"
missing=0
for d in $(printf '%s\n' "$names" | sort | uniq -d); do
	grep -q "^filter ${d}_dup2 {" "$C" || missing=$((missing + 1))
	like "$E" "duplicate filter name \"$d\" renamed \"${d}_dup2\"" \
	    "duplicate $d: warning"
done
is "$(printf '%s\n' "$names" | sort | uniq -d | wc -l)" 3 "3 duplicate names"
for nm in $(printf '%s\n' "$names" | sort -u); do
	grep -q "^filter $nm {" "$C" || missing=$((missing + 1))
done
is "$missing" 0 "every MilterAgent filter name is a phishmilter filter"
like "$E" 'phish_mufg\]: "\\\\bMUFG" .*literal backslash' \
    '\\bMUFG: warning'
like "$E" 'phish_mufg\]: "\[\\uFEFF\]\+MUFG" .*U\+FEFF' \
    '[\uFEFF]+MUFG: warning'
has "$C" "[\x{FEFF}]+MUFG" '\uFEFF converted'

for m in "$MSGS"/*.eml; do
	want=$(sed -n 's/^X-Expect: *//p;/^\r\{0,1\}$/q' "$m" | tr -d '\r' |
	    head -1)
	got=$("$PHISHMILTER" -t -f "$C" "$m" 2>&1 | sed "s|^$m: ||")
	is "$got" "$want" "$(basename "$m"): $want"
done

done_testing
