#!/usr/bin/env bash
#
# make bench: phishmilter with the shipped rules, phishmilter with 10,000
# filters, a null libmilter filter (the floor of what the protocol
# costs) and rspamd in milter mode, one after the other on the same
# corpus with the same client flags, at a few concurrencies; prints one
# table and the throughput ratios, and writes them to $BENCH_OUT.
# Not part of make check.  Run by regress/Makefile's bench target, which
# sets the paths below; the knobs are environment variables:
#
#	BENCH_N		messages per cell (3000)
#	BENCH_CONC	concurrencies ("1 8 32")
#	BENCH_M		messages per connection, the client's -M (1)
#	BENCH_WARMUP	messages sent before a server's first cell (10 per
#			connection of the largest concurrency)
#	BENCH_FILTERS	filters of the large configuration (10000)
#	BENCH_SERVERS	which to run ("phishmilter phishmilter-10k
#			libmilter-null rspamd")
#	BENCH_TIMEOUT	seconds a cell may take before it is cut (300)
#	BENCH_START	seconds a server may take to be ready (300)
#	BENCH_OUT	the file the report is also written to (./bench.out)
#	RSPAMD		the rspamd program (rspamd, from PATH)
#
# Linux only (/proc).  Every process it starts is stopped and its
# scratch directory removed on exit, ^C included.  Exits 1 when a server
# that is there did not start or a cell failed, 0 otherwise (a server
# that is not installed is skipped).

regress=${regress:-$(cd "$(dirname "$0")/.." && pwd)}
. "$regress/lib.sh"	# WORK (removed on exit), free_port, port_busy, ...

: "${top_srcdir:=$(cd "$regress/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${PHISHMILTER:=$top_builddir/src/phishmilter}"
: "${CLIENT:=$top_builddir/src/phishmilter-client}"
: "${NULLMILTER:=}"
: "${CORPUS:=$(cd "$top_srcdir/.." && pwd)/shared/corpus}"
: "${BENCH_N:=3000}"
: "${BENCH_CONC:=1 8 32}"
: "${BENCH_M:=1}"
: "${BENCH_FILTERS:=10000}"
: "${BENCH_SERVERS:=phishmilter phishmilter-10k libmilter-null rspamd}"
: "${BENCH_TIMEOUT:=300}"
: "${BENCH_START:=300}"
: "${BENCH_OUT:=$PWD/bench.out}"
: "${RSPAMD:=rspamd}"

BENCH=$top_srcdir/regress/bench
TICKS=$(getconf CLK_TCK)
SERVERS=		# pids of the servers running, for the clean-up
BOUNDED=		# pid of the timeout(1) running the client, likewise
FAILED=0		# a server did not start or a cell failed
ROWS=()			# the table, one "server c rate p50 p99 cpu rss note"
declare -A RATE		# RATE[server,c]: msgs/s
declare -A ABOUT	# ABOUT[server]: what it is, for the report
declare -A SKIPPED	# SKIPPED[server]: why it was not measured

log() {
	printf 'bench: %s\n' "$*" >&2
}

die() {
	log "$*"
	exit 1
}

# --- processes -------------------------------------------------------

# tree_pids ROOT: ROOT, if alive, and all its descendants.
tree_pids() {
	ps -e -o pid= -o ppid= 2>/dev/null | awk -v root="$1" '
	    { parent[$1] = $2 }
	    END {
		if (!(root in parent))
			exit
		tree[root] = 1
		do {
			more = 0
			for (p in parent)
				if (!(p in tree) && (parent[p] in tree)) {
					tree[p] = 1
					more = 1
				}
		} while (more)
		for (p in tree)
			print p
	    }'
}

# stat_fields PID...: "pid starttime utime+stime+cutime+cstime" for
# each process still there.  comm may hold blanks and parentheses: the
# fields are counted after its last ')'.
stat_fields() {
	local p

	for p; do
		cat "/proc/$p/stat" 2>/dev/null
	done | awk '{
		pid = $1
		sub(/^.*\) /, "")
		print pid, $20, $12 + $13 + $14 + $15
	    }'
}

