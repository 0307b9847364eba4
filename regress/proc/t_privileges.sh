#!/bin/bash
# Privileges and sockets: workers run as the configured user with no
# supplementary group and no way back to root, while the parent stays
# root; user root and unknown users are refused at start; unix sockets
# get their mode and group, stale ones are replaced, live ones are not
# stolen; inet6 listens; chroot confines the workers; systemd socket
# activation hands over the listening socket.

. "${regress:-$(dirname "$0")/..}/lib.sh"
trap 'pm_kill_tree; pm_cleanup' EXIT

[ "$(id -u)" -eq 0 ] || skip_all "needs root (workers change user)"

RULES=$(cat <<'EOF'
filter phish {
	match = { 'header_subject:(?i)phishtest' }
	action = reject
	reply = "550 5.7.1 Privilege test phish"
}
EOF
)
USER_NAME=$(pm_user)
USER_UID=$(id -u "$USER_NAME")
USER_GID=$(id -g "$USER_NAME")
mkmsg "$WORK/phish.eml" "phishtest"
mkmsg "$WORK/clean.eml" "hello"

# status_field PID FIELD: a line of /proc/PID/status without its name,
# blanks squeezed ("Uid" gives "real effective saved fs").
status_field() {
	sed -nE "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s ' \t' '  ' |
	    sed 's/ *$//'
}

# conf_with FILE LISTEN [EXTRA]: a test configuration listening on
# LISTEN, with EXTRA lines and the rules.
conf_with() {
	pm_conf "$1.tmp" </dev/null
	sed "s|^listen = .*|listen = \"$2\"|" "$1.tmp" >"$1"
	printf '%s\n%s\n' "${3:-}" "$RULES" >>"$1"
	rm -f "$1.tmp"
}

# start_bg CONF: the daemon in the background; no waiting.
start_bg() {
	"$PHISHMILTER" -d -f "$1" >>"$WORK/log" 2>&1 &
	PM_PID=$!
}

# verdicts SOCKET: the client's verdicts on a phish and a clean message.
verdicts() {
	"$CLIENT" -s "$1" "$WORK/phish.eml" "$WORK/clean.eml" 2>&1 |
	    sed 's/^[^:]*: //' | tr '\n' ';'
}
WANT='reject 550 5.7.1 Privilege test phish;accept;'

# --- Who runs as whom.

pm_conf_low "$WORK/p.conf" <<EOF
$RULES
EOF
pm_must_start "$WORK/p.conf"
pm_wait_workers 2
n=0
for w in $(pm_workers); do
	n=$((n + 1))
	is "$(status_field "$w" Uid)" \
	    "$USER_UID $USER_UID $USER_UID $USER_UID" \
	    "worker $w: real, effective, saved and fs uid are $USER_NAME's"
	is "$(status_field "$w" Gid)" \
	    "$USER_GID $USER_GID $USER_GID $USER_GID" \
	    "worker $w: real, effective, saved and fs gid are $USER_NAME's"
	is "$(status_field "$w" Groups)" "$USER_GID" \
	    "worker $w: no supplementary group but $USER_NAME's own"
	is "$(status_field "$w" CapPrm) $(status_field "$w" CapEff)" \
	    "0000000000000000 0000000000000000" \
	    "worker $w: no capabilities, permitted or effective"
	[ "$n" -ge 2 ] && break
done
[ "$USER_UID" -ne 0 ] && [ "$USER_GID" -ne 0 ]
ok $? "the workers' user ($USER_NAME) is not root"
is "$(status_field "$PM_PID" Uid)" "0 0 0 0" "the parent stays root"
is "$(verdicts "inet:127.0.0.1:$PM_PORT")" "$WANT" "verdicts from the workers"
pm_stop
is $? 0 "daemon stops with status 0"

# --- A user with supplementary groups: the workers keep none of them.

SUPP_USER=
for u in $(getent passwd | awk -F: '$3 != 0 { print $1 }'); do
	[ "$(id -G "$u" 2>/dev/null | wc -w)" -gt 1 ] && { SUPP_USER=$u; break; }
done
if [ -n "$SUPP_USER" ]; then
	pm_conf_low "$WORK/supp.conf" <<EOF
