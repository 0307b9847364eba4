#!/bin/bash
# The shipped rule set (conf/) against messages written for it: each
# regress/rules/msgs/*.eml says in its X-Expect header what the shipped
# configuration must answer ("reject phish_mufg_from", "accept -"),
# through the same code the workers run (phishmilter -t).

. "$regress/lib.sh"

CONF="$top_srcdir/conf/phishmilter.conf"
MSGS="$regress/rules/msgs"

"$PHISHMILTER" -n -f "$CONF" >"$WORK/n.out" 2>&1
ok $? "the shipped configuration compiles"

# The examples of local.d/site.conf, taken in, still make a good
# configuration with the shipped rules.
cp -R "$top_srcdir/conf" "$WORK/conf"
sed -i 's/^#\([^ ]\)/\1/' "$WORK/conf/local.d/site.conf"
"$PHISHMILTER" -n -f "$WORK/conf/phishmilter.conf" >"$WORK/n2.out" 2>&1
ok $? "the examples of local.d/site.conf are valid"
grep -q '^official phish_mufg' "$WORK/conf/local.d/site.conf"
ok $? "and they were taken in"

# Every rule file is installed and distributed.
for f in "$top_srcdir"/conf/rules.d/*.conf; do
	grep -q "rules.d/$(basename "$f")" "$top_srcdir/conf/Makefile.am"
	ok $? "$(basename "$f") is listed in conf/Makefile.am"
done

for m in "$MSGS"/*.eml; do
	[ -f "$m" ] || continue
	want=$(sed -n 's/^X-Expect: *//p;/^\r\{0,1\}$/q' "$m" | tr -d '\r' |
	    head -1)
	name=$(basename "$m")
	got=$("$PHISHMILTER" -t -f "$CONF" "$m" 2>&1 | sed "s|^$m: ||")
	is "$got" "$want" "$name: $want"
done

# The detection report over the same messages: every genuine one passes,
# every spoof is caught.
real=$(ls "$MSGS"/*-real*.eml | wc -l)
out=$(PHISHMILTER="$PHISHMILTER" "$regress/detect.sh" -f "$CONF" \
    "$MSGS"/*-real*.eml)
like "$out" "^messages: $real\$" "detect.sh counts the $real genuine messages"
like "$out" '^stopped: 0 ' "no genuine message is stopped"
like "$out" '^marked:  0 ' "no genuine message is marked"
out=$(PHISHMILTER="$PHISHMILTER" "$regress/detect.sh" -f "$CONF" \
    "$MSGS"/*-spoof*.eml)
like "$out" '^caught \(stopped or marked\): 100\.0%$' "every spoof is caught"

done_testing
