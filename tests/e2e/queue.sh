#!/bin/bash
# No message lost: the durable queue, relaymail -q, and the failed-mail store.
. "$(dirname "$0")/lib.sh"

start_relay
write_config "$T/conf" queue=yes
QDIR=$HOME/.local/state/relaymail/queue
FDIR=$HOME/.local/state/relaymail/failed
mkmsg() { printf 'Subject: message %s\nMessage-ID: <m%s@example.com>\n\nbody %s\n' "$1" "$1" "$1" > "$T/m$1"; }
entries() { ls "$QDIR" 2>/dev/null | grep -c '\.env$'; }

# Relay down: queued, exit 0, a one-line notice.
stop_relay
mkmsg 1
run_rm "$T/m1" --config "$T/conf" bob@example.org
is "$RC" 0 "relay down: exit 0 (the message is safe in the queue)"
like "$ERR" "message queued as [0-9]+\.[0-9]+\.[0-9a-f]{8}" "relay down: stderr names the queue entry"
is "$(printf '%s\n' "$ERR" | wc -l)" 1 "relay down: one line on stderr"
is "$(entries)" 1 "one entry in the queue"
[ "$(stat -c %a "$QDIR")" = 700 ]; ok $? "queue directory is private (0700)"
run_rm /dev/null --config "$T/conf" -bp
like "$OUT" "<sender@example.com>" "mailq shows the sender"
like "$OUT" "<bob@example.org>" "mailq shows the recipient"
like "$OUT" "Connection refused" "mailq shows the last error"
like "$OUT" " 1  <" "mailq shows the attempt count"

# Not due yet: --flush-due leaves it (the timer, cron); --flush-all (and
# -q, as Postfix's sendmail -q: tests/e2e/notices.sh) sends it, exactly once.
start_relay
write_config "$T/conf" queue=yes
run_rm /dev/null --config "$T/conf" --flush-due
is "$(msg_count)" 0 "--flush-due respects the retry schedule"
run_rm /dev/null --config "$T/conf" --flush-all
is "$RC" 0 "--flush-all: exit 0"
is "$(msg_count)" 1 "the queued message was delivered"
is "$(entries)" 0 "the queue is empty afterwards"
grep -q '^Message-ID: <m1@example.com>' "$(last_eml)"; ok $? "the delivered message is the queued one"
run_rm /dev/null --config "$T/conf" --flush-all
is "$(msg_count)" 1 "a second flush delivers nothing twice"
run_rm /dev/null --config "$T/conf" -bp
like "$OUT" "Mail queue is empty" "mailq: empty again"

# 4xx at RCPT for one connection: queued, then delivered by the flush.
faults '[{"step":"rcpt","reply":"451 4.3.0 Greylisted","times":1}]'
mkmsg 2
run_rm "$T/m2" --config "$T/conf" bob@example.org
is "$RC" 0 "451 at RCPT: queued, exit 0"
run_rm /dev/null --config "$T/conf" --flush-all
is "$(msg_count)" 2 "after the greylisting the flush delivers it"

# queue = no: exit 75 and the message is kept in the failed-mail store.
write_config "$T/conf" queue=no
faults '[{"step":"mail","reply":"421 4.7.0 Try later"}]'
mkmsg 3
run_rm "$T/m3" --config "$T/conf" bob@example.org
is "$RC" 75 "queue = no: exit 75"
kept=$(printf '%s' "$ERR" | sed -n 's/.*message kept in \(.*\.eml\).*/\1/p')
[ -f "$kept" ]; ok $? "queue = no: stderr names the kept file"
grep -q 'body 3' "$kept" 2>/dev/null; ok $? "the kept file holds the message"
[ "$(stat -c %a "$FDIR")" = 700 ]; ok $? "failed-mail directory is private (0700)"

# Permanent failure: exit 69, kept with its reason.
faults '[{"step":"mail","reply":"554 5.7.1 Sender not allowed"}]'
write_config "$T/conf" queue=yes
run_rm "$T/m3" --config "$T/conf" bob@example.org
is "$RC" 69 "5xx: exit 69 even with the queue on"
kept=$(printf '%s' "$ERR" | sed -n 's/.*message kept in \(.*\.eml\).*/\1/p')
grep -q 'Sender not allowed' "${kept%.eml}.reason" 2>/dev/null; ok $? "the reason is kept beside the message"
is "$(entries)" 0 "a permanent failure is not queued"
faults ''

