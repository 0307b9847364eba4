#!/usr/bin/env bash
#
# Decoding, offline: each message in msgs/ shows one decoding feature
# (encoded words, charsets, transfer encodings, MIME structure, HTML,
# URLs, attachments, normalisation).  "phishmilter -t -v" prints every
# decoded value as a tab-indented "target: value" line, and the lines
# wanted are compared exactly.  The messages were written once by
# msgs/mkmsgs.py (legacy charsets through Python's codecs, byte for byte
# what iconv gives) and are kept as bytes; each names what it shows in
# an X-Fixture header.  Then a filter on each decoded target decides a
# verdict, and whitespace = strip is set against the default collapse.

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/lib.sh"

: "${PHISHMILTER:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter}"
MSGS=$(cd "$(dirname "$0")" && pwd)/msgs

[ -x "$PHISHMILTER" ] || skip_all "no daemon built at $PHISHMILTER"
[ -d "$MSGS" ] || skip_all "no messages at $MSGS"

# Bytes as they are: values are UTF-8, raw headers may be anything.
export LC_ALL=C

# conf FILE: a configuration for -t with the filters on stdin.
conf() {
	{
		echo 'listen = "inet:127.0.0.1:1"'
		cat
	} >"$1"
}

conf "$WORK/none.conf" </dev/null

# decode NAME: the -v output for msgs/NAME.eml, in $WORK/NAME.out.
decode() {
	(cd "$MSGS" && "$PHISHMILTER" -t -v -f "$WORK/none.conf" "$1.eml") \
	    >"$WORK/$1.out" 2>&1
}

# has NAME 'target: value' [DESCRIPTION]: that exact line is printed.
has() {
	if grep -Fxq -- "	$2" "$WORK/$1.out"; then
		ok 0 "${3:-$1: $2}"
	else
		ok 1 "${3:-$1: $2}"
		diag "wanted:	$2"
		diag "$(grep -F -- "	${2%%:*}:" "$WORK/$1.out" |
		    sed 's/^/got:/')"
	fi
}

# lacks NAME ERE DESCRIPTION: no printed line matches.
lacks() {
	if grep -Eq -- "$2" "$WORK/$1.out"; then
		ok 1 "$3"
		diag "$(grep -E -- "$2" "$WORK/$1.out")"
	else
		ok 0 "$3"
	fi
}

# count NAME TARGET N: how many values the target has.
count() {
	is "$(grep -c "^	$2: " "$WORK/$1.out")" "$3" "$1: $3 $2 value(s)"
}

# --- every message is read, one verdict line each ----------------------

n=$(cd "$MSGS" && ls *.eml | wc -l)
out=$(cd "$MSGS" && "$PHISHMILTER" -t -f "$WORK/none.conf" *.eml)
ok $? "-t over all $n messages exits 0"
is "$(printf '%s\n' "$out" | grep -c ': accept -$')" "$n" \
    "one 'accept -' line per message without filters"

for f in "$MSGS"/*.eml; do
	f=${f##*/}
	decode "${f%.eml}"
done

# --- RFC 2047 encoded words --------------------------------------------

has ew-b 'decode_subject: 【重要】三菱UFJ銀行からのお知らせ' \
    'B encoded word, UTF-8'
has ew-q 'decode_subject: Votre compte a verifier' \
    'Q encoded word, Latin-1 (underscores are spaces, accents dropped)'
has ew-q 'decode_from: Jurgen Muller <jm@example.de>' \
    'Q encoded display name'
has ew-adjacent 'decode_subject: 三菱UFJ銀行 notice' \
    'adjacent encoded words joined with no space, also across folding'
has ew-adjacent 'decode_from: 銀 <split@example.org>' \
    'a character split between two padded B words is joined'
has ew-q-bad 'decode_subject: 100% =XY sur' \
    'Q encoded word: a bad =XY kept as text, _ a space'
has ew-broken 'decode_subject: =?UTF-8?B?5LiJ6I+x without end, =?UTF-8?X?abc?= bad mode, ok fine' \
    'broken encoded words kept as text, good ones decoded'
has ew-quoted 'decode_from: 三菱UFJ銀行 <info@phish.example>' \
    'an encoded word in quotes as display name: decoded, quotes gone'
