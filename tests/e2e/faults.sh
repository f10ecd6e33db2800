#!/bin/bash
# Faults at every SMTP step: 4xx, 5xx, dropped connection, timeout, garbage;
# SIZE; refused connection; all-or-nothing recipients.  Checks the exit status,
# that nothing is delivered, and the one-line reason on stderr.
# The configs say queue = no: a temporary failure is then exit 75.  With the
# queue (the default) it is exit 0 and the message queued: see the end.
. "$(dirname "$0")/lib.sh"

printf 'Subject: faults\n\nbody\n' > "$T/m"

step_re() {  # STEP: what stderr must mention to name the step
	case $1 in
	greeting) echo '(?i)greet|banner|connect|welcome' ;;
	ehlo) echo '(?i)EHLO|HELO' ;;
	starttls) echo 'STARTTLS|TLS' ;;
	auth) echo 'AUTH' ;;
	mail) echo 'MAIL' ;;
	rcpt) echo '(?i)RCPT|recipient' ;;
	data) echo 'DATA' ;;
	eod|data_mid) echo '(?i)DATA|end of (data|message)|message' ;;
	esac
}

# stderr_problems STEP [REPLY-REGEX]: what is wrong with $ERR ("" when nothing):
# one line (or a few), starting with "relaymail: ", naming the step, quoting the reply
stderr_problems() {
	local lines=${ERR//[^$'\n']/}
	[ -n "$ERR" ] || { echo "stderr is empty"; return; }
	[ "${#lines}" -le 3 ] || echo "more than 4 lines on stderr"
	ERR_TEXT=$ERR S=$(step_re "$1") R=${2:-} perl -e '
		my $t = "\n$ENV{ERR_TEXT}\n";
		print "no line starting with \"relaymail: \"\n" unless $t =~ /^relaymail: /m;
		print "the step is not named (/$ENV{S}/)\n" unless $t =~ /$ENV{S}/;
		print "the reply is not quoted (/$ENV{R}/)\n" if $ENV{R} ne "" && $t !~ /$ENV{R}/;'
}

# check STEP ACTION JSON-EXTRA WANT-RC LABEL [REPLY-REGEX]
check() {
	local step=$1 action=$2 extra=$3 want=$4 label="$1 $2${5:+ $5}" re=${6:-}
	faults "[{\"step\":\"$step\",\"action\":\"$action\"$extra}]"
	local before; before=$(msg_count)
	run_rm "$T/m" --config "$T/conf" bob@example.org
	is "$RC" "$want" "$label: exit $want"
	[ "$want" = 0 ] && return
	is "$(msg_count)" "$before" "$label: nothing delivered"
	is "$(stderr_problems "$step" "$re")" "" \
		"$label: one line on stderr: 'relaymail: ', the step${re:+, the reply}"
	[ "$RC" = 124 ] && stop_relay && start_relay   # a hung client: start afresh
	return 0
}

start_relay
write_config "$T/conf" timeout=2 queue=no

# ---- replies: 4xx -> 75; 5xx -> 69 (67 at RCPT, 77 at AUTH) -------------------
for step in greeting ehlo auth mail rcpt data eod; do
	check "$step" reply ',"reply":"451 4.3.0 Try again later"' 75 4xx '451 4\.3\.0 Try again later'
	case $step in
	rcpt) check rcpt reply ',"reply":"550 5.1.1 No such user here"' 67 5xx '550 5\.1\.1 No such user here' ;;
	auth) check auth reply ',"reply":"535 5.7.8 Authentication credentials invalid"' 77 535 '535 5\.7\.8'
	      check auth reply ',"reply":"534 5.7.9 Authentication mechanism is too weak"' 77 534 '534 5\.7\.9' ;;
	*) check "$step" reply ',"reply":"554 5.7.1 Rejected by policy"' 69 5xx '554 5\.7\.1 Rejected by policy' ;;
	esac
done
check auth reply ',"reply":"454 4.7.0 Temporary authentication failure"' 75 454 '454 4\.7\.0'
check greeting reply ',"reply":"421 4.3.2 System not accepting network messages"' 75 421 '421 4\.3\.2'
check mail reply ',"reply":"451-4.3.0 first line\n451 4.3.0 second line"' 75 "multi-line 4xx" 'second line'
check starttls reply ',"reply":"454 4.7.0 TLS not available"' 75 4xx '454 4\.7\.0'

# ---- dropped connection at every step -> 75 ----------------------------------
for step in greeting ehlo starttls auth mail rcpt data data_mid eod; do
	check "$step" drop '' 75