# tree_ticks ROOT: CPU clock ticks of the tree, user and system, its
# reaped children included.
tree_ticks() {
	stat_fields $(tree_pids "$1") |
	    awk '{ s += $3 } END { printf "%d\n", s }'
}

# kill_snapshot "pid starttime" lines: SIGKILL to those still alive and
# not a new process that got the same pid.
kill_snapshot() {
	local pid start now

	while read -r pid start; do
		now=$(stat_fields "$pid" | awk '{ print $2 }')
		[ -n "$now" ] && [ "$now" = "$start" ] &&
		    kill -KILL "$pid" 2>/dev/null
	done
	return 0
}

# stop_tree GRACE ROOT...: SIGTERM to each ROOT, GRACE seconds for the
# trees to go, then SIGKILL to what is left of them, children that the
# end of their parent left to init included.
stop_tree() {
	local grace=$1 p snap

	shift
	snap=$(stat_fields $(for p; do tree_pids "$p"; done) |
	    awk '{ print $1, $2 }')
	for p; do
		kill -TERM "$p" 2>/dev/null
	done
	for p; do
		wait_until "$grace" pids_gone "$p" ||
		    log "pid $p did not stop on SIGTERM; killing it"
	done
	printf '%s\n' "$snap" | kill_snapshot
	for p; do
		wait "$p" 2>/dev/null
	done
	return 0
}

stop_server() {
	stop_tree 15 "$1"
	SERVERS=$(printf '%s\n' $SERVERS | grep -vx "$1")
}

# private_kb PID: Private_Clean + Private_Dirty of a process, in kB
# (smaps, mapping by mapping, before Linux 4.14).
private_kb() {
	local f=/proc/$1/smaps_rollup

	[ -e "$f" ] || f=/proc/$1/smaps
	awk '/^Private_(Clean|Dirty):/ { s += $2 } END { printf "%d\n", s }' \
	    "$f" 2>/dev/null
}

# serving_pids SERVER ROOT: the processes that serve milter connections.
serving_pids() {
	local p

	case $1 in
	phishmilter*)
		pgrep -P "$2" ;;
	rspamd)
		for p in $(pgrep -P "$2"); do
			tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
			    grep -q rspamd_proxy && echo "$p"
		done ;;
	*)
		echo "$2" ;;
	esac
}

# rss_mb SERVER ROOT: the largest private RSS of its serving processes.
rss_mb() {
	local p kb max=0

	for p in $(serving_pids "$1" "$2"); do
		kb=$(private_kb "$p")
		[ "${kb:-0}" -gt "$max" ] && max=$kb
	done
	awk -v k="$max" 'BEGIN { printf "%.1f\n", k / 1024 }'
}

# bounded OUT ERR SECONDS COMMAND...: COMMAND under timeout(1), its
# standard output to OUT and its errors appended to ERR, waited for with
# the wait builtin, which a trapped signal interrupts at once.  timeout
# puts COMMAND in a process group of its own, which ^C does not reach:
# the clean-up stops that group.
bounded() {
	local st out=$1 err=$2

	shift 2
	timeout -k 5 "$@" >"$out" 2>>"$err" &
	BOUNDED=$!
	wait "$BOUNDED"
	st=$?
	BOUNDED=
	return $st
}

# The client first (timeout passes SIGINT on to its group, and the
# client stops its workers on SIGINT), then the servers.
bench_cleanup() {
	if [ -n "$BOUNDED" ]; then
		kill -INT "$BOUNDED" 2>/dev/null
		wait_until 5 pids_gone "$BOUNDED" ||
		    kill -KILL -- "-$BOUNDED" 2>/dev/null
	fi
	[ -n "${SERVERS// /}" ] && stop_tree 3 $SERVERS
	rm -rf "$WORK"
}
trap bench_cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# settle ROOT: waits (60 s at most) until the tree uses less than 5% of
# a CPU, so that start-up work (rule compilation, rspamd's hyperscan
# helper) is not counted in a cell.
settle() {
	local i=0 t0 t1

	t1=$(tree_ticks "$1")
	while [ $i -lt 60 ]; do
		t0=$t1
		sleep 1
		t1=$(tree_ticks "$1")
		[ $((t1 - t0)) -le $((TICKS / 20)) ] && return 0
		i=$((i + 1))
	done
	log "pid $1 still busy after 60 s; measuring anyway"
}