has ew-quoted 'header_x-ctl: a\x01b\tc' \
    'raw values escaped like log lines (\xNN, \t)'

# --- Japanese ----------------------------------------------------------

has jis 'decode_subject: ご請求のお知らせ' 'ISO-2022-JP encoded word'
has jis 'decode_text: 三菱UFJ銀行 カード会員様 ご利用確認のお願い' \
    'ISO-2022-JP body'
has sjis-undeclared 'decode_text: お客様のアカウントが停止されました。' \
    'Shift_JIS body without a charset'
has sjis-cp932 'decode_text: 1ご確認ください~(株)三菱' \
    'Shift_JIS label read as CP932 (①, ～, ㈱), then NFKC'
has sjis-as-jis 'decode_text: 楽天市場からのご案内です。' \
    'Shift_JIS bytes labelled ISO-2022-JP'
has eucjp 'decode_text: 楽天カード株式会社よりお知らせ' 'EUC-JP body'
has raw-subject-utf8 'decode_subject: 【緊急】アカウント確認' \
    'raw 8-bit UTF-8 Subject'
has raw-subject-sjis 'decode_subject: 【緊急】アカウント確認のお願い' \
    'raw 8-bit Shift_JIS Subject'

# --- other charsets ----------------------------------------------------

has gb2312 'decode_subject: 账户冻结通知' 'GB2312 encoded word'
has gb2312 'decode_text: 您的账户已被冻结,请立即验证。' \
    'GB2312 body in base64 (fullwidth comma folded by NFKC)'
has big5 'decode_text: 您的帳戶已被凍結' 'Big5 body, quoted-printable'
has euckr 'decode_text: 고객님의 계정이 정지되었습니다' 'EUC-KR body'
has utf16le 'decode_text: PayPal アカウント確認 https://utf16.example/verify' \
    'UTF-16LE body in base64'
has utf16le 'url: https://utf16.example/verify' 'a URL in UTF-16 text'
has koi8r 'decode_text: Ваш аккаунт заблокирован' 'KOI8-R body'
has cp1251 'decode_subject: Сбербанк' 'windows-1251 encoded word'
has cp1251 'decode_text: Сбербанк: подтвердите вход' \
    'windows-1251 body in base64'
has cp1252-as-latin1 'decode_text: “Urgent” – pay €100 now...' \
    'windows-1252 bytes labelled ISO-8859-1 (…, NFKC: ...)'
has latin1-undeclared 'decode_text: Votre facture “impayee” a regler.' \
    'undeclared 8-bit text read as windows-1252'
has utf8-as-ascii 'decode_text: Ваш банк: 三菱UFJ' \
    'valid UTF-8 labelled us-ascii'
has crlf 'decode_subject: CRLF の件名' 'CRLF line ends: encoded word'
has crlf 'decode_text: line oneline two あ' \
    'CRLF line ends: quoted-printable soft break'

# --- normalisation -----------------------------------------------------

has from-disguise 'decode_from: MUFG バンク サポート <support@phish.example>' \
    'fullwidth, halfwidth kana, zero-width, BiDi, soft hyphen, VS16'
has from-disguise 'decode_subject: Paypal security alert' \
    'combining strokes on Latin dropped, NBSP and ideographic space collapsed'

# --- transfer encodings ------------------------------------------------

has b64-broken 'decode_text: Your account has been suspended. Verify at http://b64.example/login' \
    'base64 with stray characters, blanks and no padding'
has qp 'decode_text: 三菱UFJ銀行 fee =XY 100% = done next line' \
    'quoted-printable: soft breaks joined, a bad =XY kept as text'
has qp 'decode-errors=1' 'the bad =XY is counted as a decode error'

# --- structure, HTML, URLs ---------------------------------------------

has alternative 'decode_text: Plain part: visit https://plain.example/a' \
    'alternative: the plain part is the text'
count alternative decode_text 1
has alternative 'decode_html: <p>HTML part <a href="https://html.example/b">click</a></p>' \
    'alternative: the HTML part is decode_html'
has alternative 'url: https://plain.example/a' 'alternative: URL of the text'
has alternative 'url: https://html.example/b' 'alternative: URL of the HTML'

has html-only 'decode_text: Dear customer, Please sign in now.' \
    'HTML only: rendered into decode_text'
