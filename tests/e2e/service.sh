#!/bin/bash
# System mode: relaymail --serve as the relaymail user (its own listener and
# socket activation), clients as www-data, root and a user with a personal
# configuration; policy, warm sessions, the system queue, hostile clients.
# Runs in a private mount namespace so that it can give relaymail a system
# file of its own (bind-mounted on SYSCONFDIR) without touching the host's.
if [ -z "${RM_IN_NAMESPACE:-}" ] && [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
	RM_IN_NAMESPACE=1 exec unshare -m bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

if [ -z "${RM_IN_NAMESPACE:-}" ]; then
	skip "system mode" "needs root and a private mount namespace (unshare -m)"
	done_testing; exit 0
fi
SYSCONFDIR=${RELAYMAIL_SYSCONFDIR:-/usr/local/etc}
id relaymail >/dev/null 2>&1 ||
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin relaymail

start_relay
chmod 755 "$T" "$CERTS"; chmod 644 "$CERTS/ca.pem"
S=$T/svc; W=$T/www; U=$T/carol
mkdir -p "$S/run" "$W/tmp" "$U/.config/relaymail" "$T/etc" "$SYSCONFDIR"
printf '%s\n' "$PW" > "$S/pw"
chown -R relaymail: "$S"; chmod 711 "$S"; chmod 755 "$S/run"; chmod 600 "$S/pw"
chown -R www-data: "$W"

system_file() {  # [service key=value ...]: the system file, [service] last
	{
		printf '[defaults]\ndefault_account = sys\n\n[account sys]\n'
		printf 'host = localhost\nport = %s\ntls_ca_file = %s\nuser = alice\n' "$STARTTLS_PORT" "$CERTS/ca.pem"
		printf 'password_file = %s\nfrom = sender@example.com\ndomain = example.com\n' "$S/pw"
		printf 'timeout = 5\nqueue_dir = %s\nfailed_dir = %s\n' "$S/queue" "$S/failed"
		printf '\n[service]\nsocket = %s\nmax_sessions = 2\nsession_idle = 5\n' "$S/run/submit"
		printf 'client_timeout = 3\n'
		for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
	} > "$T/etc/relaymail.conf"
	chmod 644 "$T/etc/relaymail.conf"
}
system_file
mount --bind "$T/etc" "$SYSCONFDIR" || { echo "Bail out! cannot bind-mount $SYSCONFDIR"; exit 1; }

SVC_PID=
start_service() {  # own listener, as relaymail
	stop_service
	# A socket file left by an earlier listener (socket activation) would
	# look ready before this service has bound it.
	rm -f "$S/run/submit"
	setpriv --reuid=relaymail --regid=relaymail --clear-groups env -i PATH=/usr/bin:/bin \
		LSAN_OPTIONS="${LSAN_OPTIONS:-}" "$RELAYMAIL" --serve 2>>"$T/service.err" &
	SVC_PID=$!
	_pids="$_pids $SVC_PID"
	for _ in $(seq 100); do [ -S "$S/run/submit" ] && return 0; sleep 0.05; done
	echo "# service did not start: $(cat "$T/service.err")"
	return 1
}
stop_service() {
	[ -n "$SVC_PID" ] || return 0
	kill "$SVC_PID" 2>/dev/null; wait "$SVC_PID" 2>/dev/null
	SVC_PID=
}
printf 'Subject: via the service\nTo: bob@example.org\n\nbody\n' > "$T/m"; chmod 644 "$T/m"

as_user() {  # USER HOME ARGS...: relaymail as USER; sets RC, ERR
	local user=$1 home=$2; shift 2
	RC=0
	ERR=$(setpriv --reuid="$user" --regid="$user" --init-groups env -i PATH=/usr/bin:/bin \
		HOME="$home" TMPDIR=/tmp LSAN_OPTIONS="${LSAN_OPTIONS:-}" ${AS_USER_ENV:-} \
		timeout 60 "$RELAYMAIL" "$@" <"${INPUT:-$T/m}" 2>&1 >"$T/as_user.out") || RC=$?
	OUT=$(<"$T/as_user.out")
}

# ---- not running: the caller keeps the message --------------------------------
as_user www-data "$W" -t -i
is "$RC" 75 "service not running: www-data's sendmail exits 75"
like "$ERR" "relaymail service .*cannot be reached" "... and says the service cannot be reached"

as_user www-data "$W" --check
is "$RC" 75 "--check as www-data with the service down: exit 75"
like "$OUT" "FAIL .*relaymail service .*cannot be reached" "... and says why"

start_service
ok $? "relaymail --serve runs as relaymail with its own listener"
as_user www-data "$W" --check
is "$RC" 0 "--check as www-data: exit 0 once the service runs"
like "$OUT" "system mode: .*$S/run/submit" "--check names the system mode and the socket"
like "$OUT" "PASS  the relaymail service answers" "--check: the service answers"

# ---- www-data sends, without any access to the secret ------------------------------
setpriv --reuid=www-data --regid=www-data --clear-groups cat "$S/pw" >/dev/null 2>&1
isnt "$?" 0 "www-data cannot read the relay secret"
as_user www-data "$W" -t -i
is "$RC" 0 "www-data (HOME=/var/www-like) sends through the service: exit 0"
is "$ERR" "" "... nothing on stderr"
is "$(msg_count)" 1 "the relay got the message"
facts; is "$J_auth_user" "alice" "the service authenticated with the system account"
is "$J_mail_from" "sender@example.com" "envelope sender: the account's from"

# -f is the service's decision: root may, www-data may not (allow_from_override default).
as_user www-data "$W" -t -i -f spoof@example.net
is "$RC" 0 "www-data with -f: still sent"
like "$ERR" "-f is ignored" "... with a warning that -f is ignored"
facts; is "$J_mail_from" "sender@example.com" "www-data cannot choose the envelope sender"
as_user root /root -t -i -f admin@example.com
is "$RC" 0 "root through the service: exit 0"
facts; is "$J_mail_from" "admin@example.com" "root may choose the envelope sender"

# A bare recipient is qualified by the service; an unknown option is refused as in per-user mode.
INPUT=$T/m as_user www-data "$W" -i bob
facts; is "$J_rcpt_tos" "bob@example.com" "bare recipient qualified with the account's domain"
as_user www-data "$W" -i
is "$RC" 64 "no recipients through the service: exit 64 as in per-user mode"
like "$ERR" "no recipients" "... with the same message"
as_user www-data "$W" --account=sys -i bob@example.org
is "$RC" 64 "--account through the service: refused"

# ---- warm sessions ---------------------------------------------------------------------
# One message first: the refusals above took time, and on a loaded machine
# more than session_idle may have passed since the last delivery.
as_user www-data "$W" -t -i
reset_log
for i in 1 2 3 4 5; do as_user www-data "$W" -t -i; done
is "$(commands | grep -c ' CONNECT ')" 0 "5 more messages: no new connection (the warm session)"
is "$(commands | grep -c ' AUTH ')" 0 "... and no new AUTH"
is "$(commands | grep -c ' MAIL ')" 5 "... 5 transactions"

# ---- -bs (Symfony, Laravel) through the service ------------------------------------
printf 'EHLO app\r\nMAIL FROM:<app@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: bs via service\r\n\r\nhello\r\n.\r\nQUIT\r\n' > "$T/bs"
chmod 644 "$T/bs"
n0=$(msg_count)
INPUT=$T/bs as_user www-data "$W" -bs
is "$RC" 0 "-bs as www-data through the service: exit 0"
like "$OUT" "250 2.0.0 Ok: accepted by the relaymail service" "-bs: the end of DATA is answered once the service took it"
is "$(msg_count)" "$((n0 + 1))" "-bs: the relay got the message"
grep -q "Subject: bs via service" "$(last_eml)"; ok $? "-bs: it is the message of the session"
printf 'EHLO app\r\nMAIL FROM:<app@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: bs\r\n\r\nhello\r\n.\r\nQUIT\r\n' > "$T/bs"
stop_service
INPUT=$T/bs as_user www-data "$W" -bs
like "$OUT" "451 4.3.0 .*relaymail service .*cannot be reached" "-bs with the service down: 451 at the end of DATA"
start_service

# ---- a user with a personal configuration keeps per-user mode ---------------------------
id carol >/dev/null 2>&1 || useradd --no-create-home --home-dir "$U" carol
write_config "$U/.config/relaymail/config" password_file="$U/pw"
printf '%s\n' "$PW" > "$U/pw"; chmod 600 "$U/pw"
chown -R carol: "$U"; chmod 755 "$U"
reset_log
as_user carol "$U" -t -i
is "$RC" 0 "carol with ~/.config/relaymail/config: exit 0"
is "$(commands | grep -c ' CONNECT ')" 1 "... over her own connection (per-user mode)"

# ---- the relay refuses for a while: queued once, delivered once ---------------------------
n0=$(msg_count)
faults '[{"step": "mail", "reply": "451 4.3.0 try later", "times": 50}]'
stop_service; start_service     # new sessions read the faults
as_user www-data "$W" -t -i
is "$RC" 0 "relay answering 451: www-data's message is queued (exit 0)"
like "$ERR" "queued as" "... and the caller is told"
ls "$S/queue"/*.env >/dev/null 2>&1; ok $? "the entry is in the system queue"
as_user www-data "$W" -bp
like "$OUT" "sender@example.com" "mailq as www-data lists the entry"
faults ''
stop_service; start_service
as_user www-data "$W" -t -i
is "$RC" 0 "relay back: the next message goes out"
for _ in $(seq 100); do ls "$S/queue"/*.env >/dev/null 2>&1 || break; sleep 0.1; done
! ls "$S/queue"/*.env >/dev/null 2>&1; ok $? "the queued message went out after the relay came back"
is "$(msg_count)" "$((n0 + 2))" "each message delivered exactly once"

# ---- hostile clients -------------------------------------------------------------------
hostile() {  # PYTHON-BODY: runs with s = a connected socket; prints what came back
	"$PYTHON3" - "$S/run/submit" <<PY 2>&1
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)
f = s.makefile("rb")
f.readline()
try:
    $1
except (BrokenPipeError, ConnectionResetError, TimeoutError):
    pass    # the service answered and closed (or stopped reading) before taking it all
# Line by line: a service that stopped taking a huge line closes with it
# unread, and the reset that follows the answer must not hide the answer.
got = b""
try:
    for line in iter(f.readline, b""):
        got += line
except Exception as e:
    got += b"EXC " + str(e).encode()
print(got.decode("latin-1"))
PY
}
n0=$(msg_count); q0=$(ls "$S/queue" | wc -l)
out=$(hostile 's.sendall(b"HELLO garbage\r\n")')
like "$out" "^5[0-9][0-9] USAGE" "garbage command: a usage error"
out=$(hostile 's.sendall(b"A" * (100 * 1024 * 1024))')
like "$out" "(?i)too long|USAGE" "a 100 MB line: refused"
out=$(hostile 's.sendall(b"ARG bob@example.org\r\nDATA 1000\r\nSubject: x\r\n\r\nonly part"); s.shutdown(socket.SHUT_WR)')
like "$out" "TEMPFAIL" "client stops mid-message: an error"
t0=$(now_ms)
out=$(hostile 's.sendall(b"ARG bob@example.org\r\nDATA 1000\r\nSubject: x\r\n")')
ok $(( $(now_ms) - t0 < 8000 ? 0 : 1 )) "a client that never finishes is dropped after client_timeout"
is "$(msg_count)" "$n0" "nothing of the hostile clients' messages was sent"
is "$(ls "$S/queue" | wc -l)" "$q0" "... nor queued"
out=$(hostile 's.sendall(b"ARG --config=/etc/shadow\r\nARG bob@example.org\r\nDATA 12\r\nSubject: x\r\n\r\n")')
like "$out" "USAGE" "a client cannot make the service read a file (--config)"

# NAME gives the display name of the From: the service adds (the service
# does not see the client's environment: the client passes it as -F).
printf 'Subject: no From\nTo: bob@example.org\n\nbody\n' > "$T/nofrom"; chmod 644 "$T/nofrom"
INPUT=$T/nofrom AS_USER_ENV="NAME=Web_Shop" as_user www-data "$W" -t -i
is "$RC" 0 "www-data with NAME and no From: sent"
like "$(grep -i "^From:" "$(last_eml)")" "Web_Shop\"? <" "the added From: carries NAME as display name"

# ---- socket activation (Accept=no) --------------------------------------------------------
stop_service
if command -v systemd-socket-activate >/dev/null 2>&1; then
	rm -f "$S/run/submit"
	# setpriv execs in place, so LISTEN_PID stays right; the environment
	# must keep LISTEN_FDS and LISTEN_PID.
	systemd-socket-activate -l "$S/run/submit" setpriv --reuid=relaymail --regid=relaymail \
		--clear-groups env HOME=/nonexistent "$RELAYMAIL" --serve 2>"$T/activate.err" &
	ACT_PID=$!
	_pids="$_pids $ACT_PID"
	for _ in $(seq 100); do [ -S "$S/run/submit" ] && break; sleep 0.05; done
	chmod 666 "$S/run/submit"
	n0=$(msg_count)
	as_user www-data "$W" -t -i
	is "$RC" 0 "socket-activated service: www-data sends (exit 0)"
	as_user root /root -t -i
	is "$RC" 0 "socket-activated service: root sends (exit 0)"
	is "$(msg_count)" "$((n0 + 2))" "both messages reached the relay"
else
	skip "socket activation" "systemd-socket-activate not installed"
fi

stop_service
if [ -n "${ACT_PID:-}" ]; then kill "$ACT_PID" 2>/dev/null; wait "$ACT_PID" 2>/dev/null; ACT_PID=; fi

# ---- account_by_sender: one identity per site through the service ----------------------
# The sender chooses among the accounts of the system file, as sendmail
# does without the service: From: with -t for everyone, -f for those that
# allow_from_override lists (root by default).
start_relay --users alice:$PW,site1:site1-Secret
printf 'site1-Secret\n' > "$S/pw1"; chown relaymail: "$S/pw1"; chmod 600 "$S/pw1"
system_file
sed -i "s|^default_account = sys|default_account = sys\naccount_by_sender = yes|" "$T/etc/relaymail.conf"
{
	printf '\n[account site1]\nhost = localhost\nport = %s\ntls_ca_file = %s\n' "$STARTTLS_PORT" "$CERTS/ca.pem"
	printf 'user = site1\npassword_file = %s\nfrom = *@site1.example\ntimeout = 5\n' "$S/pw1"
} >> "$T/etc/relaymail.conf"
start_service
site_msg() { printf 'From: %s\nTo: bob@example.org\nSubject: %s\n\nbody\n' "$1" "$2" > "$T/site"; chmod 644 "$T/site"; }
site_msg 'Shop <shop@site1.example>' site-1
INPUT=$T/site as_user www-data "$W" -t -i
is "$RC/$ERR" "0/" "account_by_sender through the service: www-data's From: shop@site1.example (-t): exit 0"
facts; is "$J_auth_user $J_mail_from" "site1 shop@site1.example" "... sent with account site1, MAIL FROM the From: address"
site_msg 'Other <x@elsewhere.example>' site-2
INPUT=$T/site as_user www-data "$W" -t -i
facts; is "$J_auth_user $J_mail_from" "alice sender@example.com" "a From: no account claims: the [service] account"
INPUT=$T/m as_user www-data "$W" -i -f www@site1.example bob@example.org
facts; is "$J_auth_user" alice "www-data's -f (ignored: allow_from_override) chooses nothing"
like "$ERR" "-f is ignored" "... and www-data is told -f is ignored"
INPUT=$T/m as_user root /root -i -f www@site1.example bob@example.org
facts; is "$J_auth_user $J_mail_from" "site1 www@site1.example" "root's -f www@site1.example chooses site1"
# Queued for site1 while the relay is down, delivered with site1 by the flush.
faults '[{"step": "greeting", "reply": "421 4.3.2 down"}]'
n0=$(msg_count)
site_msg 'Shop <shop@site1.example>' site-3
INPUT=$T/site as_user www-data "$W" -t -i
is "$RC" 0 "relay down: the site1 message is queued (exit 0)"
grep -l '^account site1$' "$S/queue"/*.env >/dev/null 2>&1; ok $? "... its queue entry names account site1"
faults ''
INPUT=/dev/null as_user root /root --flush-all
is "$RC/$ERR" "0/" "relay back: --flush-all"
is "$(msg_count)" "$((n0 + 1))" "... the queued site1 message reached the relay"
facts; is "$J_auth_user" site1 "... sent with account site1"
# A chosen account whose secret cannot be read: the message is refused, not lost.
stop_service; start_service
chmod 644 "$S/pw1"
site_msg 'Shop <shop@site1.example>' site-4
INPUT=$T/site as_user www-data "$W" -t -i
isnt "$RC" 0 "site1's password file unusable: www-data's message is refused (exit $RC)"
like "$ERR" "pw1" "... naming the password file"
unlike "$ERR" "site1-Secret" "... and showing no password"
chmod 600 "$S/pw1"
stop_service

# ---- OAuth for the system account: root signs in, the service renews -------------------
# Root's --oauth-login writes the refresh token for the owner of its
# directory (the service user); the service reads it, renews the access
# token and writes the rotated refresh token back.
start_oauth --device-pending 0 --interval 1 --rotate
start_relay --auth-mechs XOAUTH2,OAUTHBEARER --oauth-dir "$OAUTH"
mkdir -p "$S/oauth"; chown relaymail: "$S/oauth"; chmod 700 "$S/oauth"
system_file
sed -i -e "s|^password_file = .*|oauth_client_id = relaymail-test\noauth_scope = https://mail.example/smtp offline_access\noauth_token_endpoint = https://localhost:$OPORT/token\noauth_device_endpoint = https://localhost:$OPORT/devicecode\noauth_token_file = $S/oauth/token|" \
	-e "s|^user = alice|user = alice@example.com|" -e "s|^timeout = 5|timeout = 30|" "$T/etc/relaymail.conf"
run_rm /dev/null --oauth-login sys
is "$RC" 0 "root's --oauth-login for the system account: exit 0" "$ERR"
is "$(stat -c '%U %a' "$S/oauth/token" 2>/dev/null)" "relaymail 600" "the refresh token file belongs to the service user, mode 0600"
first=$(cat "$S/oauth/token" 2>/dev/null)
octl expire-access
start_service
n0=$(msg_count)
as_user www-data "$W" -t -i
[ "$RC" = 0 ]; ok $? "OAuth system account: www-data sends through the service" \
	"exit $RC: $ERR; service: $(tail -5 "$T/service.err" 2>/dev/null)"
is "$(msg_count)" "$((n0 + 1))" "the message reached the relay"
like "$(commands)" "AUTH-RESULT OAUTHBEARER ok user=alice@example.com" "the service authenticated with a renewed token"
isnt "$(cat "$S/oauth/token")" "$first" "the service wrote the rotated refresh token back"
is "$(stat -c '%U %a' "$S/oauth/token")" "relaymail 600" "... still the service user's, mode 0600"
stop_service
stop_oauth
! grep -E "AddressSanitizer|LeakSanitizer|runtime error" "$T/service.err" "$T/activate.err" 2>/dev/null
ok $? "the service ran clean (no sanitizer report)" "$(grep -h -A5 -E 'Sanitizer|runtime error' "$T/service.err" "$T/activate.err" 2>/dev/null | head -20)"

done_testing