# --- the corpus ------------------------------------------------------

corpus_files() {
	find "$CORPUS/phishing_pot/email" -type f -name '*.eml'
	find "$CORPUS/python-email" -type f -name 'msg_*' 2>/dev/null
	find "$CORPUS/sisimai/maildir/bsd" -type f 2>/dev/null
	find "$CORPUS/mail-parser/eml" -type f -name '*.eml' 2>/dev/null
	find "$CORPUS/spamassassin" -type f -name '*nonspam*' 2>/dev/null
}

# One directory of links, phishing and ham interleaved in a fixed order
# (the client sends its files round-robin in name order).
make_corpus() {
	local dir=$WORK/corpus key f

	[ -d "$CORPUS/phishing_pot/email" ] ||
	    die "no corpus at $CORPUS/phishing_pot (see its README.md)"
	CORPUS=$(cd "$CORPUS" && pwd -P)
	mkdir -p "$dir"
	corpus_files | LC_ALL=C sort |
	    awk '{ printf "%07d %s\n", (NR * 7919) % 1000003, $0 }' |
	    while read -r key f; do
		ln -s "$f" "$dir/$key-${f##*/}" || exit 1
	done || die "cannot make the corpus links"
	PHISH=$(find "$CORPUS/phishing_pot/email" -type f -name '*.eml' |
	    wc -l)
	NMSGS=$(find "$dir" -type l | wc -l)
	HAM=$((NMSGS - PHISH))
	CORPUSDIR=$dir
	SAMPLE=$(find "$dir" -type l | LC_ALL=C sort | awk 'NR == 1')
}

# --- the servers -----------------------------------------------------

# pm_bench_conf DIR PORT [FILE...]: the shipped configuration with the
# listener, user, pid file and pool set for the benchmark, its includes
# made absolute, and the FILEs included after them.
pm_bench_conf() {
	local dir=$1 port=$2 f
	local keys='listen|user|pidfile|min_spare|max_spare|max_workers'
	local inc="include(\"$top_srcdir/conf/\\1\""

	keys="$keys|max_requests|shutdown_timeout"
	shift 2
	{
		cat <<EOF
# make bench: $top_srcdir/conf/phishmilter.conf with these settings.
listen = "inet:127.0.0.1:$port"
user = "$(pm_user)"
pidfile = "$dir/phishmilter.pid"
min_spare = $POOL
max_spare = $POOL
max_workers = $POOL
max_requests = 1000000000
shutdown_timeout = 5
EOF
		sed -E -e "/^[[:space:]]*($keys)[[:space:]]*=/d" \
		    -e "s|include\\(\"([^/\"][^\"]*)\"|$inc|" \
		    "$top_srcdir/conf/phishmilter.conf"
		for f; do
			echo "include(\"$f\")"
		done
	} >"$dir/phishmilter.conf"
}

# pm_nfilters CONF: the number of filters phishmilter -n counts.
pm_nfilters() {
	"$PHISHMILTER" -n -v -f "$1" 2>&1 |
	    sed -n 's/.*: \([0-9][0-9]*\) filters$/\1/p' | tail -1
}

check_phishmilter() {
	mkdir -p "$WORK/phishmilter"
	pm_bench_conf "$WORK/phishmilter" 1
	NSHIPPED=$(pm_nfilters "$WORK/phishmilter/phishmilter.conf")
	if [ -z "$NSHIPPED" ]; then
		SKIPPED[phishmilter]="phishmilter -n fails on the shipped"
		SKIPPED[phishmilter]+=" conf/phishmilter.conf"
		FAILED=1
		return
	fi
	ABOUT[phishmilter]="conf/phishmilter.conf as shipped,"
	ABOUT[phishmilter]+=" $NSHIPPED filters"
}

