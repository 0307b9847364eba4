#!/bin/bash
# Privilege and file hygiene, checked from /proc and the file system,
# in the foreground (-d, as systemd runs it) and detached (log_file):
# every worker, also after a reload, has no root uid, gid or
# supplementary group; as its user it cannot write the configuration,
# the files it includes, their directory, the binary or the pid file;
# it holds no descriptor beyond the standard three but the listening
# sockets, the status and alive pipes, its epoll instance (where both
# listeners are EPOLLEXCLUSIVE) and the log file (none the daemon
# inherited from whoever started it, none of the parent's own); and with
# umask 0
# the pid file, its directory, the log file and the unix socket are
# created with safe modes.  (t_privileges.sh checks the uids in detail.)

. "${regress:-$(dirname "$0")/..}/lib.sh"
trap 'pm_kill_tree; pm_cleanup' EXIT

: "${PHISHMILTER:=$(cd "$(dirname "$0")/../.." && pwd)/src/phishmilter}"
[ -x "$PHISHMILTER" ] || skip_all "no daemon built at $PHISHMILTER"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (workers change user)"
command -v setpriv >/dev/null || skip_all "setpriv(1) not found"

# The files a worker must not be able to change, where it could reach
# them: the scratch directory is made traversable.
chmod 755 "$WORK"
mkdir -p "$WORK/etc"
chmod 755 "$WORK/etc"
SOCK=$WORK/sock/pm.sock		# its directory is the daemon's too
PIDFILE=$WORK/run/phishmilter.pid	# its directory is the daemon's
LOGFILE=$WORK/logs/phishmilter.log
mkdir -m 755 "$WORK/logs"
cat >"$WORK/etc/rules.conf" <<'EOF'
filter phish {
	match = { 'header_subject:(?i)phishtest' }
	action = reject
}
EOF
CONF=$WORK/etc/phishmilter.conf
pm_conf_low "$CONF.tmp" </dev/null
{
	sed -e "s|^listen = .*|listen = { \"inet:127.0.0.1:$PM_PORT\", \"unix:$SOCK\" }|" \
	    -e "s|^pidfile = .*|pidfile = \"$PIDFILE\"|" "$CONF.tmp"
	echo 'include("rules.conf")'
} >"$CONF"
rm -f "$CONF.tmp"
chmod 644 "$CONF" "$WORK/etc/rules.conf"
echo "not for workers" >"$WORK/inherited"

status_field() {	# status_field PID FIELD
	sed -nE "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s ' \t' '  ' |
	    sed 's/ *$//'
}

# sockets_by_inode: "inode kind" for every socket of the system that
# listens (tcp state 0A, a unix socket with __SO_ACCEPTCON) and every
# unix datagram socket (a syslog connection).
sockets_by_inode() {
	awk 'NR > 1 && $4 == "0A" { print $10, "listener" }' \
	    /proc/net/tcp /proc/net/tcp6 2>/dev/null
	awk 'NR > 1 && $4 == "00010000" { print $7, "listener"; next }
	     NR > 1 && $5 == "0002" { print $7, "syslog" }' /proc/net/unix
}

# descriptors PID: what the process holds beyond 0, 1 and 2, one word
# each, sorted: "listener", "pipe", "syslog", "socket" (any other), or
# the file's path.
descriptors() {
	local fd t
	sockets_by_inode >"$WORK/socks"
	for fd in /proc/"$1"/fd/*; do
		case ${fd##*/} in 0|1|2) continue;; esac
		t=$(readlink "$fd") || continue
		case $t in
		socket:*)
			t=${t#socket:[}
			awk -v i="${t%]}" '$1 == i { print $2; f = 1; exit }
			    END { if (!f) print "socket" }' "$WORK/socks";;
		pipe:*) echo pipe;;
		*) echo "$t";;
		esac
	done | sort | tr '\n' ' ' | sed 's/ $//'
}

# exclusive PID: how many descriptors the worker's epoll instance
# watches with EPOLLEXCLUSIVE (1 << 28), so that a connection wakes one
# idle worker, not all of them.
exclusive() {
	local fd k t e ev n=0
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd")" = "anon_inode:[eventpoll]" ] || continue
		while read -r k t e ev _; do
			[ "$k" = tfd: ] && [ "$e" = events: ] &&
			    [ $((0x$ev & 0x10000000)) -ne 0 ] && n=$((n + 1))
		done <"/proc/$1/fdinfo/${fd##*/}"
	done
	echo "$n"
}

# can_write UID GID PATH: that user and group (and no other group) may
# write PATH.
can_write() {
	setpriv --reuid="$1" --regid="$2" --clear-groups test -w "$3"
}

# all_dropped: every worker has left root (one still compiling its
# rules has not, yet: that is not what is checked here).
all_dropped() {
	local w
	for w in $(pm_workers); do
		[ "$(status_field "$w" Uid | awk '{ print $1 }')" != 0 ] ||
		    return 1
	done
}