$RULES
EOF
	sed -i "s/^user = .*/user = \"$SUPP_USER\"/" "$WORK/supp.conf"
	pm_must_start "$WORK/supp.conf" "daemon with user $SUPP_USER ($(id -G "$SUPP_USER" | tr ' ' ,)) starts"
	pm_wait_workers 2
	w=$(pm_workers | head -1)
	is "$(status_field "$w" Groups)" "$(id -g "$SUPP_USER")" \
	    "worker $w: $SUPP_USER's supplementary groups are dropped"
	is "$(status_field "$w" Uid)" "$(id -u "$SUPP_USER") $(id -u "$SUPP_USER") $(id -u "$SUPP_USER") $(id -u "$SUPP_USER")" \
	    "worker $w: runs as $SUPP_USER"
	pm_stop
	is $? 0 "daemon stops with status 0"
else
	echo "ok $((T_N + 1)) # SKIP no user with supplementary groups here"
	T_N=$((T_N + 1))
fi

# --- Refused users.

pm_conf_low "$WORK/root.conf.tmp" <<EOF
$RULES
EOF
sed 's/^user = .*/user = "root"/' "$WORK/root.conf.tmp" >"$WORK/root.conf"
timeout 10 "$PHISHMILTER" -d -f "$WORK/root.conf" >"$WORK/root.out" 2>&1
is $? 1 "user = \"root\" is refused at start (exit 1)"
like "$(cat "$WORK/root.out")" 'user "root".*root' \
    "... with a clear message"
diag "$(cat "$WORK/root.out")"

sed 's/^user = .*/user = "pm_no_such_user"/' "$WORK/root.conf.tmp" \
    >"$WORK/nouser.conf"
timeout 10 "$PHISHMILTER" -d -f "$WORK/nouser.conf" >"$WORK/nouser.out" 2>&1
is $? 1 "a user that does not exist is a start-up error (exit 1)"
like "$(cat "$WORK/nouser.out")" 'pm_no_such_user.*(does not exist|no such)' \
    "... and the message names the user"
diag "$(cat "$WORK/nouser.out")"

# --- Unix socket: mode, group, verdicts, removal at exit.

SOCK=$WORK/pm.sock
GROUP=$(getent group mail >/dev/null && echo mail || echo daemon)
# A regular file where the socket should be is left alone.
echo precious >"$SOCK"
conf_with "$WORK/u.conf" "unix:$SOCK" "socket_mode = 0660
socket_group = \"$GROUP\""
timeout 10 "$PHISHMILTER" -d -f "$WORK/u.conf" >"$WORK/file.out" 2>&1
is $? 1 "a regular file in the socket's place is refused (exit 1)"
like "$(cat "$WORK/file.out")" 'not a socket' "... saying why"
is "$(cat "$SOCK")" precious "... and the file is left alone"
rm -f "$SOCK"

start_bg "$WORK/u.conf"
wait_until 10 test -S "$SOCK"
ok $? "the unix socket is created"
is "$(stat -c '%a %G %U' "$SOCK" 2>&1)" "660 $GROUP root" \
    "it has mode 0660, group $GROUP, owner root"
pm_wait_workers 2
is "$(verdicts "unix:$SOCK")" "$WANT" "verdicts over the unix socket"

# A second daemon on the same live socket is refused.
sed "s|^pidfile = .*|pidfile = \"$WORK/second.pid\"|" "$WORK/u.conf" \
    >"$WORK/u2.conf"
timeout 10 "$PHISHMILTER" -d -f "$WORK/u2.conf" >"$WORK/u2.out" 2>&1
is $? 1 "a socket file on which a daemon answers is refused (exit 1)"
like "$(cat "$WORK/u2.out")" 'another process answers' "... saying why"
is "$(verdicts "unix:$SOCK")" "$WANT" "the first daemon still answers on it"

# A daemon killed hard leaves a stale socket, replaced at the next start.
workers=$(pm_workers)
kill -KILL $workers "$PM_PID"
wait "$PM_PID" 2>/dev/null
# A worker forked just before (still compiling, slow under ASan) holds
# the listening socket too: every process of this configuration goes.
none_left() {
	pkill -KILL -f -- "-f $WORK/u.conf\$" 2>/dev/null
	! pgrep -f -- "-f $WORK/u.conf\$" >/dev/null
}
wait_until 5 pids_gone $workers "$PM_PID" && wait_until 5 none_left
ok $? "daemon and workers killed with SIGKILL"
test -S "$SOCK"
ok $? "they left a stale socket file"
from=$(log_lines)
start_bg "$WORK/u.conf"
wait_until 10 eval 'log_has "started" "$from" || ! kill -0 $PM_PID 2>/dev/null'
kill -0 "$PM_PID" 2>/dev/null
ok $? "the daemon starts over the stale socket"
pm_wait_workers 2
is "$(verdicts "unix:$SOCK")" "$WANT" "verdicts on the new socket"
is "$(stat -c '%a %G' "$SOCK" 2>&1)" "660 $GROUP" "the new socket has the mode and group"
pm_stop
is $? 0 "daemon stops with status 0"
test ! -e "$SOCK"
ok $? "the socket file is removed at exit"

