#!/usr/bin/env bash
#
# Soak test, not part of make check ("make soak" runs it): the built
# daemon with the shipped configuration and rules, under steady load
# from the project's client (SOAK_CONC connections at once, one message
# each, the messages of regress/rules/msgs) for SOAK_SECONDS (default
# 3600).  Every SOAK_INTERVAL seconds (default 60) one line:
#
#	elapsed_s  rss_kb (parent + workers)  fds (parent + workers)
#	workers  p99_ms  msgs_per_s  errors
#
# then a summary.  Workers live through the whole run (max_requests is
# SOAK_MAX_REQUESTS, default 100000000), so that a leak in them shows
# as growth instead of being retired away.  Exits 1 when a message was
# lost, a worker died, or the daemon did.
#
#	regress/soak.sh [seconds]

: "${regress:=$(cd "$(dirname "$0")" && pwd)}"
: "${top_srcdir:=$(cd "$regress/.." && pwd)}"
. "$regress/lib.sh"
trap 'pm_kill_tree; pm_cleanup' EXIT

: "${PHISHMILTER:=$top_srcdir/src/phishmilter}"
: "${CLIENT:=$top_srcdir/src/phishmilter-client}"
SOAK_SECONDS=${1:-${SOAK_SECONDS:-3600}}
SOAK_INTERVAL=${SOAK_INTERVAL:-60}
SOAK_CONC=${SOAK_CONC:-4}
SOAK_MAX_REQUESTS=${SOAK_MAX_REQUESTS:-100000000}
MSGS=${SOAK_MSGS:-$regress/rules/msgs}

for x in "$PHISHMILTER" "$CLIENT"; do
	[ -x "$x" ] || { echo "soak: $x not built" >&2; exit 2; }
done

# The shipped configuration, on a free port, logging warnings only: an
# hour of one line per message would fill the disk.
cp -R "$top_srcdir/conf" "$WORK/conf"
pm_conf "$WORK/base.conf" </dev/null
sed -i -e "s|^listen = .*|$(grep '^listen' "$WORK/base.conf")|" \
    -e "s|^log_level = .*|log_level = warning|" \
    -e "s|^max_requests = .*|max_requests = $SOAK_MAX_REQUESTS|" \
    -e "s|^max_workers = .*|max_workers = $((SOAK_CONC * 2 > 8 ? SOAK_CONC * 2 : 8))|" \
    "$WORK/conf/phishmilter.conf"
{
	grep -E '^(user|pidfile) ' "$WORK/base.conf"
	cat "$WORK/conf/phishmilter.conf"
} >"$WORK/conf/soak.conf"
"$PHISHMILTER" -n -f "$WORK/conf/soak.conf" 2>&1 | grep -v 'configuration OK'
pm_start "$WORK/conf/soak.conf" || exit 2
pm_wait_workers 2

# procs: the parent and its workers.
procs() {
	echo "$PM_PID"
	pm_workers
}

rss_total() {
	local p t=0 r
	for p in $(procs); do
		r=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' \
		    "/proc/$p/status" 2>/dev/null)
		t=$((t + ${r:-0}))
	done
	echo "$t"
}

fds_total() {
	local p t=0
	for p in $(procs); do
		t=$((t + $(ls "/proc/$p/fd" 2>/dev/null | wc -l)))
	done
	echo "$t"
}

field() {	# field LINE NAME
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

nfilters=$("$PHISHMILTER" -n -v -f "$WORK/conf/soak.conf" 2>&1 |
    sed -n 's/.*: \([0-9]*\) filters/\1/p')
echo "soak: $SOAK_SECONDS s, a line every $SOAK_INTERVAL s," \
    "$SOAK_CONC connections, $(ls "$MSGS" | wc -l) messages, $nfilters filters"
printf '%9s %10s %5s %7s %9s %10s %6s\n' elapsed_s rss_kb fds workers \
    p99_ms msgs_per_s errors
start=$(date +%s)
elapsed=0 errors=0 lines=0
first_rss= first_fds=
while [ "$elapsed" -lt "$SOAK_SECONDS" ]; do
	left=$((SOAK_SECONDS - elapsed))
	secs=$((left < SOAK_INTERVAL ? left : SOAK_INTERVAL))
	sum=$("$CLIENT" -s "inet:127.0.0.1:$PM_PORT" -q -t 30 -c "$SOAK_CONC" \
	    -T "$secs" "$MSGS" 2>&1 | grep '^summary ')
	elapsed=$(($(date +%s) - start))
	rss=$(rss_total) fds=$(fds_total) n=$(pm_workers | wc -l)
	e=$(field "$sum" errors)
	errors=$((errors + ${e:-1}))
	: "${first_rss:=$rss}" "${first_fds:=$fds}"
	printf '%9d %10d %5d %7d %9s %10s %6s\n' "$elapsed" "$rss" "$fds" "$n" \
	    "$(field "$sum" p99_ms)" "$(field "$sum" msgs_per_s)" "${e:-?}"
	lines=$((lines + 1))
	kill -0 "$PM_PID" 2>/dev/null || break
done

died=$(log_count 'killed by signal|exited with status [1-9]|died at start-up')
warnings=$(log_count 'phishmilter\[[0-9]+\]: ')
echo "soak: $lines lines, errors $errors, workers died $died, log lines $warnings," \
    "rss_kb $first_rss -> $rss, fds $first_fds -> $fds"
[ "$warnings" -gt 0 ] && tail -n 5 "$WORK/log" | sed 's/^/soak: log: /'
kill -0 "$PM_PID" 2>/dev/null || { echo "soak: the daemon died"; exit 1; }
pm_stop || { echo "soak: the daemon did not exit cleanly"; exit 1; }
[ "$errors" -eq 0 ] && [ "$died" -eq 0 ]
