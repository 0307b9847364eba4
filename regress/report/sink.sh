# Shared by the reporter tests: the API stand-in (sink.pl) on a free
# port, its answers and the requests it saw, a token file, and a daemon
# configuration that reports to the stand-in.  Sourced after lib.sh.

SINK=${regress:-$(cd "$(dirname "$0")/.." && pwd)}/report/sink.pl
SINK_PID=
trap 'sink_stop; pm_cleanup' EXIT

# The spool and token live under $WORK, which the user must traverse.
chmod 755 "$WORK"
TOKEN="pm-test-token-$RANDOM$RANDOM"
printf '%s\n' "$TOKEN" >"$WORK/token"
chmod 600 "$WORK/token"
SPOOL=$WORK/spool
SINK_PORT=$(free_port)
SINK_LOG=$WORK/sink.log
SINK_SCRIPT=$WORK/sink.script
: >"$SINK_LOG"
API=http://127.0.0.1:$SINK_PORT/portal/api/v1/submissions/add

sink_start() {
	perl "$SINK" "$SINK_PORT" "$SINK_LOG" "$SINK_SCRIPT" \
	    >>"$WORK/sink.err" 2>&1 &
	SINK_PID=$!
	pm_wait_port "$SINK_PORT"
}

sink_stop() {
	[ -n "$SINK_PID" ] || return 0
	kill "$SINK_PID" 2>/dev/null
	wait "$SINK_PID" 2>/dev/null
	SINK_PID=
}

script() {	# script ANSWER...: what the sink answers next
	printf '%s\n' "$@" >"$SINK_SCRIPT"
}

requests() {	# how many requests the sink has seen
	wc -l <"$SINK_LOG" | tr -d ' '
}

# req N FIELD: a field of the N-th request (perl expression on $r).
req() {
	sed -n "${1}p" "$SINK_LOG" | perl -MJSON::PP -ne \
	    '$r = decode_json($_); $v = ('"$2"'); print $v // "", "\n"'
}

have_requests() { [ "$(requests)" -ge "$1" ]; }

# The reporter's pid: the daemon's child named phishmilter-rp.
reporter_pid() {
	local p
	for p in $(pgrep -P "$PM_PID" 2>/dev/null); do
		[ "$(cat /proc/$p/comm 2>/dev/null)" = phishmilter-rp ] &&
		    { echo "$p"; return 0; }
	done
	return 1
}

# conf FILE [EXTRA SPAMHAUS LINES]
conf() {
	local f=$1
	shift
	pm_conf "$f" <<EOF
filter rep_phish {
	match = { 'header_subject:(?i)verify your account' }
	action = reject
}
filter rep_warn {
	match = { 'header_subject:(?i)lottery' }
	action = warn
}
spamhaus {
	report = true
	token_file = "$WORK/token"
	url = "$API/ip"
	url_endpoint = "$API/url"
	email_endpoint = "$API/email"
	spool = "$SPOOL"
	safe_address = { "198.51.100.0/24", "2001:db8:5afe::/48" }
	reason = "phishmilter %f %v %q"
	retry_min = 1
	retry_max = 2
	request_timeout = 3
	connect_timeout = 2
$(printf '\t%s\n' "$@")
}
EOF
}

send() {	# send ADDR FILE: one message from ADDR; prints the verdict line
	client -a "$1" "$2" 2>&1
}
