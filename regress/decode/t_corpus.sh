#!/usr/bin/env bash
#
# Decoding over real mail nobody on the project wrote: the corpora in
# $CORPUS (../shared/corpus beside the checkout; see its README.md).
# "phishmilter -t -v" reads every message of each set: exactly one
# verdict line per file, exit 0, nothing on stderr.  The same bounces
# with LF and CRLF line ends decode alike; mail-parser's expected parses
# (NNN.json) give the Subject and addresses each message should decode
# to, compared after our normalisation; the SpamAssassin sample's GTUBE
# string is found in its decoded text; nearly every phishing message
# yields a From, a Subject, text and URLs.  With VALGRIND_TESTS=1, a
# sample of 50 phishing messages and the decode fixtures also run under
# valgrind.

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/lib.sh"

: "${PHISHMILTER:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter}"
: "${CORPUS:=$(cd "$(dirname "$0")/../../.." && pwd)/shared/corpus}"
MSGS=$(cd "$(dirname "$0")" && pwd)/msgs

[ -x "$PHISHMILTER" ] || skip_all "no daemon built at $PHISHMILTER"
[ -d "$CORPUS" ] || skip_all "no corpus at $CORPUS"

export LC_ALL=C

# Filters on both halves of the decoding (headers, MIME parts), so that
# the verdicts without -v decode too; GTUBE for the SpamAssassin sample.
cat >"$WORK/corpus.conf" <<'EOF'
listen = "inet:127.0.0.1:1"
filter gtube {
	match = { 'decode_text:XJS\*C4JDBQADN1\.NSBN3\*2IDNEN\*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL\*C\.34X' }
	action = reject
}
filter subject {
	match = { 'decode_subject:(?i)verify your account now' }
	action = quarantine
}
filter host {
	match = { 'url_host:\.(?:xn--[a-z0-9-]+|zip)$', 'attachment_type:^application/' }
	action = warn
}
EOF

# files SET: the messages of a set, one path per line, sorted.
files() {
	find "$CORPUS/$1" -type f ! -name SOURCE.txt ! -name COPYING \
	    ! -name LICENSE ! -name README.md ! -name '*.json' \
	    ! -name index.tsv | sort
}

# run_set SET MIN: -t -v over the set (at least MIN files) into
# $WORK/SET.out; one verdict line per file, in order, exit 0.
run_set() {
	local set=$1 n st
	files "$set" >"$WORK/$set.list"
	n=$(wc -l <"$WORK/$set.list")
	if [ "$n" -lt "$2" ]; then
		ok 1 "$set: at least $2 messages (found $n)"
		return
	fi
	xargs -d '\n' "$PHISHMILTER" -t -v -f "$WORK/corpus.conf" \
	    <"$WORK/$set.list" >"$WORK/$set.out" 2>"$WORK/$set.err"
	st=$?
	is "$st" 0 "$set: -t -v over $n messages exits 0"
	is "$(wc -c <"$WORK/$set.err")" 0 "$set: nothing on stderr"
	grep -v '^	' "$WORK/$set.out" >"$WORK/$set.verdicts"
	is "$(wc -l <"$WORK/$set.verdicts")" "$n" \
	    "$set: $n verdict lines, one per message"
	is "$(sed -E 's/: (accept|warn|reject|tempfail|discard|quarantine) [^ ]+$//' \
	    "$WORK/$set.verdicts")" "$(cat "$WORK/$set.list")" \
	    "$set: every message once, in order, as 'FILE: VERDICT FILTER'"
}

# decoded SET: "FILE<TAB>target: value" for every decoded value.
decoded() {
	awk '!/^\t/ { f = $0; sub(/: [a-z]+ [^ ]+$/, "", f); next }
	    /^\t(decode_|url|attachment_)/ { print f $0 }' "$WORK/$1.out"
}

run_set sisimai 800
run_set mail-parser 50
run_set python-email 40
run_set spamassassin 2
run_set phishing_pot 1600