# check_workers WHAT [LOG]: the assertions on every worker.
check_workers() {
	local w uid gid ids want f bad st n=0
	wait_until 20 all_dropped || diag "a worker still runs as root"
	want=$(printf '%s\n' listener listener ${2:+"$2"} pipe pipe \
	    'anon_inode:[eventpoll]' | sort |
	    tr '\n' ' ' | sed 's/ $//')
	for w in $(pm_workers); do
		n=$((n + 1))
		uid=$(status_field "$w" Uid) gid=$(status_field "$w" Gid)
		ids="$uid; $gid; $(status_field "$w" Groups)"
		case " $(echo "$ids" | tr -d ';') " in
		*" 0 "*) st=1;;
		*) st=0;;
		esac
		ok "$st" "$1: worker $w: no root uid, gid or group ($ids)"
		uid=${uid%% *} gid=${gid%% *}
		bad=
		for f in "$CONF" "$WORK/etc/rules.conf" "$WORK/etc" \
		    "$PHISHMILTER" "$(dirname "$PHISHMILTER")" "$PIDFILE" \
		    "$(dirname "$PIDFILE")"; do
			can_write "$uid" "$gid" "$f" && bad="$bad $f"
		done
		is "$bad" "" \
		    "$1: worker $w cannot write the configuration, binary, pid file"
		is "$(descriptors "$w" | sed 's/ syslog//')" "$want" \
		    "$1: worker $w holds only the listeners, the status and alive pipes, its epoll${2:+ and the log}"
		is "$(exclusive "$w")" 2 \
		    "$1: worker $w waits on both listeners with EPOLLEXCLUSIVE"
		[ "$n" -ge 2 ] && break
	done
	[ "$n" -ge 2 ]
	ok $? "$1: $n workers checked"
}

# --- Foreground, with descriptor 7 open on a file, as a careless
# starter (a shell, make's jobserver) leaves it.

(umask 000; exec "$PHISHMILTER" -d -f "$CONF" >>"$WORK/log" 2>&1 \
    7>"$WORK/inherited") &
PM_PID=$!
wait_until 10 test -S "$SOCK"
ok $? "the daemon starts with descriptor 7 inherited"
pm_wait_workers 2
check_workers "foreground"
like "$(descriptors "$PM_PID")" "^$PIDFILE listener listener( pipe)+\$" \
    "foreground: the parent holds its listeners, its pipes and the pid file"
held=
for p in $PM_PID $(pm_workers); do
	ls -l "/proc/$p/fd" | grep -q "$WORK/inherited" && held="$held $p"
done
is "$held" "" "no process holds the inherited descriptor"

is "$(stat -c '%a %U' "$PIDFILE")" "644 root" \
    "umask 0: the pid file is 0644, root's"
is "$(stat -c '%a %U' "$(dirname "$PIDFILE")")" "755 root" \
    "umask 0: the pid file's directory, created by the daemon, is 0755"
is "$(stat -c '%a %U %G' "$SOCK")" "660 root root" \
    "umask 0: the unix socket has socket_mode's default 0660, root's"
is "$(stat -c '%a %U' "$(dirname "$SOCK")")" "755 root" \
    "umask 0: the socket's directory, created by the daemon, is 0755"

gen1=$(pm_workers)
from=$(log_lines)
kill -HUP "$PM_PID"
wait_until 10 log_has 'generation 2: [0-9]+ filters' "$from"
ok $? "SIGHUP: generation 2"
wait_until 10 pids_gone $gen1
pm_wait_workers 2
check_workers "after a reload"
pm_stop
is $? 0 "the daemon stops with status 0"

# --- Detached, logging to a file: daemon(3) has its standard
# descriptors on /dev/null.

rm -rf "$WORK/run"
sed -i "s|^log_level = .*|&\nlog_file = \"$LOGFILE\"|" "$CONF"
(umask 000; exec "$PHISHMILTER" -f "$CONF" 7>"$WORK/inherited")
is $? 0 "detached: the command returns 0"
wait_until 10 test -s "$PIDFILE"
PM_PID=$(cat "$PIDFILE" 2>/dev/null)
pm_wait_workers 2
ok $? "detached: the daemon runs with its workers"
check_workers "detached" "$LOGFILE"
is "$(stat -c '%a %U' "$LOGFILE")" "640 root" \
    "umask 0: the log file is 0640, root's"
is "$(stat -c '%a %U' "$PIDFILE") $(stat -c '%a' "$(dirname "$PIDFILE")")" \
    "644 root 755" "umask 0: pid file 0644 in a 0755 directory"
held=
for p in $PM_PID $(pm_workers); do
	ls -l "/proc/$p/fd" | grep -q "$WORK/inherited" && held="$held $p"
done
is "$held" "" "detached: no process holds the inherited descriptor"
workers=$(pm_workers)
kill -TERM "$PM_PID"
wait_until 20 pids_gone "$PM_PID" $workers
ok $? "detached: SIGTERM ends the daemon and its workers"
PM_PID=

# --- A pid file someone else put in its place is not written through:
# a file of another user, a hard link to another file, a FIFO.

# refused WHAT: the daemon must refuse to start and name the pid file.
refused() {
	local st
	timeout 10 "$PHISHMILTER" -d -f "$CONF" >"$WORK/pid.err" 2>&1
	st=$?
	is "$st" 1 "$1: the daemon refuses to start"
	like "$(cat "$WORK/pid.err")" "pid file .*$(basename "$PIDFILE") is not a regular file of uid 0" \
	    "... naming the pid file"
}
rm -f "$PIDFILE"
echo planted >"$PIDFILE"
chown nobody "$PIDFILE"
refused "a pid file of nobody's"
is "$(cat "$PIDFILE")" planted "... and leaves it as it was"
rm -f "$PIDFILE"
echo "precious data" >"$WORK/victim"
ln "$WORK/victim" "$PIDFILE"
refused "a pid file hard-linked to another file"
is "$(cat "$WORK/victim")" "precious data" "... whose content is kept"
rm -f "$PIDFILE"
mkfifo "$PIDFILE"
refused "a FIFO in the pid file's place"
rm -f "$PIDFILE"

pm_diag_log
done_testing
