#!/bin/bash
# Issue 11, the relay side: commands are built with bounds, queue content
# always ends with CRLF before the end of data, replies the client did not
# ask for are failures, one deadline bounds each reply (also inside TLS), and
# the AUTH secret neither stays in memory nor can leave in a core dump.
. "$(dirname "$0")/lib.sh"

start_relay --dsn --max-line 4096
write_config "$T/conf" queue=no timeout=5
QDIR=$HOME/.local/state/relaymail/queue
FDIR=$HOME/.local/state/relaymail/failed
entries() { ls "$QDIR" 2>/dev/null | grep -c '\.env$'; }
printf 'Subject: hardening\n\nbody\n' > "$T/m"
elapsed_since() { echo $(( $(now_ms) - $1 )); }

# ---- 2. bounded command builder ---------------------------------------------

# The longest values the command line accepts all arrive intact: a 998-octet
# sender and recipient, a 100-character ENVID that is all xtext escapes (300
# octets on the wire; the old builder cut the last one), NOTIFY and RET.
local_part() { head -c "$1" /dev/zero | tr '\0' "$2"; }
long_from=$(local_part 986 s)@example.com
long_to=$(local_part 986 r)@example.org
envid=$(local_part 100 +)
run_rm "$T/m" --config "$T/conf" -f "$long_from" -V "$envid" -N success,failure,delay -R hdrs "$long_to"
is "$RC" 0 "998-octet sender and recipient, 100-character ENVID: sent"
facts
is "$J_mail_from" "$long_from" "the sender arrives whole"
is "$J_rcpt_tos" "$long_to" "the recipient arrives whole"
like "$J_mail_options" "ENVID=$(printf '+2B%.0s' $(seq 100) | sed 's/+/\\+/g')( |\$)" "ENVID arrives with all 100 characters as xtext"
like "$J_rcpt_options" "NOTIFY=success,failure,delay" "NOTIFY arrives"