# --- sisimai: LF and CRLF copies of a bounce decode alike ---------------

if [ -d "$CORPUS/sisimai/maildir/dos" ] && [ -d "$CORPUS/sisimai/maildir/bsd" ]
then
	decoded sisimai >"$WORK/sisimai.values"
	pairs=0 differ=
	for f in "$CORPUS"/sisimai/maildir/dos/*; do
		b=$CORPUS/sisimai/maildir/bsd/${f##*/}
		[ -f "$b" ] || continue
		pairs=$((pairs + 1))
		if [ "$(grep -F "$f	" "$WORK/sisimai.values" | cut -f2-)" != \
		    "$(grep -F "$b	" "$WORK/sisimai.values" | cut -f2-)" ]; then
			differ="$differ ${f##*/}"
		fi
	done
	is "${differ# }" "" "sisimai: $pairs bounces with CRLF decode as with LF"
	ok $((pairs < 50)) "sisimai: at least 50 CRLF/LF pairs (found $pairs)"
fi

# --- mail-parser: Subject and addresses as its expected parses ---------

# The expected values, normalised as text.c does (NFKD, invisible and
# control characters dropped, marks on Latin and Common letters
# dropped, whitespace runs made one space, NFC) and escaped as -v
# prints: "FILE<TAB>target: value".
mp_expected() {
	PYTHONIOENCODING=utf-8 python3 - "$@" <<'EOF'
import json, sys, unicodedata

def ignorable(c):
    o = ord(c)
    return (unicodedata.category(c) == 'Cf' or
            o in (0x34F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0) or
            0x180B <= o <= 0x180F or 0xFE00 <= o <= 0xFE0F or
            0xE0100 <= o <= 0xE01EF)

def plain_base(c):
    if c is None or c.isascii():
        return True
    name = unicodedata.name(c, '')
    return name.startswith('LATIN') or unicodedata.category(c)[0] in 'NPSZ'

def norm(s):
    out, space, base = [], False, None
    for c in unicodedata.normalize('NFKD', s):
        cat = unicodedata.category(c)
        if c.isspace() or c == '\0':
            space, base = bool(out), None
        elif ignorable(c) or cat == 'Cc':
            pass
        elif cat == 'Mn' and plain_base(base):
            pass
        else:
            if space:
                out.append(' ')
            space = False
            if cat[0] != 'M':
                base = c
            out.append(c)
    return unicodedata.normalize('NFC', ''.join(out))

def escape(s):
    r = []
    for c in s:
        if c == '\\':
            r.append('\\\\')
        elif c in '\n\r\t':
            r.append({'\n': '\\n', '\r': '\\r', '\t': '\\t'}[c])
        elif ord(c) < 0x20 or c == '\x7f':
            r.append('\\x%02x' % ord(c))
        else:
            r.append(c)
    return ''.join(r)

def addresses(v):
    out = []
    for a in v.get('List', []):
        name, addr = a.get('name'), a.get('address')
        if addr is None:
            return None     # a name alone: not an address to compare
        out.append('%s <%s>' % (norm(name), addr) if name else
                   '<%s>' % addr)
    return ', '.join(out) if out else None

for f in sys.argv[1:]:
    d = json.load(open(f, encoding='utf-8'))
    eml = f[:-len('.json')] + '.eml'
    for h in d['parts'][0]['headers']:
        v, name = h['value'], h['name']
        if not isinstance(v, dict):
            continue
        if name == 'subject' and 'Text' in v:
            print('%s\tdecode_subject: %s' % (eml, escape(norm(v['Text']))))
        elif name in ('from', 'to', 'cc', 'reply_to') and 'Address' in v:
            a = addresses(v['Address'])
            if a is not None:
                print('%s\tdecode_%s: %s' % (eml, name, escape(a)))
EOF
}

if ! command -v python3 >/dev/null; then
	ok 0 "mail-parser: expected parses # SKIP python3 not found"
