#!/usr/bin/env bash
#
# Protocol tests with the project's client: for every case file in
# cases/, start the built daemon with the case's filters, send the
# case's messages with phishmilter-client and compare the verdict line
# it prints ("accept", "reject 550 5.7.1 ...", "quarantine REASON",
# " +Header: value" for added headers, " ~Subject[1]: value" for a
# changed one).
#
# A case file, cases/NAME.case:
#
#	# What the case shows (comment lines before the first section).
#	== conf			configuration added after the test header
#	== file rules.d/X.conf	an extra file beside the configuration
#	== message [NAME]	a message ("default" when unnamed)
#	== check		one client run, as key: value lines:
#	desc: ...		what it shows (the assertion's description)
#	message: NAME		which message (default: "default")
#	args: ...		client arguments, shell-quoted (-a -f -H -m -n -r)
#	expect: ...		the verdict line, exactly (file name left out)
#	like: ERE		the verdict line matches (repeatable)
#	unlike: ERE		the verdict line does not match (repeatable)
#	log: ERE		a line the daemon logs for it (repeatable)
#
# Arguments name the cases to run (default: all); PM_SHOW=1 prints each
# verdict line the client got as a diagnostic.

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/lib.sh"

: "${PHISHMILTER:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter}"
: "${CLIENT:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter-client}"
CASES=$(cd "$(dirname "$0")" && pwd)/cases

[ -x "$PHISHMILTER" ] || skip_all "no daemon built at $PHISHMILTER"
[ -x "$CLIENT" ] || skip_all "no client built at $CLIENT"

# case_split FILE DIR: the sections of a case file as files in DIR:
# conf, msg.NAME, check.N, and the "file" sections at their paths.
case_split() {
	awk -v dir="$2" '
	function out(path) {
		if (cur != "")
			close(cur)
		cur = dir "/" path
		n = split(path, parts, "/")
		if (n > 1)
			system("mkdir -p \"" dir "/" substr(path, 1,
			    length(path) - length(parts[n]) - 1) "\"")
		printf "" > cur
	}
	/^== conf *$/		{ out("conf"); next }
	/^== file /		{ out($3); next }
	/^== message *$/	{ out("msg.default"); next }
	/^== message /		{ out("msg." $3); next }
	/^== check *$/		{ out("check." sprintf("%02d", ++nchecks)); next }
	/^== /			{ print FILENAME ": unknown section " $0 \
				    > "/dev/stderr"; exit 1 }
	cur != ""		{ print >> cur }
	' "$1"
}

# run_check NAME DIR CHECKFILE: one client run and its assertions.
run_check() {
	local name=$1 dir=$2 line key val from out got
	local desc="" msg=default args="" expect="" have_expect=0
	local -a likes=() unlikes=() logs=()

	while IFS= read -r line; do
		case $line in
		""|"#"*)
			continue ;;
		*:*)
			key=${line%%:*}
			val=${line#*:}
			val=${val# } ;;
		*)
			ok 1 "$name: malformed check line '$line'"
			return ;;
		esac
		case $key in
		desc)	desc=$val ;;
		message) msg=$val ;;
		args)	args=$val ;;
		expect)	expect=$val; have_expect=1 ;;
		like)	likes+=("$val") ;;
		unlike)	unlikes+=("$val") ;;
		log)	logs+=("$val") ;;
		*)	ok 1 "$name: unknown check key '$key'"; return ;;
		esac
	done <"$3"
	desc="$name: ${desc:-client $args}"
	if [ ! -f "$dir/msg.$msg" ]; then
		ok 1 "$desc (no message '$msg' in the case)"
		return
	fi

	from=$(log_lines)
	eval "set -- $args"
	out=$(client "$@" "$dir/msg.$msg" 2>&1)
	got=${out#"$dir/msg.$msg: "}
	[ -n "${PM_SHOW:-}" ] && diag "client: $got"

	if [ $have_expect -eq 1 ]; then
		is "$got" "$expect" "$desc"
	fi
	for val in "${likes[@]}"; do
		like "$got" "$val" "$desc (matches /$val/)"
	done
	for val in "${unlikes[@]}"; do
		if printf '%s\n' "$got" | grep -Eq -- "$val"; then
			ok 1 "$desc (does not match /$val/)"
			diag "got: '$got'"
		else
			ok 0 "$desc (does not match /$val/)"
		fi
	done
	for val in "${logs[@]}"; do
		wait_until 3 log_has "$val" "$from"
		ok $? "$desc (daemon logs /$val/)"
	done
}

# run_case FILE: a daemon with the case's configuration, then its checks.
run_case() {
	local file=$1 name dir c
	name=$(basename "$file" .case)
	dir=$WORK/cases/$name
	mkdir -p "$dir"
	if ! case_split "$file" "$dir" || [ ! -f "$dir/conf" ]; then
		ok 1 "$name: case file has a conf section"
		return
	fi
	pm_conf "$dir/phishmilter.conf" <"$dir/conf"
	if ! pm_start "$dir/phishmilter.conf"; then
		ok 1 "$name: daemon starts with the case's configuration"
		kill -KILL "$PM_PID" 2>/dev/null
		PM_PID=
		return
	fi
	for c in "$dir"/check.*; do
		[ -f "$c" ] && run_check "$name" "$dir" "$c"
	done
	pm_stop
}

# The cases named as arguments, or all.
if [ $# -gt 0 ]; then
	for c in "$@"; do run_case "$CASES/${c%.case}.case"; done
else
	for f in "$CASES"/*.case; do
		[ -f "$f" ] || skip_all "no case files in $CASES"
		run_case "$f"
	done
fi

is "$(log_count 'killed by signal|exited with status [1-9]')" 0 \
    "no worker crashed or failed over all cases"

done_testing
