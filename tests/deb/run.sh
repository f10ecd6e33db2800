#!/bin/bash
# The Debian package, end to end (issue 15): build it from a copy of the tree
# (dpkg-buildpackage -b, the package's own unit tests skipped: ./run-tests
# has run the suite), lintian (no errors, no unexplained warning), install it
# with apt-get on this throw-away machine (no systemd as PID 1: the postinst
# must still succeed), check its files, links, user, spool and units, run the
# installed service the way its units say (socket activation, as the unit's
# User=) against the test relay, send as www-data through the installed
# /usr/sbin/sendmail, then remove and purge it and check that nothing is
# left.  Needs root; TAP on stdout, and a last line
# "N passed, N failed, N skipped".
set -u
here=$(cd "$(dirname "$0")" && pwd)
src_top=$(cd "$here/../.." && pwd)
export top_srcdir=$src_top
# lib.sh checks for a built binary; this test runs the installed one.
RELAYMAIL=/bin/true
. "$src_top/tests/e2e/lib.sh"

n_skipped=0
summary() {
	echo "$((_tap_n - _tap_failed - n_skipped)) passed, $_tap_failed failed, $n_skipped skipped"
}
skip_all() {  # REASON: the whole script is skipped
	skip "Debian package" "$1"
	n_skipped=$((n_skipped + 1))
	done_testing
	summary
	exit 0
}
since() { echo $(($(date +%s) - $1)); }

[ "$(id -u)" -eq 0 ] || skip_all "needs root (installs the package)"
export DEBIAN_FRONTEND=noninteractive
if ! command -v dpkg-buildpackage >/dev/null 2>&1 || ! command -v dh >/dev/null 2>&1 ||
   ! command -v lintian >/dev/null 2>&1; then
	apt-get install -y -qq --no-install-recommends dpkg-dev debhelper lintian >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 &&
		  apt-get install -y -qq --no-install-recommends dpkg-dev debhelper lintian >/dev/null 2>&1; } ||
		skip_all "dpkg-buildpackage, debhelper and lintian are not installed and cannot be installed"
fi

PKG=relaymail
CONF=/etc/relaymail.conf
UNITDIR=/lib/systemd/system
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null)" = installed ]; }
pkg_state() { dpkg-query -W -f='${db:Status-Abbrev}' "$PKG" 2>/dev/null | tr -d ' '; }
packages() { dpkg-query -W -f='${db:Status-Status} ${Package}\n' | awk '$1 == "installed" { print $2 }' | sort; }
# Everything under /etc, /usr and /var but what apt, dpkg, man-db and
# Python's byte-code caches change on their own.
file_list() {
	find /etc /usr /var -xdev \( -path /var/cache -o -path /var/lib/apt -o -path /var/lib/dpkg \
		-o -path /var/log -o -path /var/tmp -o -path /var/lib/man-db -o -name __pycache__ \) -prune \
		-o -print 2>/dev/null | sort
}

# ---- leave the machine as it was, also when a check fails or we are killed ----
ACT_PID=
CONF_SAVED=
# man-db's trigger rebuilds its index on install, remove and purge (about
# half of the time apt takes here): off while the test runs, as
# "man-db/auto-update = false" would do; restored on exit.
MANDB_FLAG=/var/lib/man-db/auto-update
MANDB_OFF=
deb_cleanup() {
	if [ -n "$ACT_PID" ]; then kill "$ACT_PID" 2>/dev/null; wait "$ACT_PID" 2>/dev/null; fi
	[ -n "$CONF_SAVED" ] && [ -f "$CONF_SAVED" ] && cat "$CONF_SAVED" > "$CONF"
	if dpkg-query -W "$PKG" >/dev/null 2>&1 && [ "$(pkg_state)" != un ] && [ -z "${KEEP_PACKAGE:-}" ]; then
		apt-get purge -y -qq "$PKG" >/dev/null 2>&1
	fi
	[ -n "$MANDB_OFF" ] && mv "$MANDB_FLAG.relaymail-test" "$MANDB_FLAG"
	cleanup
}
trap deb_cleanup EXIT

# A package that provides mail-transport-agent (postfix, exim4...) would be
# replaced by ours: refuse rather than remove someone's mail server.
mta=$(dpkg-query -W -f='${db:Status-Status} ${Package} ${Provides}\n' 2>/dev/null |
	awk '$1 == "installed" && /mail-transport-agent/ { print $2 }' | grep -vx "$PKG")
