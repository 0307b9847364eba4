#!/usr/bin/env bash
#
# Protocol tests with OpenDKIM's miltertest(8) as the MTA: for every
# lua/t-*.lua, start the built daemon with the configuration the script
# carries in its first comment block (--[[ phishmilter.conf ... ]]), run
# the script, and turn the "ok - ..." / "not ok - ..." lines it prints
# into this test's assertions.  A script with a "-- parallel: N" line is
# run N times at once, with -D ID=1..N.
#
# Arguments name the scripts to run (for debugging); default: all.

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/lib.sh"

: "${PHISHMILTER:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter}"
LUADIR=$(cd "$(dirname "$0")" && pwd)/lua

[ -n "${MILTERTEST:-}" ] || skip_all "miltertest not found (Debian: miltertest)"
[ -x "$MILTERTEST" ] || skip_all "miltertest $MILTERTEST is not executable"
[ -x "$PHISHMILTER" ] || skip_all "no daemon built at $PHISHMILTER"

# lua_conf SCRIPT: the configuration block at the top of a script.
lua_conf() {
	sed -n '/^--\[\[ phishmilter\.conf/,/^\]\]/p' "$1" | sed '1d;$d'
}

# mt_run NAME OUT [ID]: one miltertest run of lua/NAME.lua.
mt_run() {
	"$MILTERTEST" -D SOCK="inet:$PM_PORT@127.0.0.1" -D LUADIR="$LUADIR" \
	    -D ID="${3:-1}" -s "$LUADIR/$1.lua" >"$2" 2>&1
}

# mt_report NAME OUT STATUS: the script's assertions, then whether it
# ran to its end.
mt_report() {
	local name=$1 out=$2 st=$3 line n=0
	while IFS= read -r line; do
		case $line in
		"ok - "*)	ok 0 "$name: ${line#ok - }"; n=$((n + 1)) ;;
		"not ok - "*)	ok 1 "$name: ${line#not ok - }"; n=$((n + 1)) ;;
		"# done")	;;
		"#"*)		echo "$line" ;;
		*)		diag "$line" ;;
		esac
	done <"$out"
	grep -qx '# done' "$out" && [ "$st" -eq 0 ] && [ $n -gt 0 ]
	ok $? "$name: miltertest ran the script to its end ($n checks, exit $st)"
}

run_script() {
	local name=$1 conf=$WORK/$1.conf par i st
	local -a pids=()
	lua_conf "$LUADIR/$name.lua" >"$conf.in"
	pm_conf "$conf" <"$conf.in"
	if ! pm_start "$conf"; then
		ok 1 "$name: daemon starts with the script's configuration"
		kill -KILL "$PM_PID" 2>/dev/null
		PM_PID=
		return
	fi
	par=$(sed -n 's/^-- parallel: *\([0-9][0-9]*\).*/\1/p' \
	    "$LUADIR/$name.lua")
	if [ -z "$par" ]; then
		mt_run "$name" "$WORK/$name.out"
		mt_report "$name" "$WORK/$name.out" $?
	else
		for i in $(seq "$par"); do
			mt_run "$name" "$WORK/$name.$i.out" "$i" &
			pids+=($!)
		done
		for i in $(seq "$par"); do
			wait "${pids[$((i - 1))]}"
			st=$?
			mt_report "$name[$i]" "$WORK/$name.$i.out" $st
		done
		mt_parallel_log "$name" "$par"
	fi
	pm_stop
	ok $? "$name: daemon exits cleanly on SIGTERM"
}

# mt_parallel_log NAME N: the daemon logged each queue id of the
# parallel runs with the verdict that run expected.
mt_parallel_log() {
	local id i want bad=0
	for id in $(seq "$2"); do
		for i in 1 2 3; do
			if [ $(((id + i) % 2)) -eq 0 ]; then want=reject
			else want=accept; fi
			if ! log_has "Q$id-$i\b.*verdict=$want\b"; then
				diag "no log line for Q$id-$i with verdict=$want"
				bad=1
			fi
		done
	done
	ok $bad "$1: the log has each of the $(($2 * 3)) queue ids with its verdict"
	# Each connection was held open mid-message at the same time as
	# the others, so each had a worker of its own.
	is "$(grep -E 'Q[0-9]+-1\b.*verdict=' "$WORK/log" |
	    sed -n 's/^[^[]*\[\([0-9]*\)\].*/\1/p' | sort -u | wc -l |
	    tr -d ' ')" "$2" "$1: $2 connections at once were served by $2 workers"
}

if [ $# -gt 0 ]; then
	scripts="$*"
else
	scripts=$(cd "$LUADIR" && ls t-*.lua | sed 's/\.lua$//')
fi
for s in $scripts; do
	run_script "${s%.lua}"
done

# miltertest (OpenDKIM 2.11, test facility 1.6) has no call that sends
# SMFIC_QUIT_NC; t_hostile.sh sends it with raw packets.
ok 0 "QUIT_NC # SKIP miltertest cannot send SMFIC_QUIT_NC (see t_hostile.sh)"

is "$(log_count 'killed by signal|exited with status [1-9]')" 0 \
    "no worker crashed or failed"

done_testing
