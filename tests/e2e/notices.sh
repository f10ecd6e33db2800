#!/bin/bash
# Nobody is left wondering (issue 13, items 5, 6, 8, 9): a partial refusal
# is accepted (exit 0) with each refused recipient named and a notice to the
# sender; the queue sends a notice when it gives a message up; notices never
# loop; -q tries every entry, --flush-due only the due ones; a relay name
# that does not resolve is queued, not refused.  The last part runs the
# system mode (service) in a private mount namespace.
if [ -z "${RM_IN_NAMESPACE:-}" ] && [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
	RM_IN_NAMESPACE=1 exec unshare -m bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

start_relay
write_config "$T/conf" queue=yes
QDIR=$HOME/.local/state/relaymail/queue
FDIR=$HOME/.local/state/relaymail/failed
entries() { ls "$QDIR" 2>/dev/null | grep -c '\.env$'; }
# notices: the notices among the relay's messages
notices() { grep -l '^Subject: Undelivered mail: ' "$RELAY"/messages/*.eml 2>/dev/null; }
n_notices() { notices | wc -l; }
last_notice() { notices | tail -1; }
json_of() { printf '%s' "${1%.eml}.json"; }
mkmsg() { printf 'Subject: %s\nMessage-ID: <%s@example.com>\n%s\nbody\n' "$1" "$2" "${3:-}" > "$T/$2"; }

# ---- item 9: partial refusal on the command line ------------------------------
faults '[{"step":"rcpt","match":"bad@example.org","reply":"550 5.1.1 <bad@example.org> unknown"},
	 {"step":"rcpt","match":"gone@example.org","reply":"551 5.1.6 gone@example.org moved away"}]'
mkmsg "quarterly report" p1
run_rm "$T/p1" --config "$T/conf" good@example.org bad@example.org gone@example.org
is "$RC" 0 "partial refusal: exit 0 (the relay took the message)"
like "$ERR" "RCPT TO:<bad@example\.org>.*550 5\.1\.1 <bad@example\.org> unknown" "partial refusal: stderr names bad@ with its own reply"
like "$ERR" "RCPT TO:<gone@example\.org>.*551 5\.1\.6 gone@example\.org moved away" "partial refusal: stderr names gone@ with its own reply"
like "$ERR" "2 refused; delivered to the other recipient" "partial refusal: stderr says the other recipient got it"
kept=$(printf '%s' "$ERR" | sed -n 's/.*message kept in \(.*\.eml\).*/\1/p' | head -1)
[ -f "$kept" ] && grep -q 'Message-ID: <p1@example.com>' "$kept"; ok $? "partial refusal: the copy for the refused ones is in the failed-mail store"
grep -q 'rcpt bad@example.org' "${kept%.eml}.reason" 2>/dev/null && ! grep -q 'rcpt good@' "${kept%.eml}.reason"
ok $? "partial refusal: the kept copy is for the refused recipients only"
is "$(n_notices)" 1 "partial refusal: one notice"
N=$(last_notice)
facts "$(json_of "$N")"
is "$J_mail_from" "<>" "the notice has the null envelope sender"
like "$(eml_headers "$N")" "Auto-Submitted: auto-replied" "the notice is marked Auto-Submitted: auto-replied"
is "$J_rcpt_tos" "sender@example.com" "the notice goes to the envelope sender"
like "$(eml_headers "$N")" "Subject: Undelivered mail: quarterly report" "the notice's subject names the message"
like "$(eml_headers "$N")" "From: \"?Mail Delivery System\"? <sender@example\.com>" "the notice's From: is the account's identity"
like "$(eml_headers "$N")" "Content-Type: text/plain" "the notice is text/plain"
body=$(eml_body "$N" | tr -d '\r')
like "$body" "<bad@example\.org>" "the notice names bad@"
like "$body" "550 5\.1\.1 <bad@example\.org> unknown" "... with its reply"
like "$body" "551 5\.1\.6 gone@example\.org moved away" "... and gone@ with its own"
unlike "$body" "<good@example\.org>$" "the notice does not list the accepted recipient as undelivered"
like "$body" "Message-ID: <p1@example\.com>" "the notice quotes the original headers"
like "$body" "A copy is kept in: .*\.eml" "the notice says where the copy is"
grep -l 'Message-ID: <p1@example.com>' "$RELAY"/messages/*.eml | while read -r f; do
	grep -q '^Subject: Undelivered' "$f" || json_field "$(json_of "$f")" rcpt_tos; done > "$T/p1.rcpt"
is "$(cat "$T/p1.rcpt")" "good@example.org" "the message itself went to the accepted recipient once"
is "$(entries)" 0 "partial refusal: nothing queued"

# -oeq: quiet, still exit 0, the notice still goes out
before=$(n_notices)
run_rm "$T/p1" --config "$T/conf" -oeq good@example.org bad@example.org
is "$RC/$ERR" "0/" "partial refusal with -oeq: exit 0, nothing on stderr"
is "$(n_notices)" $((before + 1)) "partial refusal with -oeq: the notice still goes out"

# every recipient refused: 67 as before, no notice (the caller is told)
before=$(n_notices)
run_rm "$T/p1" --config "$T/conf" bad@example.org gone@example.org
is "$RC" 67 "every recipient refused: exit 67"
is "$(n_notices)" "$before" "every recipient refused: no notice"

# ---- loop safety --------------------------------------------------------------
before=$(n_notices)
run_rm "$T/p1" --config "$T/conf" -f '<>' good@example.org bad@example.org
is "$RC" 0 "null sender, partial refusal: exit 0"
is "$(n_notices)" "$before" "null sender: never a notice"
mkmsg "Out of office" auto1 "Auto-Submitted: auto-replied"
run_rm "$T/auto1" --config "$T/conf" good@example.org bad@example.org
is "$(n_notices)" "$before" "Auto-Submitted: auto-replied: no notice about it"
mkmsg "a notice" auto2 "Auto-Submitted: auto-generated (failure)"
run_rm "$T/auto2" --config "$T/conf" good@example.org bad@example.org
is "$(n_notices)" "$before" "Auto-Submitted: auto-generated: no notice about it"
mkmsg "human" auto3 "Auto-Submitted: no"
run_rm "$T/auto3" --config "$T/conf" good@example.org bad@example.org
is "$(n_notices)" $((before + 1)) "Auto-Submitted: no: a notice as usual"
before=$(n_notices)
run_rm "$T/p1" --config "$T/conf" -N never good@example.org bad@example.org
is "$(n_notices)" "$before" "-N never: no failure notice"

# admin_address gets the notice instead of the sender
write_config "$T/conf.admin" queue=yes admin_address=postmaster@example.com
run_rm "$T/p1" --config "$T/conf.admin" good@example.org bad@example.org
is "$RC" 0 "admin_address: exit 0"
is "$(json_field "$(json_of "$(last_notice)")" rcpt_tos)" "postmaster@example.com" "admin_address: the notice goes there"

# a notice that cannot be sent is reported, never queued
faults '[{"step":"rcpt","match":"bad@example.org","reply":"550 5.1.1 unknown"},
	 {"step":"rcpt","match":"sender@example.com","reply":"550 5.7.1 no bounces here"}]'
before=$(n_notices)
run_rm "$T/p1" --config "$T/conf" good@example.org bad@example.org
is "$RC" 0 "notice refused by the relay: still exit 0"
like "$ERR" "notice to <sender@example\.com> could not be sent.*no bounces here" "notice refused: said on stderr"
is "$(n_notices)" "$before" "notice refused: none arrived"
is "$(entries)" 0 "notice refused: nothing queued"

# ---- -bs: the same rule --------------------------------------------------------
faults '[{"step":"rcpt","match":"bad@example.org","reply":"550 5.1.1 unknown"}]'
before=$(n_notices)
printf 'EHLO client\r\nMAIL FROM:<sender@example.com>\r\nRCPT TO:<good@example.org>\r\nRCPT TO:<bad@example.org>\r\nDATA\r\nSubject: bs partial\r\n\r\nbody\r\n.\r\nQUIT\r\n' > "$T/bs.in"
run_rm "$T/bs.in" --config "$T/conf" -bs
like "$OUT" $'250 2\\.0\\.0 Ok: relayed' "-bs partial refusal: 250 for the message"
like "$ERR" "RCPT TO:<bad@example\.org>.*550" "-bs partial refusal: stderr names the refused recipient"
is "$(n_notices)" $((before + 1)) "-bs partial refusal: a notice to the sender"

# ---- item 8: the queue gives a message up ----------------------------------------
# Permanent refusal during a flush: failed store + notice with the reply.
stop_relay
mkmsg "flush refused" q1
run_rm "$T/q1" --config "$T/conf" nobody@example.org
sleep 1         # entries go by age: the refused one first
mkmsg "flush fine" q1b
run_rm "$T/q1b" --config "$T/conf" fine@example.org
is "$(entries)" 2 "relay down: queued"
start_relay
write_config "$T/conf" queue=yes
faults '[{"step":"rcpt","match":"nobody@example.org","reply":"550 5.1.1 nobody here"}]'
run_rm /dev/null --config "$T/conf" -q
is "$(entries)" 0 "flush, 550: the entry left the queue"
is "$(n_notices)" 1 "flush, 550: one notice"
N=$(last_notice)
is "$(json_field "$(json_of "$N")" mail_from)" "<>" "flush notice: null envelope sender"
is "$(json_field "$(json_of "$N")" rcpt_tos)" "sender@example.com" "flush notice: to the sender"
like "$(eml_body "$N" | tr -d '\r')" "550 5\.1\.1 nobody here" "flush notice: the last error"
like "$(eml_body "$N" | tr -d '\r')" "Message-ID: <q1@example\.com>" "flush notice: the original headers"
is "$(grep -c ' CONNECT ' "$RELAY/commands.log")" 1 "flush notice: over the flush's own connection"
is "$(msg_count)" 2 "flush: the other entry and the notice were delivered"

# Partial refusal during a flush: a notice names the refused one.
stop_relay; mkmsg "flush partial" q2
run_rm "$T/q2" --config "$T/conf" ok@example.org never@example.org
start_relay; write_config "$T/conf" queue=yes
faults '[{"step":"rcpt","match":"never@example.org","reply":"550 5.1.1 never heard of"}]'
run_rm /dev/null --config "$T/conf" -q
is "$(n_notices)" 1 "partial flush: one notice"
like "$(eml_body "$(last_notice)" | tr -d '\r')" "<never@example\.org>" "partial flush notice: names the refused recipient"
like "$(eml_body "$(last_notice)" | tr -d '\r')" "550 5\.1\.1 never heard of" "... with its reply"

# queue_lifetime: expiry sends a notice with the last error.
stop_relay
write_config "$T/conf" queue=yes queue_lifetime=1s
mkmsg "expiring" q3
run_rm "$T/q3" --config "$T/conf" late@example.org
sleep 2
start_relay; write_config "$T/conf" queue=yes queue_lifetime=1s
faults '[{"step":"greeting","reply":"421 4.3.2 Busy","times":1}]'
run_rm /dev/null --config "$T/conf" -q
is "$(entries)" 0 "expired: the entry left the queue"
is "$(n_notices)" 1 "expired: one notice"
like "$(eml_body "$(last_notice)" | tr -d '\r')" "undeliverable for .*421 4\.3\.2 Busy" "expired notice: the last error"
like "$(eml_body "$(last_notice)" | tr -d '\r')" "<late@example\.org>" "expired notice: the recipient"

# Expiry of a message with the null sender: no notice; a relay that is down:
# the notice is logged, never queued.
stop_relay
run_rm "$T/q3" --config "$T/conf" -f '<>' late@example.org
run_rm "$T/q3" --config "$T/conf" late2@example.org
sleep 2
run_rm /dev/null --config "$T/conf" -q
is "$(entries)" 0 "expired while the relay is down: the entries left the queue"
like "$ERR" "notice to <sender@example\.com> could not be sent" "relay down: the notice failure is logged"
is "$(printf '%s\n' "$ERR" | grep -c 'notice to')" 1 "null sender: no notice attempted"
ls "$FDIR"/*.reason | xargs grep -l 'rcpt late2@example.org' >/dev/null; ok $? "expired: the message is in the failed store"

# ---- item 5: -q tries everything; --flush-due keeps to the schedule ------------
write_config "$T/conf" queue=yes
mkmsg "not due" d1
run_rm "$T/d1" --config "$T/conf" due@example.org
is "$(entries)" 1 "relay down: queued (next attempt later)"
start_relay; write_config "$T/conf" queue=yes
run_rm /dev/null --config "$T/conf" --flush-due
is "$RC/$(msg_count)" "0/0" "--flush-due: an entry that is not due stays"
run_rm /dev/null --config "$T/conf" -q
is "$RC/$(msg_count)" "0/1" "-q: every entry is tried now (as Postfix's sendmail -q)"
stop_relay; run_rm "$T/d1" --config "$T/conf" due@example.org; start_relay; write_config "$T/conf" queue=yes
run_rm /dev/null --config "$T/conf" --flush
is "$(msg_count)" 1 "--flush: the same as -q"
stop_relay; run_rm "$T/d1" --config "$T/conf" due@example.org; start_relay; write_config "$T/conf" queue=yes
run_rm /dev/null --config "$T/conf" --flush-all
is "$(msg_count)" 1 "--flush-all: still an alias"
grep -q -- '--flush-due' "$top_srcdir/doc/relaymail-queue.service.in"; ok $? "the shipped timer's unit runs --flush-due"
grep -q -- 'relaymail --flush-due' "$top_srcdir/doc/relaymail.cron"; ok $? "the shipped cron line runs --flush-due"

# ---- item 6: a relay name that does not resolve is temporary --------------------
write_config "$T/conf.nx" queue=yes host=no-such-host.invalid
mkmsg "nxdomain" nx1
run_rm "$T/nx1" --config "$T/conf.nx" bob@example.org
is "$RC" 0 "relay name does not resolve, queue on: exit 0 (queued)"
like "$ERR" "relay host no-such-host\.invalid.*check the host setting.*message queued as" "... stderr names the host, the setting and the queue entry"
run_rm /dev/null --config "$T/conf.nx" -bp
like "$OUT" "no-such-host\.invalid" "mailq: the entry's last error names the host"
write_config "$T/conf.nx" queue=no host=no-such-host.invalid
run_rm "$T/nx1" --config "$T/conf.nx" bob@example.org
is "$RC" 75 "relay name does not resolve, queue = no: exit 75 (temporary), not 68"
like "$ERR" "message kept in" "... and the message is kept"
rm -rf "$QDIR"

# ---- system mode: partial refusal through the service --------------------------
if [ -z "${RM_IN_NAMESPACE:-}" ] || ! id www-data >/dev/null 2>&1; then
	skip "system mode" "needs root, www-data and a private mount namespace"
	done_testing; exit 0
fi
SYSCONFDIR=${RELAYMAIL_SYSCONFDIR:-/usr/local/etc}
id relaymail >/dev/null 2>&1 ||
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin relaymail
chmod 755 "$T" "$CERTS"; chmod 644 "$CERTS/ca.pem"
S=$T/svc; W=$T/www
mkdir -p "$S/run" "$W" "$T/etc" "$SYSCONFDIR"
printf '%s\n' "$PW" > "$S/pw"
chown -R relaymail: "$S"; chmod 711 "$S"; chmod 755 "$S/run"; chmod 600 "$S/pw"
chown -R www-data: "$W"
{
	printf '[defaults]\ndefault_account = sys\n\n[account sys]\n'
	printf 'host = localhost\nport = %s\ntls_ca_file = %s\nuser = alice\n' "$STARTTLS_PORT" "$CERTS/ca.pem"
	printf 'password_file = %s\nfrom = sender@example.com\ndomain = example.com\n' "$S/pw"
	printf 'timeout = 5\nqueue_dir = %s\nfailed_dir = %s\n' "$S/queue" "$S/failed"
	printf '\n[service]\nsocket = %s\nmax_sessions = 2\nsession_idle = 5\n' "$S/run/submit"
} > "$T/etc/relaymail.conf"
chmod 644 "$T/etc/relaymail.conf"
mount --bind "$T/etc" "$SYSCONFDIR" || { echo "Bail out! cannot bind-mount $SYSCONFDIR"; exit 1; }
# Before the service starts: its warm sessions read the faults only once.
faults '[{"step":"rcpt","match":"bad@example.org","reply":"550 5.1.1 unknown"},
	 {"step":"rcpt","match":"bad2@example.org","reply":"550 5.1.1 unknown"}]'
setpriv --reuid=relaymail --regid=relaymail --clear-groups env -i PATH=/usr/bin:/bin \
	LSAN_OPTIONS="${LSAN_OPTIONS:-}" "$RELAYMAIL" --serve 2>>"$T/service.err" &
SVC_PID=$!
_pids="$_pids $SVC_PID"
for _ in $(seq 100); do [ -S "$S/run/submit" ] && break; sleep 0.05; done
as_www() {
	RC=0
	ERR=$(setpriv --reuid=www-data --regid=www-data --init-groups env -i PATH=/usr/bin:/bin \
		HOME="$W" TMPDIR=/tmp LSAN_OPTIONS="${LSAN_OPTIONS:-}" \
		timeout 60 "$RELAYMAIL" "$@" <"$T/sys.m" 2>&1 >/dev/null) || RC=$?
}
printf 'Subject: service partial\nMessage-ID: <s1@example.com>\n\nbody\n' > "$T/sys.m"; chmod 644 "$T/sys.m"
before=$(n_notices)
as_www good@example.org bad@example.org
is "$RC" 0 "system mode, partial refusal: exit 0"
like "$ERR" "RCPT TO:<bad@example\.org>.*550 5\.1\.1 unknown" "system mode: stderr names the refused recipient with the reply"
like "$ERR" "message kept in $S/failed/" "system mode: the copy is in the service's failed store"
is "$(n_notices)" $((before + 1)) "system mode: a notice to the sender"
as_www -oeq good@example.org bad@example.org
is "$RC/$ERR" "0/" "system mode with -oeq: exit 0, quiet"
as_www bad@example.org bad2@example.org
is "$RC" 67 "system mode, every recipient refused: exit 67"
kill "$SVC_PID" 2>/dev/null; wait "$SVC_PID" 2>/dev/null

done_testing
