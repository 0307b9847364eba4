#!/usr/bin/env bash
#
# The fuzz harnesses, built with the plain driver (driver.c) instead of
# libFuzzer, replay their seeds (seeds/NAME/, one run per harness) and
# every input that once crashed them (crashes/NAME/, one run each, so
# that a failure names its input).  Each run must end with status 0: a
# crash, an abort of the harness's own checks or, in the sanitizer build
# of CI, any AddressSanitizer or UBSan report fails it.

. "${regress:-$(cd "$(dirname "$0")/.." && pwd)}/lib.sh"

FUZZ=$(cd "$(dirname "$0")" && pwd)
BIN=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}/regress/fuzz

[ -d "$FUZZ/seeds" ] || skip_all "no seeds at $FUZZ/seeds"

# An input must not take long, even under the sanitizers.
TIMEOUT=
command -v timeout >/dev/null 2>&1 && TIMEOUT="timeout 120"

# replay NAME DESCRIPTION FILE...: the harness f_NAME over the files.
replay() {
	local name=$1 desc=$2 st
	shift 2
	# shellcheck disable=SC2086
	$TIMEOUT "$BIN/f_$name" "$@" >"$WORK/out" 2>&1
	st=$?
	ok "$st" "$desc"
	if [ "$st" -ne 0 ]; then
		diag "exit status $st"
		diag "$(tail -30 "$WORK/out")"
	fi
}

for dir in "$FUZZ"/seeds/*/; do
	name=$(basename "$dir")
	if [ ! -x "$BIN/f_$name" ]; then
		ok 1 "$name: harness f_$name is built"
		continue
	fi
	set -- "$dir"*
	if [ ! -e "$1" ]; then
		ok 1 "$name: has seeds"
		continue
	fi
	replay "$name" "$name: $# seeds" "$@"
	for crash in "$FUZZ/crashes/$name"/*; do
		[ -f "$crash" ] || continue
		replay "$name" "$name: crash $(basename "$crash")" "$crash"
	done
done

done_testing