elif ! ls "$CORPUS"/mail-parser/eml/*/*.json >/dev/null 2>&1; then
	ok 0 "mail-parser: expected parses # SKIP no .json files"
else
	decoded mail-parser >"$WORK/mp.values"
	mp_expected $(ls "$CORPUS"/mail-parser/eml/*/*.json |
	    grep -v '\.crlf\.json$') >"$WORK/mp.expected"
	ok $(($(wc -l <"$WORK/mp.expected") < 40)) \
	    "mail-parser: at least 40 expected values in the .json files"
	while IFS= read -r line; do
		f=${line%%	*}
		if grep -Fxq -- "$line" "$WORK/mp.values"; then
			ok 0 "mail-parser ${f#"$CORPUS"/mail-parser/eml/}: ${line#*	}"
		else
			ok 1 "mail-parser ${f#"$CORPUS"/mail-parser/eml/}: ${line#*	}"
			t=${line#*	}
			diag "$(grep -F -- "$f	${t%%:*}:" "$WORK/mp.values")"
		fi
	done <"$WORK/mp.expected"
fi

# --- spamassassin: GTUBE in the decoded text ---------------------------

is "$(grep -c 'sample-spam\.txt: reject gtube$' "$WORK/spamassassin.verdicts")" 1 \
    'spamassassin: the spam sample is caught by GTUBE in decode_text'
is "$(grep -c 'sample-nonspam\.txt: accept -$' "$WORK/spamassassin.verdicts")" 1 \
    'spamassassin: the ham sample is accepted'

# --- phishing_pot: what every phishing message yields ------------------

decoded phishing_pot >"$WORK/pp.values"
n=$(wc -l <"$WORK/phishing_pot.list")
for t in decode_from decode_subject decode_text url; do
	have=$(grep -F "	$t: " "$WORK/pp.values" | cut -f1 | sort -u | wc -l)
	case $t in
	url)	want=$((n * 90 / 100)) ;;
	*)	want=$((n * 99 / 100)) ;;
	esac
	ok $((have < want)) \
	    "phishing_pot: $have of $n messages have $t (want >= $want)"
done

# --- valgrind -----------------------------------------------------------

if [ "${VALGRIND_TESTS:-0}" != 1 ]; then
	ok 0 "valgrind # SKIP set VALGRIND_TESTS=1"
elif ! command -v valgrind >/dev/null; then
	ok 0 "valgrind # SKIP valgrind not found"
else
	# glibc's loader reads past a strdup'ed rpath (iconv modules).
	cat >"$WORK/vg.supp" <<'EOF'
{
   glibc-rtld-is_dst-strncmp-overread
   Memcheck:Addr8
   fun:strncmp
   fun:is_dst
}
EOF
	# No filters: PCRE2's JIT reads past its subject by design; -v
	# decodes every target all the same.
	echo 'listen = "inet:127.0.0.1:1"' >"$WORK/none.conf"
	awk 'NR % 33 == 1' "$WORK/phishing_pot.list" | head -50 |
	    xargs -d '\n' valgrind -q --error-exitcode=3 \
	    --suppressions="$WORK/vg.supp" --leak-check=full \
	    --errors-for-leak-kinds=definite \
	    "$PHISHMILTER" -t -v -f "$WORK/none.conf" \
	    >"$WORK/vg.out" 2>"$WORK/vg.err"
	st=$?
	is "$st" 0 'valgrind: 50 phishing messages, no memory errors or leaks'
	[ "$st" -eq 0 ] || diag "$(head -40 "$WORK/vg.err")"
	valgrind -q --error-exitcode=3 --suppressions="$WORK/vg.supp" \
	    --leak-check=full --errors-for-leak-kinds=definite \
	    "$PHISHMILTER" -t -v -f "$WORK/none.conf" "$MSGS"/*.eml \
	    >"$WORK/vg.out" 2>"$WORK/vg.err"
	st=$?
	is "$st" 0 'valgrind: the decode fixtures, no memory errors or leaks'
	[ "$st" -eq 0 ] || diag "$(head -40 "$WORK/vg.err")"
fi

done_testing
