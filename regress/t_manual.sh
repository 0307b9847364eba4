#!/bin/bash
# The manual agrees with the code: the pages are mandoc -Tlint clean;
# every configuration option src/config.c defines is documented in
# phishmilter.conf(5) and shown in the shipped configuration, and every
# documented option exists; every command-line flag of the daemon and the
# client is in its page's SYNOPSIS and described; the shipped
# configuration passes phishmilter -n.

. "${regress:-$(dirname "$0")}/lib.sh"

SRC=${top_srcdir:-$regress/..}
MAN5=$SRC/man/phishmilter.conf.5
MAN8=$SRC/man/phishmilter.8
MAN1=$SRC/man/phishmilter-client.1
CONF=$SRC/conf/phishmilter.conf

# --- mandoc -Tlint

if [ -n "${MANDOC:-}" ]; then
	for page in "$SRC"/man/*.1 "$SRC"/man/*.5 "$SRC"/man/*.8; do
		[ -f "$page" ] || continue
		out=$("$MANDOC" -Tlint -W warning "$page" 2>&1)
		st=$?
		is "$st:$out" "0:" "mandoc -Tlint -W warning $(basename "$page")"
	done
else
	echo "ok $((T_N + 1)) # SKIP mandoc not found"
	T_N=$((T_N + 1))
fi

# --- Configuration options.

# options ARRAY: the option names a cfg_opt_t array of config.c defines.
options() {
	awk -v arr="$1" '
	$0 ~ "cfg_opt_t[ \t]+" arr "\\[\\]" { on = 1; next }
	on && /CFG_END\(\)/ { exit }
	on && match($0, /CFG_[A-Z_]+\("[A-Za-z0-9_]+"/) {
		s = substr($0, RSTART, RLENGTH)
		sub(/^[^"]*"/, "", s); sub(/"$/, "", s); print s
	}' "$SRC/src/config.c"
}

# Sections (CFG_SEC) are introduced in prose, not as .It entries.
SECTIONS=$(sed -nE 's/.*CFG_SEC\("([A-Za-z0-9_]+)".*/\1/p' "$SRC/src/config.c")
GLOBAL=$(options conf_opts | grep -vxF "$SECTIONS")
SPAMHAUS=$(options spamhaus_opts)
FILTER=$(options filter_opts)
ALL=$(printf '%s\n' $GLOBAL $SPAMHAUS $FILTER | sort -u)
[ "$(echo $GLOBAL | wc -w)" -ge 20 ] && [ -n "$SPAMHAUS" ] && [ -n "$FILTER" ]
ok $? "option names found in src/config.c ($(echo $ALL | wc -w))"

# In phishmilter.conf(5): an .It line naming it with Ic.
missing=
for o in $ALL; do
	grep -Eq "^\\.It (.* )?Ic $o( |$)" "$MAN5" || missing="$missing $o"
done
is "${missing# }" "" "every option is an .It Ic entry of phishmilter.conf(5)"
missing=
for o in $SECTIONS; do
	grep -Eq "Ic $o( |$)" "$MAN5" && grep -Eq "^\\.Sh .*$(echo "$o" |
	    tr a-z A-Z)" "$MAN5" || missing="$missing $o"
done
[ -n "$SECTIONS" ]
ok $? "sections found in src/config.c ($(echo $SECTIONS))"
is "${missing# }" "" "every section is named (Ic) and has its .Sh in phishmilter.conf(5)"

# Every .It Ic entry of the page is an option (or the include function).
documented=$(sed -nE 's/^\.It (.* )?Ic ([A-Za-z0-9_]+).*/\2/p' "$MAN5" |
    sort -u)
extra=
for d in $documented; do
	printf '%s\n' $ALL $SECTIONS | grep -qx "$d" || extra="$extra $d"
done
is "${extra# }" "" "phishmilter.conf(5) documents no option config.c lacks"

# In the shipped configuration, set or commented out; filter options
# may be shown in the shipped rules instead.
conf_has() {		# conf_has NAME FILE...
	grep -Eq "^[[:space:]]*#?[[:space:]]*$1([[:space:]]*[={(]|[[:space:]]+[A-Za-z0-9_]+[[:space:]]*\\{)" "${@:2}"
}
missing=
for o in $GLOBAL $SPAMHAUS; do
	conf_has "$o" "$CONF" || missing="$missing $o"
done
is "${missing# }" "" "every global and spamhaus option appears in conf/phishmilter.conf"
missing=
conf_has spamhaus "$CONF" || missing=spamhaus
for o in $FILTER filter; do
	conf_has "$o" "$CONF" "$SRC"/conf/rules.d/*.conf || missing="$missing $o"
done
is "${missing# }" "" "filter sections, their options and the spamhaus section appear in the shipped configuration or rules"

# --- Command-line flags.

# getopt_flags FILE: the option letters of FILE's getopt() call.
getopt_flags() {
	sed -nE 's/.*getopt\(argc, argv, "([^"]*)"\).*/\1/p' "$1" | head -1 |
	    tr -d ':' | fold -w1
}

# synopsis_flags PAGE: the letters after Fl in the SYNOPSIS section.
synopsis_flags() {
	sed -n '/^\.Sh SYNOPSIS/,/^\.Sh /p' "$1" |
	    grep -oE 'Fl [A-Za-z0-9]+' | awk '{ print $2 }' | fold -w1 | sort -u
}

# described_flags PAGE: the flags with an .It Fl entry.
described_flags() {
	sed -nE 's/^\.It Fl ([A-Za-z0-9]).*/\1/p' "$1" | sort -u
}

check_flags() {		# check_flags SOURCE PAGE NAME
	local flags syn desc f missing='' undescribed='' extra=''
	flags=$(getopt_flags "$1")
	syn=$(synopsis_flags "$2")
	desc=$(described_flags "$2")
	[ -n "$flags" ]
	ok $? "$3: getopt string found in $(basename "$1") ($(echo $flags | tr -d ' '))"
	for f in $flags; do
		printf '%s\n' $syn | grep -qx -- "$f" || missing="$missing -$f"
		printf '%s\n' $desc | grep -qx -- "$f" ||
		    undescribed="$undescribed -$f"
	done
	for f in $syn; do
		printf '%s\n' $flags | grep -qx -- "$f" || extra="$extra -$f"
	done
	is "${missing# }" "" "$3: every flag is in the SYNOPSIS of $(basename "$2")"
	is "${undescribed# }" "" "$3: every flag is described (.It Fl)"
	is "${extra# }" "" "$3: the SYNOPSIS shows no flag the program lacks"
}

check_flags "$SRC/src/main.c" "$MAN8" phishmilter
if [ -f "$MAN1" ]; then
	check_flags "$SRC/src/client.c" "$MAN1" phishmilter-client
else
	echo "ok $((T_N + 1)) # SKIP no phishmilter-client.1 yet"
	T_N=$((T_N + 1))
fi

# --- The shipped configuration is valid.

out=$(cd "$SRC" && "$PHISHMILTER" -n -f conf/phishmilter.conf 2>&1)
st=$?
is $st 0 "phishmilter -n -f conf/phishmilter.conf exits 0"
[ $st -eq 0 ] || diag "$out"

done_testing