# The MilterAgent filters and the generated ones after the shipped ones.
# MilterAgent's filters have the names of the shipped brand filters,
# hence a prefix.
check_large() {
	local dir=$WORK/phishmilter-10k ma base gen all

	mkdir -p "$dir"
	if ! command -v perl >/dev/null 2>&1; then
		SKIPPED[phishmilter-10k]="no perl"
		return
	fi
	if [ ! -d "$CORPUS/milteragent/MilterAgent.d" ]; then
		SKIPPED[phishmilter-10k]="no $CORPUS/milteragent"
		return
	fi
	perl "$top_srcdir/contrib/milteragent-import" \
	    "$CORPUS/milteragent/MilterAgent.conf.sample" \
	    "$CORPUS/milteragent/MilterAgent.d" 2>"$dir/import.err" |
	    awk '/^filter / { sub(/^filter /, "filter ma_") }
		/^filter /, /^}/' >"$dir/milteragent.conf"
	ma=$(grep -c '^filter ' "$dir/milteragent.conf")
	pm_bench_conf "$dir" 1 "$dir/milteragent.conf"
	base=$(pm_nfilters "$dir/phishmilter.conf")
	gen=$((BENCH_FILTERS - ${base:-0}))
	[ $gen -lt 0 ] && gen=0
	perl "$BENCH/genfilters" "$gen" >"$dir/generated.conf"
	LARGE_RULES="$dir/milteragent.conf $dir/generated.conf"
	pm_bench_conf "$dir" 1 $LARGE_RULES
	all=$(pm_nfilters "$dir/phishmilter.conf")
	if [ "$ma" -eq 0 ] || [ -z "$base" ] || [ -z "$all" ]; then
		SKIPPED[phishmilter-10k]="the MilterAgent or generated rules"
		SKIPPED[phishmilter-10k]+=" do not load (import: $ma filters)"
		FAILED=1
		return
	fi
	ABOUT[phishmilter-10k]="the same + $ma MilterAgent filters"
	ABOUT[phishmilter-10k]+=" (milteragent-import) + $gen from"
	ABOUT[phishmilter-10k]+=" regress/bench/genfilters = $all filters"
}

check_null() {
	if [ -z "$NULLMILTER" ]; then
		SKIPPED[libmilter-null]="not built, libmilter was not found"
		SKIPPED[libmilter-null]+=" (Debian: libmilter-dev)"
	elif [ ! -x "$NULLMILTER" ]; then
		SKIPPED[libmilter-null]="no $NULLMILTER"
	else
		ABOUT[libmilter-null]="regress/bench/nullmilter: libmilter,"
		ABOUT[libmilter-null]+=" a thread per connection, every"
		ABOUT[libmilter-null]+=" callback, accepts"
	fi
}

check_rspamd() {
	local u v n

	if ! command -v "$RSPAMD" >/dev/null 2>&1; then
		SKIPPED[rspamd]="$RSPAMD is not installed"
		SKIPPED[rspamd]+=" (Debian: apt-get install rspamd)"
		return
	fi
	RSPAMD_USER='' RSPAMD_OWNER=''
	if [ "$(id -u)" -eq 0 ]; then
		# rspamd refuses to run its workers as root.
		for u in _rspamd rspamd; do
			id "$u" >/dev/null 2>&1 || continue
			RSPAMD_USER="-u $u -g $(id -gn "$u")"
			RSPAMD_OWNER="$u:$(id -gn "$u")"
			break
		done
		if [ -z "$RSPAMD_USER" ]; then
			SKIPPED[rspamd]="no _rspamd user to run rspamd as"
			return
		fi
		chmod 711 "$WORK"
	fi
	RSPAMD_COUNT=$(nproc)
	v=$("$RSPAMD" --version 2>/dev/null |
	    sed -n 's/.*version \([^ ]*\).*/\1/p')
	n=$(grep -c '^	BENCH_[A-Z_]* {' "$BENCH/rspamd/rspamd.conf")
	ABOUT[rspamd]="rspamd ${v:-?} milter proxy, self_scan,"
	ABOUT[rspamd]+=" $RSPAMD_COUNT processes, $n regexp rules,"
	ABOUT[rspamd]+=" no Lua plugins, redis or DNS"
}

