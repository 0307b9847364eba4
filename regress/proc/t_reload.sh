#!/bin/bash
# SIGHUP: a changed rule applies to new connections; a message in the
# middle of its transaction keeps the old generation's verdict and its
# connection; a bad configuration is refused with file:line and the old
# one keeps working; a changed listen address is bound anew and the old
# one released; the old generation's workers exit, even those that were
# still starting when the signal came; a listen address that cannot be
# bound is refused like a bad configuration.

. "${regress:-$(dirname "$0")/..}/lib.sh"
other_pid=
trap 'mt_cleanup; [ -n "$other_pid" ] && PM_PID=$other_pid pm_kill_tree;
    pm_kill_tree; pm_cleanup' EXIT

[ -n "${MILTERTEST:-}" ] || skip_all "miltertest not found"

CONF=$WORK/reload.conf

# rules WORD: a filter that rejects subjects containing WORD.
rules() {
	cat <<EOF
filter phish_$1 {
	match = { 'header_subject:(?i)\\b$1\\b' }
	action = reject
	reply = "550 5.7.1 Rejected: $1"
}
EOF
}

# write_conf WORD [EXTRA]: the test configuration on $PM_PORT.
write_conf() {
	{
		sed -n '1,/^log_level/p' "$WORK/base.conf" |
		    sed "s/^listen = .*/listen = \"inet:127.0.0.1:$PM_PORT\"/"
		printf '%s\n' "${2:-}"
		rules "$1"
	} >"$CONF.new" && mv "$CONF.new" "$CONF"
}

# verdict SUBJECT: the client's verdict on a new connection.
verdict() {
	mkmsg "$WORK/m.eml" "$1"
	client "$WORK/m.eml" | sed 's/^[^:]*: //'
}

# reload: SIGHUP, and wait for the outcome; prints "ok" or "failed".
reload() {
	local from
	from=$(log_lines)
	kill -HUP "$PM_PID"
	wait_until 10 log_has \
	    'generation [0-9]+: [0-9]+ filters|reload failed' "$from"
	if log_has 'generation [0-9]+: [0-9]+ filters' "$from"; then
		echo ok
	elif log_has 'reload failed' "$from"; then
		echo failed
	else
		echo timeout
	fi
}

TIMEOUT=30 MIN_SPARE=2 MAX_SPARE=3 pm_conf_low "$WORK/base.conf" </dev/null
write_conf alpha
pm_must_start "$CONF"

like "$(verdict 'alpha offer')" '^reject 550 5.7.1 Rejected: alpha' \
    "generation 1 rejects alpha"
is "$(verdict 'beta offer')" accept "generation 1 accepts beta"

# --- A changed rule.

pm_wait_workers 2
gen1=$(pm_workers)
write_conf beta
is "$(reload)" ok "SIGHUP with a changed rule is taken"
like "$(verdict 'beta offer')" '^reject 550 5.7.1 Rejected: beta' \
    "new connections get the new rule: beta rejected"
is "$(verdict 'alpha offer')" accept "and the old rule is gone: alpha accepted"
wait_until 10 pids_gone $gen1
ok $? "the idle workers of generation 1 exit"

# --- A reload in the middle of a message.

mt_hold held 'beta offer'
mt_ready held
ok $? "a message is held after its headers"
from=$(log_lines)
held_worker=$(grep negotiated "$WORK/log" | tail -1 |
    sed -nE 's/^[^[]*\[([0-9]+)\].*/\1/p')
write_conf alpha
is "$(reload)" ok "SIGHUP while the message is in hand"
is "$(verdict 'beta offer')" accept \
    "a new connection meanwhile gets the new generation's verdict"
kill -0 "$held_worker" 2>/dev/null
ok $? "the old worker holding the message is still there"
mt_go held
is "$(mt_verdict held)" verdict=replycode \
    "the held message gets the old generation's verdict (reject)"
like "$(grep 'Qheld' "$WORK/log" | tail -1)" 'verdict=reject filter=phish_beta' \
    "the log shows the old filter deciding it"
wait_until 10 pids_gone "$held_worker"
ok $? "the old worker exits once its connection is done"
[ "$(log_count 'connection closed')" -eq 0 ]
ok $? "no connection was cut"

# --- Bad configurations are refused.

good=$(cat "$CONF")
write_conf gamma 'min_spare = = 3'
is "$(reload)" failed "a syntax error is refused"
line=$(grep -n '= = 3' "$CONF" | cut -d: -f1)
like "$(grep -E 'reload\.conf:[0-9]+' "$WORK/log" | tail -1)" \
    "reload\\.conf:$line: " "the syntax error is logged with file:line ($line)"
