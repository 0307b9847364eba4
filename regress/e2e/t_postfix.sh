#!/bin/bash
# End to end with a real Postfix: a throwaway instance with a private
# configuration directory under $WORK (see shared/notes/real-peers.md),
# smtpd on a free port of 127.0.0.1, phishmilter as its smtpd_milter,
# swaks as the sending client.  A phishing message is refused with the
# filter's 550, a clean one is delivered untouched, a warn-rule one is
# delivered marked, the daemon logs Postfix's queue ids, and with the
# daemon down Postfix answers 451 (milter_default_action = tempfail).

. "${regress:-$(dirname "$0")/..}/lib.sh"

PF_DIR=$WORK/postfix
PF_STARTED=

# pf_stop: stops the throwaway Postfix and waits for its master.
pf_stop() {
	local pid i=0
	[ -n "$PF_STARTED" ] || return 0
	pid=$(tr -d ' ' <"$PF_DIR/spool/pid/master.pid" 2>/dev/null)
	"$POSTFIX" -c "$PF_DIR" stop >/dev/null 2>&1
	while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	PF_STARTED=
}
trap 'pf_stop; pm_kill_tree; pm_cleanup' EXIT

[ -n "${POSTFIX:-}" ] && [ -x "$POSTFIX" ] || skip_all "postfix not found"
[ -n "${SWAKS:-}" ] && [ -x "$SWAKS" ] || skip_all "swaks not found"
[ "$(id -u)" -eq 0 ] || skip_all "Postfix must be started as root"
command -v script >/dev/null 2>&1 || skip_all "script(1) not found"
getent passwd postfix >/dev/null && getent group postdrop >/dev/null ||
    skip_all "no postfix user or postdrop group"
MASTER_CF=
for f in /etc/postfix/master.cf /usr/share/postfix/master.cf.dist; do
	[ -f "$f" ] && { MASTER_CF=$f; break; }
done
[ -n "$MASTER_CF" ] || skip_all "no stock master.cf to start from"

SRCDIR=${top_srcdir:-$regress/..}

# pf_config SMTP_PORT MILTER_PORT: main.cf and master.cf in $PF_DIR.
pf_config() {
	mkdir -p "$PF_DIR/spool" "$PF_DIR/data" "$PF_DIR/mail"
	chown postfix "$PF_DIR/data"
	chmod 1777 "$PF_DIR/mail"
	cat >"$PF_DIR/main.cf" <<EOF
compatibility_level = 3.6
queue_directory  = $PF_DIR/spool
data_directory   = $PF_DIR/data
mail_owner       = postfix
setgid_group     = postdrop
maillog_file     = $PF_DIR/maillog
maillog_file_prefixes = $PF_DIR
myhostname = e2e.localdomain
mydomain = localdomain
myorigin = \$myhostname
mydestination = localhost, \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
relayhost =
default_transport = error:outbound delivery disabled
relay_transport   = error:outbound delivery disabled
mail_spool_directory = $PF_DIR/mail
alias_maps =
alias_database =
smtpd_milters = inet:127.0.0.1:$2
non_smtpd_milters =
milter_default_action = tempfail
milter_protocol = 6
EOF
	# The stock services, none chrooted, smtpd on our port; postlog
	# (needed for maillog_file) is among the stock services.
	awk -v port="$1" '
	/^#/ || /^[ \t]*$/ || /^[ \t]/ { print; next }
	$1 == "smtp" && $2 == "inet" {
		printf "127.0.0.1:%s inet n - n - - smtpd\n", port; next
	}
	NF >= 8 { $5 = "n" }
	{ print }' "$MASTER_CF" >"$PF_DIR/master.cf"
	grep -q '^postlog[[:space:]]' "$PF_DIR/master.cf" ||
	    echo 'postlog unix-dgram n - n - 1 postlogd' >>"$PF_DIR/master.cf"
}

# send NAME SUBJECT [FROM-HEADER]: swaks to root@localhost; the
# transcript goes to $WORK/NAME.swaks, the exit status to SW.
send() {
	"$SWAKS" --server "127.0.0.1:$SMTP_PORT" --timeout 30 \
	    --helo client.example --from sender@example.org \
	    --to root@localhost \
	    --header "From: ${3:-Sender <sender@example.org>}" \
	    --header "Subject: $2" \
	    --body "Body of $1." >"$WORK/$1.swaks" 2>&1
	SW=$?
}

# queued NAME: the queue id Postfix gave that message.
queued() {
	sed -nE 's/.*250 .*queued as ([0-9A-Za-z]+).*/\1/p' "$WORK/$1.swaks" |
	    tail -1
}

# delivered NAME: the delivered copy of that message, from root's mailbox.
delivered() {
	awk -v tag="Body of $1." '
	/^From / { if (found) exit; buf = "" }
	{ buf = buf $0 "\n" }
	$0 == tag { found = 1 }
	END { if (found) printf "%s", buf }' "$PF_DIR/mail/root" 2>/dev/null
}

has_delivered() {	# for wait_until
	[ -n "$(delivered "$1")" ]
}