if [ -n "$mta" ]; then
	not_ok "no other mail-transport-agent installed" "installed: $mta (relaymail conflicts with it)"
	done_testing; summary; exit 1
fi
if installed; then
	apt-get purge -y -qq "$PKG" >/dev/null 2>&1
fi

# ---- build from a clean copy of the tree -----------------------------------
B=$T/build
mkdir -p "$B/src"
t0=$(date +%s)
if git -C "$src_top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# tracked and new files, as they are in the working tree; no build dirs
	(cd "$src_top" && git ls-files -co --exclude-standard -z |
		tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$B/src"
else
	(cd "$src_top" && tar --exclude='./build*' --exclude=./autom4te.cache --exclude=./.git \
		-cf - .) | tar -xf - -C "$B/src"
fi
[ -f "$B/src/debian/control" ]; ok $? "the tree has debian/ (copied to $B/src)"
(cd "$B/src" && DEB_BUILD_OPTIONS="nocheck noddebs" dpkg-buildpackage -us -uc -b) >"$B/build.log" 2>&1
rc=$?
ok "$rc" "dpkg-buildpackage -us -uc -b: exit 0" "$(tail -30 "$B/build.log")"
DEB=$(ls "$B"/${PKG}_*.deb 2>/dev/null | head -1)
CHANGES=$(ls "$B"/${PKG}_*.changes 2>/dev/null | head -1)
if [ "$rc" -ne 0 ] || [ -z "$DEB" ]; then
	echo "Bail out! the package did not build"
	done_testing; summary; exit 1
fi
diag "build: $(since "$t0") s"
[ ! -e "$src_top/debian/relaymail" ] && [ ! -e "$src_top/debian/files" ]
ok $? "the checkout is untouched (no debian/relaymail, debian/files)"

# ---- lintian ---------------------------------------------------------------
t0=$(date +%s)
lintian --allow-root -I --pedantic --fail-on none "$CHANGES" >"$B/lintian.txt" 2>&1
diag "lintian: $(since "$t0") s"
is "$(grep -c '^E: ' "$B/lintian.txt")" 0 "lintian: no errors"
is "$(grep -E '^[WIP]: ' "$B/lintian.txt")" "" "lintian: no warning, info or pedantic tag without an override"
grep -q '^[EWIP]: ' "$B/lintian.txt" && diag "$(cat "$B/lintian.txt")"

# ---- what the package holds ------------------------------------------------
# "path" for files, "path -> target" for links, without the leading "."
contents=$(dpkg-deb -c "$DEB" | awk '{ l = $6; for (i = 7; i <= NF; i++) l = l " " $i; print substr(l, 2) }')
for f in /usr/bin/relaymail /etc/relaymail.conf /usr/share/man/man8/relaymail.8.gz \
	/usr/share/man/man5/relaymail.conf.5.gz /usr/share/doc/relaymail/relaymail.conf.example \
	/usr/share/doc/relaymail/copyright /usr/lib/sysusers.d/relaymail.conf \
	/usr/lib/tmpfiles.d/relaymail.conf "$UNITDIR/relaymail-submit.socket" \
	"$UNITDIR/relaymail-submit.service" "$UNITDIR/relaymail-queue.service" \
	"$UNITDIR/relaymail-queue.timer"; do
	printf '%s\n' "$contents" | grep -qxF "$f"; ok $? "the package ships $f"
done
for l in /usr/sbin/sendmail /usr/lib/sendmail /usr/bin/mailq /usr/bin/newaliases \
	/usr/share/man/man8/sendmail.8.gz /usr/share/man/man1/mailq.1.gz \
	/usr/share/man/man8/newaliases.8.gz; do
	printf '%s\n' "$contents" | grep -qF "$l -> "; ok $? "the package links $l"
done
fields=$(dpkg-deb -f "$DEB" Provides Conflicts Replaces Section)
like "$fields" '^Provides: .*mail-transport-agent' "Provides: mail-transport-agent"
like "$fields" '^Conflicts: .*mail-transport-agent' "Conflicts: mail-transport-agent"
like "$fields" '^Replaces: .*mail-transport-agent' "Replaces: mail-transport-agent"
is "$(dpkg-deb -I "$DEB" conffiles 2>/dev/null)" "$CONF" "the only conffile is $CONF"

# The shipped sysusers file, applied to an empty root: the user it makes.
mkdir -p "$T/root/etc"
dpkg-deb -x "$DEB" "$T/pkg"
systemd-sysusers --root="$T/root" "$T/pkg/usr/lib/sysusers.d/relaymail.conf" >/dev/null 2>&1
is "$(grep '^relaymail:' "$T/root/etc/passwd" 2>/dev/null | cut -d: -f6,7)" \
	"/var/spool/relaymail:/usr/sbin/nologin" "sysusers.d/relaymail.conf makes relaymail (home: the spool, no shell)"

# ---- install ---------------------------------------------------------------
pkgs_before=$(packages)
files_before=$(file_list)
if [ -e "$MANDB_FLAG" ] && mv "$MANDB_FLAG" "$MANDB_FLAG.relaymail-test"; then MANDB_OFF=1; fi
# The test suite may have made the relaymail user with useradd: remove it
# (unless something runs as it) so that the postinst must create it.
user_before=no
if id relaymail >/dev/null 2>&1; then
	if pgrep -u relaymail >/dev/null 2>&1 || ! userdel relaymail >/dev/null 2>&1; then
		user_before=yes
		diag "the user relaymail exists and runs processes: not made again"
	fi
fi

t0=$(date +%s)
apt-get install -y "$DEB" >"$B/install.log" 2>&1
ok $? "apt-get install ./$(basename "$DEB"): exit 0 (no systemd as PID 1 needed)" "$(tail -20 "$B/install.log")"
diag "install: $(since "$t0") s"
is "$(pkg_state)" ii "dpkg: relaymail is installed and configured"
new_pkgs=$(comm -13 <(printf '%s\n' "$pkgs_before") <(packages) | grep -vx "$PKG")
[ -n "$new_pkgs" ] && diag "installed with it: $new_pkgs"

for l in /usr/sbin/sendmail /usr/lib/sendmail /usr/bin/mailq /usr/bin/newaliases; do
	is "$(readlink -f "$l")" /usr/bin/relaymail "$l resolves to /usr/bin/relaymail"
done
is "$(stat -c '%a %U' "$CONF")" "644 root" "$CONF: mode 644, owned by root"
is "$(grep -cvE '^[[:space:]]*(#|$)' "$CONF")" 0 "$CONF is all comments and blank lines"
man -w sendmail 2>/dev/null | grep -q relaymail.8 || [ "$(readlink -f /usr/share/man/man8/sendmail.8.gz)" = /usr/share/man/man8/relaymail.8.gz ]
ok $? "man sendmail finds relaymail(8)"

ent=$(getent passwd relaymail)
ok $? "the system user relaymail exists"
if [ "$user_before" = no ]; then
	is "$(echo "$ent" | cut -d: -f6,7)" "/var/spool/relaymail:/usr/sbin/nologin" \
		"... created by the postinst from the sysusers file (home, shell)"
	uid=$(echo "$ent" | cut -d: -f3)
	[ -n "$uid" ] && [ "$uid" -lt 1000 ]; ok $? "... as a system user (uid $uid)"
else
	skip "the postinst creates the user" "it existed already with processes running"
	n_skipped=$((n_skipped + 1))
fi
for d in /var/spool/relaymail /var/spool/relaymail/queue /var/spool/relaymail/failed; do
	is "$(stat -c '%a %U %G' "$d" 2>&1)" "700 relaymail relaymail" "$d: 0700 relaymail:relaymail (tmpfiles)"
done
for u in sockets.target.wants/relaymail-submit.socket timers.target.wants/relaymail-queue.timer; do
	[ -L "/etc/systemd/system/$u" ]; ok $? "enabled: /etc/systemd/system/$u"
done
if [ -d /run/systemd/system ]; then
	is "$(systemctl is-active relaymail-submit.socket)" active "systemd: the socket was started"
	is "$(systemctl is-active relaymail-queue.timer)" active "systemd: the timer was started"
	systemctl stop relaymail-submit.socket   # the test runs its own activation below
else
	diag "no systemd as PID 1: deb-systemd-invoke started nothing"
fi

# ---- the shipped configuration sends nothing ----------------------------------
start_relay
chmod 755 "$T" "$CERTS"; chmod 644 "$CERTS/ca.pem"
printf 'To: bob@example.org\nSubject: through the package\n\nhello from www-data\n' > "$T/m"
chmod 644 "$T/m"
as_user() {  # USER HOME CMD...: sets RC, ERR
	local user=$1 home=$2; shift 2
	RC=0
	ERR=$(setpriv --reuid="$user" --regid="$user" --init-groups env -i PATH=/usr/bin:/bin \
		HOME="$home" LC_ALL=C.UTF-8 timeout 60 "$@" <"$T/m" 2>&1 >"$T/out") || RC=$?
}
as_user www-data /var/www /usr/sbin/sendmail -t -i
is "$RC" 78 "commented $CONF: sendmail as www-data exits 78 (nothing configured)"
like "$ERR" "no account configured" "... and says so"
is "$(msg_count)" 0 "... and nothing reached the relay"

# The queue unit, as shipped, with the commented file: must not fail every 5 minutes.
unit_value() { sed -n "s/^$2=//p" "$UNITDIR/$1" | tail -1; }
Q_USER=$(unit_value relaymail-queue.service User)
Q_EXEC=$(unit_value relaymail-queue.service ExecStart)
read -r -a q_argv <<<"$Q_EXEC"
as_user "$Q_USER" /var/spool/relaymail "${q_argv[@]}"
is "$RC" 0 "relaymail-queue.service ($Q_EXEC as $Q_USER) with the commented file: exit 0"

# ---- the installed service, started as its units say ----------------------------
S_USER=$(unit_value relaymail-submit.service User)
S_GROUP=$(unit_value relaymail-submit.service Group)
S_EXEC=$(unit_value relaymail-submit.service ExecStart)
S_UMASK=$(unit_value relaymail-submit.service UMask)
LISTEN=$(unit_value relaymail-submit.socket ListenStream)
SOCK_MODE=$(unit_value relaymail-submit.socket SocketMode)
DIR_MODE=$(unit_value relaymail-submit.socket DirectoryMode)
is "$S_USER:$S_GROUP" "relaymail:relaymail" "relaymail-submit.service runs as relaymail:relaymail"
read -r -a s_argv <<<"$S_EXEC"
is "${s_argv[0]}" /usr/bin/relaymail "ExecStart names the installed binary"

# The account: the test relay, its CA, a password only relaymail can read.
# No socket= in [service]: the compiled-in default must be the unit's
# ListenStream.
mkdir -p "$T/svc"
printf '%s\n' "$PW" > "$T/svc/pw"
chown -R relaymail:relaymail "$T/svc"; chmod 700 "$T/svc"; chmod 600 "$T/svc/pw"
CONF_SAVED=$T/relaymail.conf.pkg
cp "$CONF" "$CONF_SAVED"
cat > "$CONF" <<EOF
[defaults]
default_account = relay
domain = example.com

[account relay]
host = localhost
port = $STARTTLS_PORT
tls_ca_file = $CERTS/ca.pem
user = alice
password_file = $T/svc/pw
from = sender@example.com
timeout = 10

[service]
EOF

mkdir -p -m "${DIR_MODE:-0755}" "$(dirname "$LISTEN")"
rm -f "$LISTEN"
# systemd-socket-activate listens as systemd would and passes the socket
# (LISTEN_FDS, LISTEN_PID); setpriv execs in place, so LISTEN_PID stays
# right.  The environment is the small one systemd gives a service.
(umask "${S_UMASK:-0077}"; exec env -i PATH=/usr/bin:/bin HOME=/var/spool/relaymail \
	USER="$S_USER" LOGNAME="$S_USER" systemd-socket-activate -l "$LISTEN" \
	setpriv --reuid="$S_USER" --regid="$S_GROUP" --init-groups "${s_argv[@]}") 2>"$T/service.err" &
ACT_PID=$!
for _ in $(seq 100); do [ -S "$LISTEN" ] && break; sleep 0.05; done
[ -S "$LISTEN" ]; ok $? "socket activation listens on $LISTEN (the unit's ListenStream)"
chmod "${SOCK_MODE:-0666}" "$LISTEN"

setpriv --reuid=www-data --regid=www-data --init-groups cat "$T/svc/pw" >/dev/null 2>&1
isnt "$?" 0 "www-data cannot read the relay password"
t0=$(date +%s)
as_user www-data /var/www /usr/sbin/sendmail -t -i
is "$RC" 0 "www-data: /usr/sbin/sendmail -t -i exits 0" "service: $(cat "$T/service.err")"
is "$ERR" "" "... with nothing on stderr"
is "$(msg_count)" 1 "the relay got the message"
facts
is "$J_auth_user" alice "... from the service, logged in with the system account"
is "$J_mail_from" sender@example.com "... envelope sender: the account's from"
is "$J_rcpt_tos" bob@example.org "... to the To: recipient"
grep -q "hello from www-data" "$(last_eml)"; ok $? "... with the body www-data wrote"
# systemd-socket-activate exec'd setpriv, which exec'd the service: same PID.
is "$(stat -c %U "/proc/$ACT_PID" 2>&1) $(cat "/proc/$ACT_PID/comm" 2>&1)" "relaymail relaymail" \
	"the service runs as relaymail (pid $ACT_PID)"
diag "send: $(since "$t0") s"
as_user www-data /var/www /usr/bin/mailq
is "$RC" 0 "mailq as www-data (through the service): exit 0"
stray=$(find /var/spool/relaymail -mindepth 2 2>/dev/null)
is "$stray" "" "nothing left in the spool's queue or failed store"

kill "$ACT_PID" 2>/dev/null; wait "$ACT_PID" 2>/dev/null; ACT_PID=
cat "$CONF_SAVED" > "$CONF"; CONF_SAVED=
is "$(dpkg --verify "$PKG" 2>&1)" "" "dpkg --verify: the installed files (and the conffile) are as shipped"
# What the service leaves in its spool (OAuth tokens live there too): purge must remove it.
install -o relaymail -g relaymail -m 600 /dev/null /var/spool/relaymail/oauth-token
install -o relaymail -g relaymail -m 600 /dev/null /var/spool/relaymail/queue/left.msg

# ---- remove: units gone, conffile kept -----------------------------------------------
t0=$(date +%s)
apt-get remove -y "$PKG" >"$B/remove.log" 2>&1
ok $? "apt-get remove relaymail: exit 0" "$(tail -20 "$B/remove.log")"
is "$(pkg_state)" rc "dpkg: removed, configuration files kept"
[ ! -e "$UNITDIR/relaymail-submit.socket" ] && [ ! -e "$UNITDIR/relaymail-queue.timer" ] &&
	[ ! -e "$UNITDIR/relaymail-submit.service" ] && [ ! -e "$UNITDIR/relaymail-queue.service" ]
ok $? "the units are gone"
[ ! -e /usr/sbin/sendmail ] && [ ! -e /usr/lib/sendmail ] && [ ! -e /usr/bin/mailq ] && [ ! -e /usr/bin/relaymail ]
ok $? "the binary and its links are gone"
cmp -s "$CONF" "$B/src/debian/etc/relaymail.conf"; ok $? "$CONF is kept on remove, unchanged"

# ---- purge: nothing left ------------------------------------------------------------
apt-get purge -y "$PKG" >"$B/purge.log" 2>&1
ok $? "apt-get purge relaymail: exit 0" "$(tail -20 "$B/purge.log")"
diag "remove + purge: $(since "$t0") s"
is "$(pkg_state)" "" "dpkg no longer knows relaymail"
[ ! -e "$CONF" ]; ok $? "$CONF is gone"
[ ! -e /var/spool/relaymail ]; ok $? "/var/spool/relaymail (queue, failed store, token files) is gone"
[ ! -e "$(dirname "$LISTEN")" ]; ok $? "$(dirname "$LISTEN") (the socket's directory) is gone"
is "$(ls /etc/systemd/system/*.wants/relaymail-* 2>/dev/null)" "" "no enable links left in /etc/systemd/system"
is "$(find /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
	-name '*relaymail*' 2>/dev/null)" "" "no deb-systemd-helper state left"
id relaymail >/dev/null 2>&1; ok $? "the system user relaymail is kept (Debian keeps system users)"
left_pkgs=$(comm -3 <(printf '%s\n' "$pkgs_before") <(packages) | tr -d '\t' | grep -vxF "$(printf '%s\n' $new_pkgs)")
is "$left_pkgs" "" "the installed packages are as before (except dependencies apt added)"
stray=$(diff <(printf '%s\n' "$files_before") <(file_list) | grep '^[<>]')
if [ -n "$new_pkgs" ]; then
	# files of packages apt pulled in for us are theirs, not ours
	for p in $new_pkgs; do
		stray=$(printf '%s\n' "$stray" | grep -vxF -f <(dpkg -L "$p" 2>/dev/null | sed 's/^/> /'))
	done
fi
is "$stray" "" "no file added or removed in /etc, /usr, /var (but apt's own state and logs)"

done_testing
summary
[ "$_tap_failed" -eq 0 ]