# A queue entry is not trusted: a 3,000-octet sender planted in a .env must
# not overflow the command buffer (ASan build: no report, no crash) and must
# never reach the relay cut short.
write_config "$T/conf" queue=yes timeout=5
faults '[{"step":"mail","reply":"451 4.3.0 later","times":1}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$(entries)" 1 "a queued entry to plant a long sender in"
env_file=$(ls "$QDIR"/*.env | head -1)
big=$(local_part 3000 x)@example.com
sed -i "s/^sender .*/sender $big/" "$env_file"
reset_log
before=$(msg_count)
run_rm /dev/null --config "$T/conf" --flush-all
ok $(( RC >= 128 || RC == 124 )) "planted 3,000-octet sender: no crash (exit $RC)" "$ERR"
unlike "$ERR" "AddressSanitizer|stack smashing" "planted 3,000-octet sender: no memory error"
is "$(msg_count)" "$before" "planted 3,000-octet sender: nothing delivered"
unlike "$(commands)" "MAIL FROM:<x" "planted 3,000-octet sender: no MAIL command with a cut address"
rm -f "$QDIR"/* "$FDIR"/* 2>/dev/null

# ---- 3. queue content without a final CRLF ----------------------------------

# plant_unterminated: queue one message (the relay refuses MAIL once), then
# cut the final CRLF off its .msg.
plant_unterminated() {
	faults '[{"step":"mail","reply":"451 4.3.0 later","times":1}]'
	run_rm "$T/m" --config "$T/conf" bob@example.org
	msg_file=$(ls "$QDIR"/*.msg 2>/dev/null | head -1)
	[ -n "$msg_file" ] && truncate -s -2 "$msg_file"
	tail -c 4 "$msg_file" | od -An -c | grep -q 'd   y'
}
plant_unterminated; ok $? "a queued .msg without its final CRLF"
start=$(now_ms)
before=$(msg_count)
run_rm /dev/null --config "$T/conf" --flush-all
took=$(elapsed_since "$start")
is "$RC" 0 "DATA: the flush succeeds"
is "$(msg_count)" $((before + 1)) "DATA: the relay got the message"
ok $(( took >= 4000 )) "DATA: promptly, not after the timeout (${took} ms)"
is "$(entries)" 0 "DATA: the entry left the queue"
is "$(tail -c 6 "$(last_eml)" | od -An -c | tr -s ' ')" " b o d y \r \n" "DATA: the content ends with body CRLF"

start_relay --chunking
write_config "$T/conf" queue=yes timeout=5
rm -f "$QDIR"/* 2>/dev/null
plant_unterminated; ok $? "BDAT: a queued .msg without its final CRLF"
reset_log
run_rm /dev/null --config "$T/conf" --flush-all
is "$RC" 0 "BDAT: the flush succeeds"
size=$(stat -c %s "$(last_eml)")
is "$(tail -c 6 "$(last_eml)" | od -An -c | tr -s ' ')" " b o d y \r \n" "BDAT: the content ends with CRLF"
like "$(commands)" "BDAT $size LAST" "BDAT: the chunk size counts the added CRLF"
rm -f "$QDIR"/* "$FDIR"/* 2>/dev/null

# ---- 5. replies the client did not ask for ----------------------------------

start_relay
write_config "$T/conf" queue=no timeout=5
faults '[{"step":"rcpt","match":"carol@example.org","reply":"354 3.0.0 go ahead?"}]'
run_rm "$T/m" --config "$T/conf" bob@example.org carol@example.org
# The recipient counts as refused; the other got it: a partial delivery,
# exit 0 with the refusal on stderr and a notice (issue 13 item 9).
is "$RC" 0 "RCPT answered 354 for one of two recipients: partial delivery (exit 0)"
like "$ERR" "carol@example.org.*unexpected reply" "RCPT 354: stderr names the recipient and the unexpected reply"
like "$ERR" "message kept in" "RCPT 354: the message is kept for that recipient"
jsons=("$RELAY"/messages/*.json)
is "$(rcpts "${jsons[-2]}")" "bob@example.org" "RCPT 354: the other recipient got it (before the notice)"
is "$(rcpts "${jsons[-1]}")" "sender@example.com" "RCPT 354: the sender got a notice"

faults '[{"step":"rcpt","reply":"354 3.0.0 go ahead?"}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 76 "RCPT answered 354 for the only recipient: protocol error (76)"

for f in 'mail|354 3.0.0 what' 'data|250 2.0.0 no data wanted' 'eod|354 3.0.0 more'; do
	step=${f%%|*} reply=${f#*|}
	before=$(msg_count)
	faults '[{"step":"'"$step"'","reply":"'"$reply"'"}]'
	run_rm "$T/m" --config "$T/conf" bob@example.org
	is "$RC" 76 "$step answered '${reply%% *}': protocol error (76), not success"
done
faults ''

# More recipients than the per-transaction status table: refused before MAIL,
# never a silent drop of the ones past the table (queue entry, last one 550).
write_config "$T/conf" queue=yes timeout=60
faults '[{"step":"mail","reply":"451 4.3.0 later","times":1}]'
run_rm "$T/m" --config "$T/conf" r1@example.org
env_file=$(ls "$QDIR"/*.env | head -1)
seq -f 'rcpt r%g@example.org' 2 10001 >> "$env_file"
faults '[{"step":"rcpt","match":"r10001@example.org","reply":"550 5.1.1 no such user"}]'
run_rm /dev/null --config "$T/conf" --flush-all
grep -rqs 'r10001@example.org' "$QDIR" "$FDIR"
ok $? "10,001 recipients: the last one is not dropped silently (kept in the queue or the failed store)"
faults ''
rm -rf "$QDIR" "$FDIR"

# ---- 9. one deadline per reply ----------------------------------------------

write_config "$T/conf" queue=no timeout=2
faults '[{"step":"mail","action":"trickle","seconds":1,"reply":"250 2.1.0 a slow reply of forty bytes"}]'
start=$(now_ms)
run_rm "$T/m" --config "$T/conf" bob@example.org
took=$(elapsed_since "$start")
is "$RC" 75 "a reply trickled one byte per second over TLS: temporary failure"
ok $(( took > 3500 )) "trickled reply: given up after timeout = 2, not per byte (${took} ms)"

faults '[{"step":"ehlo","action":"endless"}]'
start=$(now_ms)
run_rm "$T/m" --config "$T/conf" bob@example.org
took=$(elapsed_since "$start")
is "$RC" 76 "an endless multi-line reply: protocol error (76)"
ok $(( took > 3500 )) "endless reply: bounded by the reply limits (${took} ms)"
faults ''

# A TLS 1.2 server that sends HelloRequest after HelloRequest instead of a
# reply (openssl s_server's "r" command).
if command -v openssl >/dev/null; then
	port=$("$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkfifo "$T/sv.in"
	openssl s_server -tls1_2 -accept "127.0.0.1:$port" -cert "$CERTS/server.pem" \
		-key "$CERTS/server.key" -naccept 1 <"$T/sv.in" >"$T/sv.out" 2>&1 &
	sv_pid=$!
	_pids="$_pids $sv_pid"
	exec 3>"$T/sv.in"
	for i in $(seq 50); do grep -q ACCEPT "$T/sv.out" && break; sleep 0.1; done
	write_config "$T/conf" queue=no timeout=2 port="$port" tls=implicit
	start=$(now_ms)
	timeout -k 5 30 "$RELAYMAIL" --config "$T/conf" bob@example.org <"$T/m" >"$T/rh.out" 2>"$T/rh.err" &
	rm_job=$!
	sleep 1
	printf '220 relay.test ESMTP\r\n' >&3
	for i in $(seq 60); do
		sleep 0.3
		kill -0 "$rm_job" 2>/dev/null || break
		printf 'r\n' >&3 2>/dev/null || break
	done
	wait "$rm_job"
	rc=$?
	took=$(elapsed_since "$start")
	exec 3>&-
	kill "$sv_pid" 2>/dev/null
	isnt "$rc" 0 "renegotiation requests in a loop: a failure (exit $rc)" "$(cat "$T/rh.err")"
	ok $(( took > 5000 )) "renegotiation requests in a loop: given up within the deadline (${took} ms)"
	grep -q 'renegotiat' "$T/sv.out"; ok $? "the server did request renegotiation" "$(tail -5 "$T/sv.out")"
else
	skip "renegotiation loop: failure" "openssl is not installed"
	skip "renegotiation loop: deadline" "openssl is not installed"
	skip "renegotiation loop: requested" "openssl is not installed"
fi

# ---- 11. secrets ----------------------------------------------------------------

b64=$(printf '\0alice\0%s' "$PW" | base64)
write_config "$T/conf" queue=no timeout=10
run_rm "$T/m" --config "$T/conf" -v bob@example.org
is "$RC" 0 "-v: sent"
unlike "$ERR" "$b64|$PW" "-v: the transcript shows neither the AUTH response nor the password"

# While the relay stalls after AUTH, the process holds no AUTH response in its
# memory (root reads /proc/PID/mem), and it cannot dump core.
scan_memory() {  # scan_memory PID NEEDLE: exit 0 when found in a writable mapping
	"$PYTHON3" - "$1" "$2" <<'EOF'
import re, sys
pid, needle = sys.argv[1], sys.argv[2].encode()
found = False
with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) rw", line)
        if not m:
            continue
        lo, hi = int(m.group(1), 16), int(m.group(2), 16)
        if hi - lo > 512 << 20:
            continue
        try:
            mem.seek(lo)
            if needle in mem.read(hi - lo):
                found = True
                break
        except (OSError, ValueError, OverflowError):
            pass
sys.exit(0 if found else 1)
EOF
}
faults '[{"step":"auth","action":"delay","seconds":4}]'
reset_log
"$RELAYMAIL" --config "$T/conf" bob@example.org <"$T/m" >"$T/auth.out" 2>"$T/auth.err" &
rm_pid=$!
for i in $(seq 60); do grep -q '^[0-9]* AUTH' "$RELAY/commands.log" && break; sleep 0.05; done
sleep 0.5
scan_memory "$rm_pid" "$b64"
ok $(( $? == 0 )) "while waiting for the AUTH reply, the AUTH response is no longer in memory"
wait "$rm_pid"
is "$?" 0 "stalled AUTH: sent in the end"

# The same as an unprivileged user: /proc/PID of a process that is not
# dumpable belongs to root, and its core size limit is 0.
U=$T/nobody
mkdir -p "$U/.config/relaymail"
cp "$CERTS/ca.pem" "$U/ca.pem"
printf '%s\n' "$PW" > "$U/pw"
write_config "$U/.config/relaymail/config" queue=no timeout=10 password_file="$U/pw" tls_ca_file="$U/ca.pem"
chmod 600 "$U/pw"; chown -R nobody: "$U"; chmod 700 "$U"; chmod 711 "$T"
reset_log
env -i PATH="$PATH" HOME="$U" XDG_CONFIG_HOME="$U/.config" TMPDIR="$U" LC_ALL=C.UTF-8 \
	ASAN_OPTIONS="${ASAN_OPTIONS:-}" LSAN_OPTIONS="${LSAN_OPTIONS:-}" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$RELAYMAIL" bob@example.org \
	<"$T/m" >"$T/nb.out" 2>"$T/nb.err" &
nb_pid=$!
for i in $(seq 100); do grep -q '^[0-9]* AUTH' "$RELAY/commands.log" && break; sleep 0.05; done
sleep 0.3
is "$(stat -c %U "/proc/$nb_pid/status" 2>/dev/null)" root "as nobody after loading the secret: not dumpable (/proc/PID owned by root)"
like "$(grep 'Max core file size' "/proc/$nb_pid/limits" 2>/dev/null)" "size +0 +0 " "as nobody after loading the secret: core size limit 0"
wait "$nb_pid"
ok $? "as nobody: sent" "$(cat "$T/nb.err")"
chmod 700 "$T"
faults ''

done_testing