# rspamd_conf DIR PORT: regress/bench/rspamd/rspamd.conf for this run.
rspamd_conf() {
	mkdir -p "$1/db" "$1/tmp"
	sed -e "s|@BENCHDIR@|$1|g" -e "s|@BENCHPORT@|$2|g" \
	    -e "s|@BENCHCOUNT@|$RSPAMD_COUNT|g" \
	    "$BENCH/rspamd/rspamd.conf" >"$1/rspamd.conf"
	[ -n "$RSPAMD_OWNER" ] && chown -R "$RSPAMD_OWNER" "$1"
	return 0
}

# launch SERVER DIR PORT: starts it in the background, logging to DIR.
launch() {
	case $1 in
	phishmilter)
		pm_bench_conf "$2" "$3"
		"$PHISHMILTER" -d -f "$2/phishmilter.conf" >>"$2/log" 2>&1 & ;;
	phishmilter-10k)
		pm_bench_conf "$2" "$3" $LARGE_RULES
		"$PHISHMILTER" -d -f "$2/phishmilter.conf" >>"$2/log" 2>&1 & ;;
	libmilter-null)
		"$NULLMILTER" "inet:$3@127.0.0.1" >>"$2/log" 2>&1 & ;;
	rspamd)
		rspamd_conf "$2" "$3"
		"$RSPAMD" -f $RSPAMD_USER -c "$2/rspamd.conf" \
		    >>"$2/log" 2>&1 & ;;
	esac
	SRV_PID=$!
	SERVERS="$SERVERS $SRV_PID"
}