# The daemon: the shipped example rules, so that what is tested is what
# is installed.
pm_conf_low "$WORK/pm.conf" <<EOF
include("$SRCDIR/conf/rules.d/*.conf")
EOF
pm_must_start "$WORK/pm.conf" "phishmilter starts with the shipped rules"

# Postfix runs as user postfix and must reach its queue under $WORK.
chmod 711 "$WORK"
SMTP_PORT=$(free_port_low)
pf_config "$SMTP_PORT" "$PM_PORT"
script -qec "$POSTFIX -c $PF_DIR start" /dev/null </dev/null \
    >"$WORK/postfix-start.out" 2>&1
st=$?
PF_STARTED=1
[ $st -eq 0 ] && wait_until 10 port_busy "$SMTP_PORT"
ok $? "a throwaway Postfix starts on 127.0.0.1:$SMTP_PORT"
if ! port_busy "$SMTP_PORT"; then
	diag "$(tail -20 "$WORK/postfix-start.out")"
	diag "$(tail -20 "$PF_DIR/maillog" 2>/dev/null)"
	echo "Bail out! Postfix did not start"
	exit 1
fi

# --- A phishing message: refused with the filter's reply.

send phish "Important notice" '"MUFG" <info@mufg-secure.example>'
is "$SW" 26 "phishing (MUFG from a foreign domain): swaks sees a refusal after DATA"
# The reply the shipped filter gives.
reply=$(awk '/^filter phish_mufg_from/ { on = 1 } on && /reply *=/ {
	sub(/^[^"]*"/, ""); sub(/".*$/, ""); print; exit }' \
    "$SRCDIR"/conf/rules.d/*.conf)
like "$reply" '^550 ' "the shipped MUFG filter has a 550 reply ($reply)"
grep -qF -- "<** $reply" "$WORK/phish.swaks"
st=$?
ok $st "... and Postfix passes it on to the client"
[ $st -eq 0 ] || diag "$(grep '^<\*\*' "$WORK/phish.swaks")"
wait_until 10 grep -q 'milter-reject: END-OF-MESSAGE' "$PF_DIR/maillog"
ok $? "Postfix logs the milter's reject"
qid=$(sed -nE 's/.* ([0-9A-F]+): milter-reject: END-OF-MESSAGE.*/\1/p' \
    "$PF_DIR/maillog" | tail -1)
like "$(grep -E "verdict=reject" "$WORK/log" | tail -1)" \
    "[ =]${qid}[: ].*verdict=reject filter=phish_mufg_from" \
    "the daemon logs the verdict with Postfix's queue id ($qid)"

# --- A clean message: delivered as sent.

send clean "Lunch on Friday"
is "$SW" 0 "a clean message is accepted"
qid=$(queued clean)
like "$qid" '^[0-9A-Za-z]+$' "Postfix queued it ($qid)"
wait_until 20 has_delivered clean
ok $? "it is delivered to root's mailbox"
like "$(delivered clean)" '^Subject: Lunch on Friday$' "with its subject unchanged"
delivered clean | grep -q '^X-Phishing-Warning:'
ok $((! $?)) "and no warning header"
like "$(grep -F "$qid" "$WORK/log" | grep 'verdict=')" \
    "[ =]${qid}[: ].*verdict=accept" \
    "the daemon logs the verdict with Postfix's queue id ($qid)"
# Postfix queue ids (short format) are 10 or more hex digits.
n=$(grep 'verdict=' "$WORK/log" | grep -Evc '[ =][0-9A-F]{10,}[: ]')
is "$n" 0 "no verdict line lacks a Postfix queue id (qid=- or none)"

# --- A warn-rule message: delivered, marked.

send warn "Please verify your account now"
is "$SW" 0 "a message matching the warn filter is accepted"
wait_until 20 has_delivered warn
ok $? "it is delivered"
like "$(delivered warn)" '^X-Phishing-Warning: warn_phishing_subject' \
    "with the X-Phishing-Warning header naming the filter"
like "$(delivered warn)" \
    '^Subject: \[Phishing\?\] Please verify your account now$' \
    "and the filter's subject prefix"
like "$(grep 'verdict=warn' "$WORK/log" | tail -1)" \
    "[ =]$(queued warn)[: ].*filter=warn_phishing_subject" \
    "the daemon logs the warn verdict with its queue id"

n=$(grep -cE 'malformed|connection closed|unknown command|does not allow|before option negotiation' "$WORK/log")
is "$n" 0 "no protocol complaint in the daemon's log"
[ "$n" -eq 0 ] || diag "$(grep -E 'malformed|connection closed|unknown command|does not allow|before option negotiation' "$WORK/log")"

# --- The daemon down: Postfix tempfails.

pm_stop
is $? 0 "phishmilter stops with status 0"
send down "Lunch on Saturday"
[ "$SW" -ne 0 ]
ok $? "with the milter down the message is not accepted (swaks exit $SW)"
like "$(grep '^<\*\*' "$WORK/down.swaks" | head -1)" '^<\*\* 451 4\.7\.1' \
    "Postfix answers 451 4.7.1 (milter_default_action = tempfail)"

pf_stop
pm_diag_log
done_testing