# --- socket_owner, and two listen addresses at once.

conf_with "$WORK/two.conf" "unix:$SOCK" "socket_mode = 0600
socket_owner = \"$USER_NAME\""
TWO_PORT=$(free_port_low)
sed -i "s|^listen = .*|listen = { \"unix:$SOCK\", \"inet:127.0.0.1:$TWO_PORT\" }|" \
    "$WORK/two.conf"
start_bg "$WORK/two.conf"
wait_until 10 test -S "$SOCK"
ok $? "a daemon with a unix and an inet address starts"
is "$(stat -c '%a %U' "$SOCK" 2>&1)" "600 $USER_NAME" \
    "socket_owner and socket_mode 0600 are applied"
pm_wait_workers 2
is "$(verdicts "unix:$SOCK")" "$WANT" "verdicts on the unix address"
wait_until 5 port_busy "$TWO_PORT"
is "$(verdicts "inet:127.0.0.1:$TWO_PORT")" "$WANT" "verdicts on the inet address"
pm_stop
is $? 0 "daemon stops with status 0"

# --- inet6.

if grep -qi '^0\{31\}1 .* lo$' /proc/net/if_inet6 2>/dev/null &&
    (exec 3<>/dev/tcp/::1/1) 2>&1 | grep -q refused; then
	P6=$(free_port_low)
	conf_with "$WORK/v6.conf" "inet6:[::1]:$P6"
	start_bg "$WORK/v6.conf"
	wait_until 10 eval "(exec 3<>/dev/tcp/::1/$P6) 2>/dev/null"
	ok $? "the daemon listens on inet6:[::1]:$P6"
	pm_wait_workers 2
	is "$(verdicts "inet6:[::1]:$P6")" "$WANT" "verdicts over IPv6"
	pm_stop
	is $? 0 "daemon stops with status 0"
else
	echo "ok $((T_N + 1)) # SKIP ::1 is not available"
	T_N=$((T_N + 1))
fi

# --- chroot.

mkdir -p "$WORK/empty"
chmod 755 "$WORK/empty"
pm_conf_low "$WORK/ch.conf" <<EOF
chroot = "$WORK/empty"
$RULES
EOF
pm_must_start "$WORK/ch.conf" "daemon with chroot starts"
pm_wait_workers 2
w=$(pm_workers | head -1)
is "$(readlink "/proc/$w/root")" "$WORK/empty" \
    "a worker's root directory is the chroot"
is "$(readlink "/proc/$PM_PID/root")" "/" "the parent is not chrooted"
is "$(verdicts "inet:127.0.0.1:$PM_PORT")" "$WANT" "verdicts from chrooted workers"
pm_stop
is $? 0 "daemon stops with status 0"

# --- systemd socket activation.

if command -v systemd-socket-activate >/dev/null 2>&1; then
	pm_conf_low "$WORK/sd.conf" <<EOF
$RULES
EOF
	SDPORT=$(free_port_low)
	systemd-socket-activate -l "127.0.0.1:$SDPORT" \
	    "$PHISHMILTER" -d -f "$WORK/sd.conf" >>"$WORK/log" 2>&1 &
	PM_PID=$!
	# It execs the daemon at the first connection.
	wait_until 10 port_busy "$SDPORT"
	ok $? "systemd-socket-activate listens"
	wait_until 10 log_has 'using 1 socket\(s\) from systemd'
	ok $? "the daemon takes the socket from LISTEN_FDS"
	pm_wait_workers 2
	is "$(verdicts "inet:127.0.0.1:$SDPORT")" "$WANT" \
	    "verdicts on the activated socket"
	port_busy "$PM_PORT"
	ok $((! $?)) "the configured listen address is not bound"
	pm_stop
	is $? 0 "daemon stops with status 0"
else
	echo "ok $((T_N + 1)) # SKIP systemd-socket-activate not installed"
	T_N=$((T_N + 1))
fi

pm_diag_log
done_testing