# Many queued messages go out over one session with one login.
stop_relay
for i in 10 11 12 13 14; do mkmsg $i; run_rm "$T/m$i" --config "$T/conf" "r$i@example.org"; done
is "$(entries)" 5 "five messages queued"
start_relay
write_config "$T/conf" queue=yes
faults '[{"step":"rcpt","match":"r12@example.org","reply":"550 5.1.1 No such user"},{"step":"rcpt","match":"r13@example.org","reply":"550 5.1.1 No such user"}]'
run_rm /dev/null --config "$T/conf" --flush-all
is "$(grep -L '^Subject: Undelivered mail' "$RELAY"/messages/*.eml | wc -l)" 3 "the flush delivered the three good messages"
is "$(grep -l '^Subject: Undelivered mail' "$RELAY"/messages/*.eml | wc -l)" 2 "... and a notice about each refused one"
is "$(grep -c ' CONNECT ' "$RELAY/commands.log")" 1 "one connection for the whole flush"
is "$(grep -c ' AUTH ' "$RELAY/commands.log")" 1 "one login for the whole flush"
grep -q ' RSET' "$RELAY/commands.log"; ok $? "RSET after a refused message"
is "$(entries)" 0 "nothing left in the queue"
is "$(ls "$FDIR"/*.reason | xargs grep -l 'No such user' | wc -l)" 2 "the refused ones went to the failed-mail store"
faults ''