kill -0 "$PM_PID"
ok $? "the daemon keeps running"
like "$(verdict 'alpha offer')" '^reject 550 5.7.1 Rejected: alpha' \
    "the old rules keep working"

printf '%s\n' "$good" >"$CONF"
cat >>"$CONF" <<'EOF'
filter broken {
	match = { 'header_subject:(unclosed' }
	action = reject
}
EOF
line=$(grep -n "'header_subject:(unclosed'" "$CONF" | cut -d: -f1)
from=$(log_lines)
before=$(pm_workers)
is "$(reload)" failed "a bad regex is refused"
gone_count=0
for p in $before; do kill -0 "$p" 2>/dev/null || gone_count=$((gone_count + 1)); done
is "$gone_count" 0 "a refused reload leaves the running workers alone"
like "$(tail -n +"$from" "$WORK/log" | grep -F '(unclosed' | tail -1)" \
    "reload\\.conf:$line: " \
    "the bad regex is logged with file:line ($line)"
like "$(verdict 'alpha offer')" '^reject 550 5.7.1 Rejected: alpha' \
    "the old rules still work"
is "$(verdict 'gamma offer')" accept "and the refused ones do not apply"

# --- A changed listen address.

old_port=$PM_PORT
new_port=$(free_port_low)
PM_PORT=$new_port
write_conf alpha
PM_PORT=$old_port
pm_wait_workers 2
gen_old=$(pm_workers)
is "$(reload)" ok "SIGHUP with a new listen address"
PM_PORT=$new_port
wait_until 5 port_busy "$new_port"
ok $? "the new address answers"
like "$(verdict 'alpha offer')" '^reject 550 5.7.1 Rejected: alpha' \
    "verdicts on the new address"
wait_until 10 pids_gone $gen_old
ok $? "the old generation's workers exit"
wait_until 10 eval "! port_busy $old_port"
ok $? "the old address stops answering"
log_has "no longer listening on inet:127.0.0.1:$old_port"
ok $? "the parent logs that it closed the old address"
pm_stop
is $? 0 "daemon stops with status 0"

# --- SIGHUP while the first workers are still starting: every one of
# them must retire, none may live on with the old generation's rules.

# gen_workers G: the live workers that logged "ready, generation G".
gen_workers() {
	local w
	for w in $(pm_workers); do
		grep -qE "\[$w\]: worker: ready, generation $1," "$WORK/log" &&
		    echo "$w"
	done
}
no_gen1() { [ -z "$(gen_workers 1)" ]; }

stale=0
for i in $(seq 10); do
	wait_until 5 eval "! port_busy $PM_PORT"
	from=$(log_lines)
	"$PHISHMILTER" -d -f "$CONF" >>"$WORK/log" 2>&1 &
	PM_PID=$!
	j=0
	until exec 3<>"/dev/tcp/127.0.0.1/$PM_PORT"; do
		j=$((j + 1))
		[ $j -gt 20000 ] && break
	done 2>/dev/null
	kill -HUP "$PM_PID"
	exec 3>&-
	wait_until 10 log_has 'generation 2: [0-9]+ filters' "$from"
	wait_until 5 no_gen1 || {
		stale=$((stale + 1)); diag "try $i: generation 1 lives on: $(gen_workers 1)"; }
	pm_stop
done
is "$stale" 0 "SIGHUP as workers start: none of them stays in the old generation (10 tries)"

pm_must_start "$CONF" "daemon starts again"

# --- A listen address that cannot be bound: the reload is refused.

# Another daemon holds a port.
other_port=$(free_port_low)
sed -e "s/^listen = .*/listen = \"inet:127.0.0.1:$other_port\"/" \
    -e "s|^pidfile = .*|pidfile = \"$WORK/other.pid\"|" "$CONF" \
    >"$WORK/other.conf"
"$PHISHMILTER" -d -f "$WORK/other.conf" >"$WORK/other.log" 2>&1 &
other_pid=$!
wait_until 10 port_busy "$other_port"
ok $? "another daemon listens on port $other_port"
cur_port=$PM_PORT
PM_PORT=$other_port
write_conf beta
PM_PORT=$cur_port
from=$(log_lines)
is "$(reload)" failed "a reload onto a port in use is refused"
log_has "listen inet:127\.0\.0\.1:$other_port: Address already in use" "$from"
ok $? "... and the log says why"
like "$(verdict 'alpha offer')" '^reject 550 5.7.1 Rejected: alpha' \
    "the old address and rules keep working"
kill -TERM "$other_pid"
wait "$other_pid"
other_pid=

pm_stop
is $? 0 "daemon stops with status 0"

pm_diag_log
done_testing