done
# Dropped after the message was accepted: it was delivered.
check quit drop '' 0 "(after the message was accepted)"
is "$(msg_count)" 1 "quit drop: the message was delivered once"

# ---- garbage instead of a reply -> 76 -----------------------------------------
for step in greeting ehlo auth mail rcpt data eod; do
	check "$step" garbage '' 76
done

# ---- "times": a fault for the next connection only; a retry then works ----------
faults '[{"step":"greeting","reply":"421 4.3.2 Busy","times":1}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 75 "greeting 421 once: first attempt exits 75"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "greeting 421 once: second attempt is sent"
faults ''

# ---- recipients: partial delivery -------------------------------------------
# The accepted recipients get the message; a permanently refused one is
# reported, the message kept for it and the sender gets a notice, but the
# message was accepted: exit 0, as Postfix and dma report it (issue 13); a
# temporarily refused one is queued alone (with queue = no: exit 75 and kept).
faults '[{"step":"rcpt","match":"bad@example.org","reply":"550 5.1.1 unknown"}]'
before=$(msg_count)
run_rm "$T/m" --config "$T/conf" good@example.org bad@example.org
is "$RC" 0 "one recipient of two rejected (550): exit 0 (accepted for the other)"
is "$(msg_count)" "$((before + 2))" "one recipient rejected: the other still gets the message (and the sender a notice)"
is "$(json_field "$(ls "$RELAY"/messages/*.json | sed -n "$((before + 1))p")" rcpt_tos)" "good@example.org" "one recipient rejected: sent to the accepted one only"
like "$ERR" "bad@example\.org" "one recipient rejected: stderr names it"
like "$ERR" "delivered to the other recipient" "one recipient rejected: stderr says the others got it"
like "$ERR" "message kept in" "one recipient rejected: the message is kept for it"
before=$(msg_count)
faults '[{"step":"rcpt","match":"bad@example.org","reply":"450 4.2.0 mailbox busy"}]'
run_rm "$T/m" --config "$T/conf" good@example.org bad@example.org
is "$RC" 75 "one recipient of two deferred (450), queue = no: exit 75"
is "$(msg_count)" "$((before + 1))" "one recipient deferred: the other gets the message"
write_config "$T/conf" queue=yes timeout=2
run_rm "$T/m" --config "$T/conf" good@example.org bad@example.org
is "$RC" 0 "one recipient deferred, queue on: exit 0"
run_rm /dev/null --config "$T/conf" -bp
like "$OUT" "<bad@example\.org>" "the deferred recipient is queued alone"
! printf '%s' "$OUT" | grep -q "good@example"; ok $? "the accepted recipient is not queued again"
faults ''
before=$(msg_count)
run_rm /dev/null --config "$T/conf" --flush-all
is "$(json_field "$(last_json)" rcpt_tos)" "bad@example.org" "the flush sends to the deferred recipient only"
write_config "$T/conf" queue=no timeout=2
faults '[{"step":"rcpt","reply":"550 5.1.1 unknown"}]'
before=$(msg_count)
run_rm "$T/m" --config "$T/conf" a@example.org b@example.org
is "$RC" 67 "every recipient rejected: exit 67 (no notice: the caller is told)"
is "$(msg_count)" "$before" "every recipient rejected: nothing sent"
is "$RC" 67 "temporary and permanent rejections: the permanent one decides (67)"
faults ''

# ---- AUTH ---------------------------------------------------------------------
printf 'wrong\n' > "$T/badpw"; chmod 600 "$T/badpw"
write_config "$T/conf.badpw" timeout=2 queue=no password_file="$T/badpw"
reset_log
run_rm "$T/m" --config "$T/conf.badpw" bob@example.org
is "$RC" 77 "wrong password (535 from the relay): exit 77"
! commands | grep -q ' MAIL'; ok $? "wrong password: MAIL never sent"
start_relay --require-auth
write_config "$T/conf.noauth" timeout=2 queue=no user= password_file=
run_rm "$T/m" --config "$T/conf.noauth" bob@example.org
is "$RC" 69 "no AUTH and the relay requires it (530 at MAIL): exit 69"
like "$ERR" "530" "530 at MAIL: quoted"

# ---- SIZE: a message larger than the advertised limit is refused before MAIL ----
start_relay --size 1000
write_config "$T/conf" timeout=2 queue=no
head -c 5000 /dev/zero | tr '\0' 'x' | fold -w 70 > "$T/big"
run_rm "$T/big" --config "$T/conf" bob@example.org
is "$RC" 65 "message over the server's SIZE: exit 65"
! commands | grep -q ' MAIL'; ok $? "message over SIZE: MAIL never sent" "$(commands)"
like "$ERR" "^relaymail: " "message over SIZE: stderr starts with 'relaymail: '"
like "$ERR" "(?i)size|large|limit" "message over SIZE: stderr says so"
printf 'Subject: small\n\n%s\n' "$(head -c 300 /dev/zero | tr '\0' 'y')" > "$T/small"
run_rm "$T/small" --config "$T/conf" bob@example.org
is "$RC" 0 "message under the server's SIZE: sent"

# ---- timeouts (timeout = 2): the clients run in parallel on one relay --------
# A silent server is given up within timeout + 2 s: exit 75.  Replies that are
# late but within the timeout are waited for.  Each client's connection takes
# the faults file as it is when it connects: the next file is written once the
# relay has logged the previous CONNECT.
start_relay
write_config "$T/conf" timeout=2 queue=no
reset_log
conns=0 dpids=""
start_case() {  # NAME FAULTS-JSON: runs relaymail in the background
	local name=$1
	faults "$2"
	mkdir -p "$T/d-$name"
	( RM_DIR=$T/d-$name; t0=$(now_ms)
	  RM_TIMEOUT=20 run_rm "$T/m" --config "$T/conf" "$name@example.org"
	  echo "$RC $(( $(now_ms) - t0 ))" > "$T/d-$name/result" ) &
	dpids="$dpids $!"
	conns=$((conns + 1))
	local i
	for i in $(seq 500); do
		[ "$(commands | grep -c ' CONNECT ')" -ge "$conns" ] && return
		sleep 0.01
	done
}
dsteps="greeting ehlo starttls auth mail rcpt data eod"
for step in $dsteps; do
	start_case "$step" "[{\"step\":\"$step\",\"action\":\"delay\",\"seconds\":10}]"
done
start_case late '[{"step":"mail","action":"delay","seconds":0.8},{"step":"eod","action":"delay","seconds":0.8}]'
faults ''
for p in $dpids; do wait "$p"; done
for step in $dsteps; do
	read -r rc ms < "$T/d-$step/result" || { rc=none ms=99999; }
	is "$rc" 75 "$step delayed past the timeout: exit 75"
	[ "$ms" -le 4000 ]; ok $? "$step delayed: gave up within timeout + 2 s (took ${ms} ms)"
	like "$(cat "$T/d-$step/stderr")" "(?i)time" "$step delayed: stderr says it timed out"
done
read -r rc ms < "$T/d-late/result" || rc=none
is "$rc" 0 "replies 0.8 s late at MAIL and end of data (timeout 2): waited for, exit 0"
is "$(rcpts)" "late@example.org" "late replies: the message was delivered"

# ---- the queue (default queue = yes): a temporary failure is queued, exit 0 ----
start_relay
write_config "$T/confq" timeout=2
faults '[{"step":"mail","reply":"451 4.3.0 Try again later"}]'
printf 'From: a@example.com\nDate: Sat, 28 Nov 2026 10:00:00 +0000\nMessage-ID: <queued@example.com>\nSubject: queued\n\n.dot\nbody\n' > "$T/mq"
run_rm "$T/mq" --config "$T/confq" -i bob@example.org
is "$RC" 0 "queue on, 451 at MAIL: exit 0 (queued)"
like "$ERR" "^relaymail: .*(?i)queued" "queue on: stderr says the message was queued"
like "$ERR" "451 4\.3\.0 Try again later" "queue on: stderr quotes the reply"
is "$(msg_count)" 0 "queue on: nothing delivered yet"
faults ''
run_rm /dev/null --config "$T/confq" --flush-all
is "$RC" 0 "--flush-all: exit 0"
is "$(msg_count)" 1 "--flush-all: the queued message is delivered"
sed 's/$/\r/' "$T/mq" > "$T/mq.crlf"
cmp -s "$(last_eml)" "$T/mq.crlf"; ok $? "--flush-all: delivered byte-exact"
run_rm /dev/null --config "$T/confq" --flush-all
is "$(msg_count)" 1 "a second --flush-all delivers nothing more"

# ---- nothing listening, no such host ------------------------------------------------
write_config "$T/conf" timeout=2 queue=no
stop_relay
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 75 "connection refused: exit 75"
like "$ERR" "^relaymail: " "connection refused: stderr starts with 'relaymail: '"
like "$ERR" "(?i)refused|connect" "connection refused: said so"
write_config "$T/conf" host=no-such-host.invalid timeout=2 queue=no
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 75 "relay host does not resolve: temporary (exit 75 with queue = no), not 68"
like "$ERR" "relay host no-such-host\.invalid: .*check the host setting" "relay host does not resolve: the host and the setting are named"

done_testing