# A flush that meets a partial refusal: the accepted recipient gets it, the
# deferred one stays queued alone, the refused one goes to the failed store.
stop_relay; mkmsg 15
run_rm "$T/m15" --config "$T/conf" ok@example.org later@example.org never@example.org
start_relay
write_config "$T/conf" queue=yes
faults '[{"step":"rcpt","match":"later@example.org","reply":"452 4.2.2 Mailbox full"},{"step":"rcpt","match":"never@example.org","reply":"550 5.1.1 No such user"}]'
run_rm /dev/null --config "$T/conf" --flush-all
is "$(json_field "$(grep -l '^Subject: message 15' "$RELAY"/messages/*.eml | xargs grep -L '^Subject: Undelivered' | sed 's/eml$/json/')" rcpt_tos)" "ok@example.org" "partial flush: the accepted recipient got it"
run_rm /dev/null --config "$T/conf" -bp
like "$OUT" "<later@example\.org>" "partial flush: the deferred recipient stays queued"
! printf '%s' "$OUT" | grep -Eq "ok@example|never@example"; ok $? "partial flush: only the deferred recipient is left"
ls "$FDIR"/*.reason | xargs grep -l 'never@example.org' >/dev/null; ok $? "partial flush: the refused recipient's copy is in the failed store"
faults ''
run_rm /dev/null --config "$T/conf" --flush-all
is "$(json_field "$(last_json)" rcpt_tos)" "later@example.org" "the next flush delivers to the deferred recipient"
is "$(entries)" 0 "queue empty again"

# A second flush while one holds the lock exits at once.
stop_relay; mkmsg 20; run_rm "$T/m20" --config "$T/conf" bob@example.org; start_relay
write_config "$T/conf" queue=yes
exec 9>"$QDIR/.lock"; flock 9
run_rm /dev/null --config "$T/conf" --flush-all
is "$RC" 0 "flush while another holds the lock: exit 0"
is "$(msg_count)" 0 "flush while locked: nothing sent twice"
exec 9>&-
run_rm /dev/null --config "$T/conf" --flush-all
is "$(msg_count)" 1 "after the lock is released the entry goes out"

# queue_lifetime: a message that stays undeliverable is given up.
stop_relay
write_config "$T/conf" queue=yes queue_lifetime=1s
mkmsg 30
run_rm "$T/m30" --config "$T/conf" bob@example.org
sleep 2
run_rm /dev/null --config "$T/conf" --flush-all
is "$(entries)" 0 "past queue_lifetime the entry leaves the queue"
ls "$FDIR"/*.reason | xargs grep -l 'undeliverable for' >/dev/null; ok $? "past queue_lifetime: moved to the failed store with the reason"

# 100 concurrent invocations while the relay is down, then one flush.
write_config "$T/conf" queue=yes
for i in $(seq 100 199); do
	printf 'Subject: burst %s\n\nbody\n' "$i" | "$RELAYMAIL" --config "$T/conf" burst@example.org 2>/dev/null &
done
wait
is "$(entries)" 100 "100 concurrent submissions: 100 entries"
start_relay
write_config "$T/conf" queue=yes
run_rm /dev/null --config "$T/conf" --flush-all
is "$(msg_count)" 100 "the flush delivered 100 messages"
is "$(cat "$RELAY"/messages/*.eml | grep -c '^Subject: burst')" 100 "no message twice"
is "$(cat "$RELAY"/messages/*.eml | grep '^Subject: burst' | sort -u | wc -l)" 100 "100 distinct messages"

# Failover: a temporary failure tries the fallback account before queueing;
# a permanent refusal does not (no duplicates).
write_config "$T/conf" queue=yes fallback=backup
cat >> "$T/conf" <<CONF

[account backup]
host = localhost
port = $IMPLICIT_PORT
tls = implicit
tls_ca_file = $CERTS/ca.pem
user = alice
password_file = $PWFILE
timeout = 5
CONF
faults '[{"step":"greeting","reply":"421 4.3.2 Shutting down","times":1}]'
before=$(msg_count)
mkmsg 40
run_rm "$T/m40" --config "$T/conf" bob@example.org
is "$RC" 0 "primary down: delivered through the fallback account"
is "$(msg_count)" $((before + 1)) "failover: delivered once"
is "$(json_field "$(last_json)" listener)" "implicit" "failover: the fallback account's relay took it"
like "$ERR" "trying fallback account 'backup'" "failover: said on stderr"
faults '[{"step":"mail","reply":"550 5.7.1 Not allowed"}]'
run_rm "$T/m40" --config "$T/conf" bob@example.org
is "$RC" 69 "permanent refusal: no failover (exit 69)"
! printf '%s' "$ERR" | grep -q fallback; ok $? "permanent refusal: the fallback is not tried"
faults ''

# Leftovers of a crash: a .msg without .env is not an entry and is cleaned up.
printf 'x' > "$QDIR/123.1.deadbeef.msg"; touch -d '2 hours ago' "$QDIR/123.1.deadbeef.msg"
run_rm /dev/null --config "$T/conf" -bp
like "$OUT" "Mail queue is empty" "a half-written entry is not listed"
run_rm /dev/null --config "$T/conf" --flush-all
[ ! -e "$QDIR/123.1.deadbeef.msg" ]; ok $? "an old stray file is removed by the flush"

# A web-served home is never used for mail (www-data: /var/www).
write_config "$T/conf" queue=no
faults '[{"step":"mail","reply":"554 5.7.1 no"}]'
vartmp_before=$(find "/var/tmp/relaymail-$(id -u)" 2>/dev/null | wc -l)
HOME=/var/www XDG_STATE_HOME= run_rm "$T/m1" --config "$T/conf" bob@example.org
isnt "$RC" 0 "HOME=/var/www, no queue_dir/failed_dir: non-zero exit (the caller keeps the message)"
like "$ERR" "not kept: no safe place .*set queue_dir and failed_dir.*system service" \
	"... and the error names the fix"
[ ! -d /var/www/.local/state/relaymail ]; ok $? "no state directory under /var/www"
is "$(find "/var/tmp/relaymail-$(id -u)" 2>/dev/null | wc -l)" "$vartmp_before" "nothing written under /var/tmp (no fallback)"
faults '[{"step":"mail","reply":"451 4.3.0 later"}]'
write_config "$T/conf"
HOME=/var/www XDG_STATE_HOME= run_rm "$T/m1" --config "$T/conf" bob@example.org
is "$RC" 75 "HOME=/var/www and a temporary failure: exit 75 (nothing queued anywhere)"
faults ''
HOME=/var/www XDG_STATE_HOME= run_rm /dev/null --config "$T/conf" -bp
like "$OUT" "Mail queue is empty" "HOME=/var/www: mailq shows an empty queue"

done_testing