lacks html-only '^	decode_text: .*(hidden bait|color|Notice)' \
    'HTML only: display:none text, style and title not rendered'
lacks html-only '^	url(_host)?: .*comment\.example' \
    'HTML only: a URL inside a comment is not reported'
has html-only 'url: https://render.example/login' 'HTML only: href'
count html-only url 1

has html-refs 'decode_html: <p>三菱UFJ銀行 & <b> cafe © み</p>' \
    'decode_html: &#x..;, &#..;, &#X..;, named references resolved'
has html-refs 'decode_text: 三菱UFJ銀行 & <b> cafe © み' \
    'decode_text of the same HTML'

has urls 'url: HTTPS://Admin:Secret@Login.EXAMPLE.com:8443/path?q=1' \
    'bare link in text, without the full stop after it'
has urls 'url: http://user@Href.Example.NET:80/a' 'href'
has urls 'url: https://IMG.example.org/i.png' 'img src'
has urls 'url_host: login.example.com' \
    'url_host: credentials, port and upper case stripped'
has urls 'url_host: href.example.net' 'url_host of an href'
has urls 'url_host: img.example.org' 'url_host of an img src'
count urls url_host 3

has rfc2231 'attachment_name: 請求書.pdf' "RFC 2231 filename*=UTF-8''..."
has rfc2231 'attachment_name: ご請求.zip' \
    'RFC 2231 continuations filename*0*, filename*1*'
has rfc2231 'attachment_name: long_name.html' \
    'RFC 2231 plain continuations filename*0, filename*1'
has rfc2231 'attachment_type: application/pdf' 'attachment_type pdf'
has rfc2231 'attachment_type: application/zip' 'attachment_type zip'
has rfc2231 'attachment_type: text/html' 'an HTML attachment has its type'
has rfc2231 'decode_html: <p>attached page</p>' \
    'an HTML attachment is read as HTML too'
has rfc2047-filename 'attachment_name: 請求書.exe' \
    'RFC 2047 encoded filename, UTF-8'
has rfc2047-filename 'attachment_name: 明細.scr' \
    'RFC 2047 encoded name= of Content-Type, ISO-2022-JP'
has rfc2047-filename 'attachment_type: application/x-msdownload' \
    'attachment_type from Content-Type'
has attached-text 'attachment_name: note.txt' 'text attachment: its name'
has attached-text 'decode_text: Attached note with https://note.example/x' \
    'text attachment: read as text'
has attached-text 'attachment_name: ' 'a nameless attachment: empty name'
has attached-text 'attachment_type: image/png' 'a nameless attachment: type'

has nested-rfc822 'decode_text: Outer text.' 'nested: outer text'
has nested-rfc822 'decode_text: 内側の本文 https://inner.example/p' \
    'nested message/rfc822: inner ISO-2022-JP text'
has nested-rfc822 'url_host: inner-html.example' 'nested: inner HTML URL'
has nested-rfc822 'decode_subject: outer subject' 'nested: outer Subject'

has addresses 'decode_from: Support, MUFG <support@phish.example>' \
    'quoted display name with a comma'
has addresses 'decode_to: <a@example.net>, B. User <b@example.net>' \
    'To: empty group left out, bare address as <addr>, joined by ", "'
has addresses 'decode_cc: <c1@example.net>, 山田 太郎 <c2@example.net>, <d@example.net>' \
    'Cc: group members and an address after the group'
has addresses 'decode_reply_to: 三菱UFJ銀行 <reply@phish.example>' \
    'Reply-To: ISO-2022-JP name, fullwidth folded'

# --- a filter on each decoded target decides ---------------------------