# start_server SERVER: starts it on a free port; sets SRV_PID and
# SRV_SOCK, or SKIPPED[SERVER] and returns 1.  free_port's choice may be
# taken by another program before the server binds it: then another.
start_server() {
	local s=$1 dir=$WORK/$1 try=0 port

	mkdir -p "$dir"
	while [ $try -lt 5 ]; do
		try=$((try + 1))
		port=$(free_port)
		SRV_SOCK=inet:127.0.0.1:$port
		: >"$dir/log"
		launch "$s" "$dir" "$port"
		server_ready "$s" "$dir" && return 0
		stop_server "$SRV_PID"
		grep -qi 'address already in use\|cannot listen' \
		    "$dir/log" "$dir"/*.log 2>/dev/null || break
		log "$s: port $port taken, trying another"
	done
	SKIPPED[$s]="did not start: $(tail -3 "$dir/log" | tr '\n' ' ')"
	FAILED=1
	return 1
}

# server_ready SERVER DIR: until the server answers a message and, for
# phishmilter, its whole pool is up; BENCH_START seconds at most.
server_ready() {
	local deadline=$((SECONDS + BENCH_START)) port=${SRV_SOCK##*:}

	while [ $SECONDS -lt $deadline ]; do
		pids_gone "$SRV_PID" && return 1
		if port_busy "$port"; then
			bounded "$2/ready.out" "$2/ready.err" 30 "$CLIENT" \
			    -s "$SRV_SOCK" "$SAMPLE"
			if [ -s "$2/ready.out" ] &&
			    ! grep -q ': error' "$2/ready.out"; then
				case $1 in
				phishmilter*) pm_pool_up "$2" && return 0 ;;
				*) return 0 ;;
				esac
			fi
		fi
		sleep 0.5
	done
	log "$1: not ready after $BENCH_START s"
	return 1
}

# pm_pool_up DIR: SIGUSR1 makes the parent log its pool; true when all
# $POOL workers are up and none is still starting (compiling its rules).
pm_pool_up() {
	local from

	from=$(($(wc -l <"$1/log") + 1))
	kill -USR1 "$SRV_PID" 2>/dev/null || return 1
	sleep 0.5
	tail -n +"$from" "$1/log" |
	    grep -E 'generation [0-9]+: [0-9]+ workers' | tail -1 |
	    grep -Eq ": $POOL workers \\([0-9]+ idle, 0 starting\\)"
}

# --- the measurements ------------------------------------------------

# field LINE NAME: the value of NAME=value in a summary line.
field() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# load C N: the client, bounded by BENCH_TIMEOUT; its summary line in
# $WORK/summary.
load() {
	local st

	bounded "$WORK/client.out" "$WORK/client.err" "$BENCH_TIMEOUT" \
	    "$CLIENT" -q -c "$1" -N "$2" -M "$BENCH_M" -s "$SRV_SOCK" \
	    "$CORPUSDIR"
	st=$?
	grep '^summary ' "$WORK/client.out" >"$WORK/summary"
	return $st
}

# cell SERVER C: one row of the table.
cell() {
	local s=$1 c=$2 t0 t1 sum st msgs errs cpu note=

	settle "$SRV_PID"
	log "$s c=$c: $BENCH_N messages"
	t0=$(tree_ticks "$SRV_PID")
	load "$c" "$BENCH_N"
	st=$?
	t1=$(tree_ticks "$SRV_PID")
	sum=$(cat "$WORK/summary")
	msgs=$(field "$sum" messages)
	errs=$(field "$sum" errors)
	if [ $st -eq 124 ] || [ $st -eq 137 ]; then
		note="cut after $BENCH_TIMEOUT s"
	elif [ -z "$sum" ]; then
		note="client failed, status $st"
	elif [ "${errs:-0}" != 0 ]; then
		note="$errs errors"
	fi
	[ -n "$note" ] && FAILED=1
	if [ -z "$sum" ] || [ "${msgs:-0}" = 0 ]; then
		ROWS+=("$s $c - - - - - ${note:-no messages}")
		return
	fi
	cpu=$(awk -v d=$((t1 - t0)) -v hz="$TICKS" -v n="$msgs" \
	    'BEGIN { printf "%.2f", d / hz / n * 1000 }')
	RATE[$s,$c]=$(field "$sum" msgs_per_s)
	ROWS+=("$s $c ${RATE[$s,$c]} $(field "$sum" p50_ms) \
$(field "$sum" p99_ms) $cpu $(rss_mb "$s" "$SRV_PID") $note")
	log "$s c=$c: $sum"
}

bench_server() {
	local s=$1 c

	if [ -z "${SKIPPED[$s]:-}" ]; then
		log "$s: starting"
		start_server "$s"
	fi
	if [ -n "${SKIPPED[$s]:-}" ]; then
		log "$s: skipped: ${SKIPPED[$s]}"
		for c in $BENCH_CONC; do
			ROWS+=("$s $c - - - - - skipped")
		done
		return
	fi
	settle "$SRV_PID"
	log "$s: warm-up, $WARMUP messages at c=$CMAX"
	load "$CMAX" "$WARMUP"
	for c in $BENCH_CONC; do
		cell "$s" "$c"
	done
	log "$s: stopping"
	stop_server "$SRV_PID"
}

# --- the report ------------------------------------------------------

ratio() {	# ratio A B C: A's throughput over B's at concurrency C
	local a=${RATE[$1,$3]:-} b=${RATE[$2,$3]:-}

	if [ -z "$a" ]; then
		echo "skipped: ${SKIPPED[$1]:-"$1 not measured at c=$3"}"
	elif [ -z "$b" ]; then
		echo "skipped: ${SKIPPED[$2]:-"$2 not measured at c=$3"}"
	else
		awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0)
		    printf "%.2f\n", a / b; else print "skipped: 0 msgs/s" }'
	fi
}

report_head() {
	local s

	echo "phishmilter benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "corpus: $NMSGS messages from $CORPUS:" \
	    "$PHISH phishing (phishing_pot), $HAM ham (python-email," \
	    "sisimai maildir/bsd, mail-parser, spamassassin nonspam)"
	echo "load: phishmilter-client -q -c C -N $BENCH_N -M $BENCH_M," \
	    "the same for every server, after a warm-up of $WARMUP" \
	    "messages at c=$CMAX; a cell is cut after $BENCH_TIMEOUT s"
	echo "phishmilter pool: min_spare = max_spare = max_workers =" \
	    "$POOL, max_requests = 1000000000, log_level info to a file"
	echo "CPU: utime+stime of the server's whole process tree, reaped" \
	    "children included, per 1000 messages"
	echo "RSS: Private_Clean+Private_Dirty (smaps_rollup), the max" \
	    "over the processes serving milter (phishmilter workers," \
	    "nullmilter's one process, rspamd proxies)"
	for s in $BENCH_SERVERS; do
		if [ -n "${SKIPPED[$s]:-}" ]; then
			printf '  %-16s skipped: %s\n' "$s" "${SKIPPED[$s]}"
		else
			printf '  %-16s %s\n' "$s" "${ABOUT[$s]:-}"
		fi
	done
}

report_table() {
	local row fmt='%-16s %3s %9s %9s %9s %14s %18s'

	printf "$fmt\\n" server c msgs/s "p50 ms" "p99 ms" \
	    "CPU s/1000 msg" "private RSS/wkr MB"
	for row in "${ROWS[@]}"; do
		set -- $row
		printf "$fmt" "$1" "$2" "$3" "$4" "$5" "$6" "$7"
		shift 7
		[ $# -gt 0 ] && printf '  (%s)' "$*"
		printf '\n'
	done
}

report() {
	local c

	report_head
	echo
	report_table
	echo
	for c in 8 32; do
		echo "ratio phishmilter/libmilter-null at c=$c:" \
		    "$(ratio phishmilter libmilter-null $c)"
		echo "ratio phishmilter/rspamd at c=$c:" \
		    "$(ratio phishmilter rspamd $c)"
	done
	for c in 8 32; do
		echo "ratio phishmilter-10k/libmilter-null at c=$c:" \
		    "$(ratio phishmilter-10k libmilter-null $c)"
	done
	echo "machine: $(nproc) CPUs," \
	    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo |
		awk 'NR == 1')," \
	    "$(uname -sr), load average at the end" \
	    "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# --- main ------------------------------------------------------------

[ -x "$PHISHMILTER" ] || die "no daemon built at $PHISHMILTER"
[ -x "$CLIENT" ] || die "no client built at $CLIENT"
command -v timeout >/dev/null 2>&1 || die "no timeout(1)"
case $BENCH_N in
''|*[!0-9]*|0) die "BENCH_N must be a positive number" ;;
esac
CMAX=0
for c in $BENCH_CONC; do
	case $c in
	''|*[!0-9]*|0) die "bad concurrency in BENCH_CONC: $c" ;;
	esac
	[ "$c" -gt "$CMAX" ] && CMAX=$c
done
[ "$CMAX" -gt 0 ] || die "BENCH_CONC is empty"
# A fixed pool: one worker per connection of the largest concurrency and
# two spare, so that no worker is started or stopped during a cell.
POOL=$((CMAX + 2))
: "${BENCH_WARMUP:=$((CMAX * 10))}"
WARMUP=$BENCH_WARMUP

make_corpus
for s in $BENCH_SERVERS; do
	case $s in
	phishmilter) check_phishmilter ;;
	phishmilter-10k) check_large ;;
	libmilter-null) check_null ;;
	rspamd) check_rspamd ;;
	*) die "unknown server in BENCH_SERVERS: $s" ;;
	esac
done
for s in $BENCH_SERVERS; do
	bench_server "$s"
done
report >"$WORK/report"
cat "$WORK/report"
cp "$WORK/report" "$BENCH_OUT" && log "written to $BENCH_OUT"
exit $FAILED
