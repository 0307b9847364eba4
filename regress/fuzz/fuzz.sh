#!/bin/sh
# "make fuzz": builds the harnesses of regress/fuzz with clang, libFuzzer,
# AddressSanitizer and UBSan in an out-of-tree build of their own, then
# runs each for FUZZ_TIME seconds and prints libFuzzer's final figures:
# executions, exec/s, cov (code edges reached), ft (features), corpus.
#
# usage: fuzz.sh SRCDIR BUILDDIR
#
# A harness is every directory of seeds/: seeds/NAME holds the seeds of
# f_NAME.c, and crashes/NAME the inputs that once crashed it, which
# "make check" replays (t_seeds.sh).  The corpus grows in
# BUILDDIR/regress/fuzz/corpus/NAME from one run to the next.  The
# libFuzzer options of a harness are on its source's " * libFuzzer:"
# line.  A crash ends that harness's run; its input is left in
# BUILDDIR/regress/fuzz/artifacts/NAME/, and once the bug is fixed it
# belongs in crashes/NAME.
#
# Environment: FUZZ_TIME (seconds, 60), FUZZERS (names, default all),
# FUZZ_CC (clang), FUZZ_ARGS (more libFuzzer options).
#
# A new harness: f_NAME.c with its " * libFuzzer:" line, seeds/NAME/,
# and two lines in regress/Makefile.am: fuzz/f_NAME in FUZZ_HARNESSES,
# and fuzz_f_NAME_SOURCES = fuzz/f_NAME.c $(FUZZ_COMMON).

set -eu

srcdir=$1
build=$2
fuzzdir=$srcdir/regress/fuzz
time=${FUZZ_TIME:-60}
cc=${FUZZ_CC:-clang}
san=address,undefined
cflags="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,$san"
cflags="$cflags -fno-sanitize-recover=undefined"
names=${FUZZERS:-$(cd "$fuzzdir/seeds" && ls)}

# The daemon's objects with coverage and sanitizers; no driver main().
if [ ! -f "$build/Makefile" ]; then
	mkdir -p "$build"
	echo "fuzz: configuring $build with $cc"
	(cd "$build" && "$srcdir/configure" CC="$cc" CFLAGS="$cflags" \
	    CPPFLAGS=-DPM_LIBFUZZER >configure.log 2>&1) || {
		echo "fuzz: configure failed, see $build/configure.log" >&2
		exit 1
	}
fi
make -s -C "$build/compat"
make -s -C "$build/src" libphishmilter.a
for n in $names; do
	make -s -C "$build/regress" LDFLAGS="-fsanitize=fuzzer,$san" \
	    "fuzz/f_$n"
done

# run NAME: one harness, its log in BUILDDIR/regress/fuzz/NAME.log.
run() {
	n=$1
	out=$build/regress/fuzz
	corpus=$out/corpus/$n
	mkdir -p "$corpus" "$out/artifacts/$n"
	: >"$out/artifacts/$n/.start"
	opts=$(sed -n 's/^ \* libFuzzer: //p' "$fuzzdir/f_$n.c")
	dirs=$fuzzdir/seeds/$n
	[ -d "$fuzzdir/crashes/$n" ] && dirs="$dirs $fuzzdir/crashes/$n"
	echo "fuzz: $n for ${time}s: f_$n $opts"
	# New inputs go to the first directory only; the others are read.
	# shellcheck disable=SC2086
	(cd "$fuzzdir" && exec "$out/f_$n" $opts -timeout=20 \
	    -max_total_time="$time" -print_final_stats=1 \
	    -artifact_prefix="$out/artifacts/$n/" ${FUZZ_ARGS:-} \
	    "$corpus" $dirs) >"$out/$n.log" 2>&1
}

# figures NAME STATUS: one summary line from the log.
figures() {
	awk -v n="$1" -v st="$2" '
	/^#[0-9]+[ \t]/ && / cov: / {
		for (i = 1; i <= NF; i++) {
			if ($i == "cov:") cov = $(i + 1)
			if ($i == "ft:") ft = $(i + 1)
			if ($i == "corp:") corp = $(i + 1)
		}
	}
	/^stat::number_of_executed_units:/ { execs = $2 }
	/^stat::average_exec_per_sec:/ { rate = $2 }
	/^stat::new_units_added:/ { added = $2 }
	/^stat::peak_rss_mb:/ { rss = $2 }
	END {
		printf "%-8s %s execs=%s exec/s=%s cov=%s ft=%s corpus=%s " \
		    "new=%s rss=%s\n", n, st == 0 ? "ok     " : "FAILED ",
		    v(execs), v(rate), v(cov), v(ft), v(corp), v(added),
		    rss == "" ? "-" : rss "MB"
	}
	function v(x) { return x == "" ? "-" : x }' "$build/regress/fuzz/$1.log"
}

status=0
summary=
for n in $names; do
	if run "$n"; then st=0; else st=$?; status=1; fi
	line=$(figures "$n" "$st")
	summary="$summary$line
"
	echo "$line"
	if [ "$st" -ne 0 ]; then
		grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz: |.*runtime error)' \
		    "$build/regress/fuzz/$n.log" | head -5 | sed 's/^/  /'
		echo "  log: $build/regress/fuzz/$n.log"
		find "$build/regress/fuzz/artifacts/$n" -type f \
		    -newer "$build/regress/fuzz/artifacts/$n/.start" |
		    sed 's/^/  input: /'
	fi
done
echo "fuzz: ${time}s per harness"
printf '%s' "$summary"
exit $status