# verdict NAME FILTER-LINES EXPECT-ON NAME-ON [NAME-OFF]: with the filter
# text, NAME-ON gets EXPECT-ON and NAME-OFF gets "accept -".
verdict() {
	local got
	printf '%s\n' "$2" | conf "$WORK/v.conf"
	got=$(cd "$MSGS" && "$PHISHMILTER" -t -f "$WORK/v.conf" "$4.eml")
	is "$got" "$4.eml: $3" "$1 decides on $4"
	if [ $# -ge 5 ]; then
		got=$(cd "$MSGS" && "$PHISHMILTER" -t -f "$WORK/v.conf" "$5.eml")
		is "$got" "$5.eml: accept -" "$1 does not hold on $5"
	fi
}

verdict decode_from "filter t_from {
	match = { 'decode_from:^MUFG バンク', 'decode_from:!@mufg\\.jp>' }
	action = reject
}" 'reject t_from' from-disguise ew-b
verdict decode_to "filter t_to {
	match = { 'decode_to:(^|, )B\\. User <b@example\\.net>\$' }
	action = discard
}" 'discard t_to' addresses ew-b
verdict decode_cc "filter t_cc {
	match = { 'decode_cc:山田 太郎 <c2@' }
	action = quarantine
}" 'quarantine t_cc' addresses ew-b
verdict decode_reply_to "filter t_reply_to {
	match = { 'decode_reply_to:^三菱UFJ銀行 <' }
	action = tempfail
}" 'tempfail t_reply_to' addresses ew-quoted
verdict decode_subject "filter t_subject {
	match = { 'decode_subject:^ご請求のお知らせ\$' }
	action = reject
}" 'reject t_subject' jis ew-b
verdict decode_text "filter t_text {
	match = { 'decode_text:楽天カード株式会社' }
	action = warn
}" 'warn t_text' eucjp sjis-as-jis
verdict decode_html "filter t_html {
	match = { 'decode_html:三菱UFJ銀行 & <b>' }
	action = reject
}" 'reject t_html' html-refs alternative
verdict url "filter t_url {
	match = { 'url:^https://render\\.example/login\$' }
	action = reject
}" 'reject t_url' html-only alternative
verdict url_host "filter t_url_host {
	match = { 'url_host:^login\\.example\\.com\$' }
	action = reject
}" 'reject t_url_host' urls alternative
verdict attachment_name "filter t_attachment_name {
	match = { 'attachment_name:(?i)\\.(exe|scr)\$' }
	action = reject
}" 'reject t_attachment_name' rfc2047-filename rfc2231
verdict attachment_type "filter t_attachment_type {
	match = { 'attachment_type:^application/zip\$' }
	action = reject
}" 'reject t_attachment_type' rfc2231 rfc2047-filename
verdict 'a disguised name' "filter t_disguise {
	match = { 'decode_from:(?i)^mufg\\b' }
	action = reject
}" 'reject t_disguise' from-disguise addresses

# --- whitespace = strip against collapse -------------------------------

verdict 'whitespace = strip' "filter ws {
	match = { 'decode_text:三菱UFJ銀行' }
	whitespace = strip
	action = reject
}" 'reject ws' strip
verdict 'the default (collapse)' "filter ws {
	match = { 'decode_text:三菱UFJ銀行' }
	action = reject
}" 'accept -' strip
verdict 'whitespace = collapse' "filter ws {
	match = { 'decode_text:三菱UFJ銀行' }
	whitespace = collapse
	action = reject
}" 'accept -' strip
verdict 'collapse with spaces in the pattern' "filter ws {
	match = { 'decode_text:三菱 UFJ 銀行 から' }
	action = reject
}" 'reject ws' strip
verdict 'strip on a normalised Subject' "filter ws {
	match = { 'decode_subject:^Paypalsecurityalert\$' }
	whitespace = strip
	action = reject
}" 'reject ws' from-disguise

# --- line ends ---------------------------------------------------------

# Old Mac files end their lines with CR alone.
printf 'From: MUFG <a@cr.example>\rSubject: =?UTF-8?B?44GK55+l44KJ44Gb?=\r\rtext\r' \
    >"$WORK/cr-only.eml"
out=$("$PHISHMILTER" -t -v -f "$WORK/none.conf" "$WORK/cr-only.eml")
like "$out" '	decode_subject: お知らせ$' 'CR-only lines: headers are split'
like "$out" '	decode_text: text$' 'CR-only lines: the body is found'

# --- exit status -------------------------------------------------------

out=$(cd "$MSGS" && "$PHISHMILTER" -t -f "$WORK/none.conf" ew-b.eml \
    no-such-file.eml)
st=$?
is "$st" 1 'a file that cannot be read: exit 1'
like "$out" '^no-such-file\.eml: error ' 'and an error line for it'
like "$out" '^ew-b\.eml: accept -' 'the other file still gets its verdict'

done_testing
