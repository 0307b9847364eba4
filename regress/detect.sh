#!/bin/sh
# detect.sh: the detection report.  Runs every message of the given
# directories (or files) through the shipped configuration with
# phishmilter -t, the code the workers run, and prints how many got each
# verdict, the share that was stopped (reject, tempfail, discard,
# quarantine) or marked (warn), and the filters that decided most often.
#
#	regress/detect.sh [-f conf] [-n top] dir-or-file ...
#
# Run it from the source tree after make; PHISHMILTER overrides the
# binary.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
conf=$top/conf/phishmilter.conf
n=10
pm=${PHISHMILTER:-$top/src/phishmilter}
[ -x "$pm" ] || pm=$top/build/src/phishmilter

while getopts f:n: ch; do
	case $ch in
	f) conf=$OPTARG ;;
	n) n=$OPTARG ;;
	*) echo "usage: $0 [-f conf] [-n top] dir-or-file ..." >&2; exit 1 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: $0 [-f conf] [-n top] dir-or-file ..." >&2;
    exit 1; }

# Every regular file, in a stable order; names may hold spaces.
find "$@" -type f ! -name '*.json' ! -name 'SOURCE.txt' ! -name '*.tsv' \
    ! -name '*.py' ! -name 'README*' ! -name 'LICENSE' ! -name 'COPYING' |
    LC_ALL=C sort | tr '\n' '\0' |
    xargs -0 "$pm" -t -f "$conf" |
    awk -v top="$n" '
	{
		v = $(NF - 1); f = $NF
		if ($NF ~ /^would=/) { v = $(NF - 2); f = $(NF - 1) }
		total++; verdict[v]++
		if (f != "-") filter[f]++
		if (v == "reject" || v == "tempfail" || v == "discard" ||
		    v == "quarantine") stopped++
		if (v == "warn") marked++
	}
	END {
		if (total == 0) { print "no messages"; exit 1 }
		printf "messages: %d\n", total
		for (v in verdict)
			printf "  %-10s %6d  %5.1f%%\n", v, verdict[v],
			    100 * verdict[v] / total
		printf "stopped: %d (%.1f%%)\n", stopped, 100 * stopped / total
		printf "marked:  %d (%.1f%%)\n", marked, 100 * marked / total
		printf "caught (stopped or marked): %.1f%%\n",
		    100 * (stopped + marked) / total
		printf "top deciding filters:\n"
		for (i = 0; i < top; i++) {
			best = ""; max = 0
			for (f in filter)
				if (filter[f] > max) { max = filter[f]; best = f }
			if (best == "") break
			printf "  %6d  %s\n", max, best
			delete filter[best]
		}
	}'
