#!/bin/bash
# -bs: the SMTP dialogue of Symfony's and Laravel's sendmail transport.
. "$(dirname "$0")/lib.sh"

start_relay
write_config "$T/conf"

cat > "$T/client.py" <<'PY'
import subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def reply():
    lines = []
    while True:
        l = p.stdout.readline().decode()
        if not l:
            return "EOF"
        lines.append(l.rstrip("\r\n"))
        if len(l) < 4 or l[3] == " ":
            return lines[-1]
def cmd(c):
    p.stdin.write(c.encode() + b"\r\n"); p.stdin.flush()
    return reply()
print("greeting", reply())
print("helo", cmd("HELO app.example.com"))
for i, rcpt in enumerate(["bob@example.org", "reject@example.org", "carol@example.org"]):
    print("mail", cmd("MAIL FROM:<app@example.com>"))
    print("rcpt", cmd("RCPT TO:<%s>" % rcpt))
    print("data", cmd("DATA"))
    p.stdin.write(b"Subject: message %d\r\nTo: %s\r\n\r\n..dotted line\r\nbody\r\n.\r\n" % (i, rcpt.encode()))
    p.stdin.flush()
    print("eod", reply())
    if not print("rset", cmd("RSET")):
        pass
print("noop", cmd("NOOP"))
print("quit", cmd("QUIT"))
print("exit", p.wait())
PY
faults '[{"step":"rcpt","match":"reject@example.org","reply":"550 5.1.1 User unknown"}]'
"$PYTHON3" "$T/client.py" "$RELAYMAIL" --config "$T/conf" -bs -i > "$T/dialogue" 2>"$T/stderr"
d=$(cat "$T/dialogue")
like "$d" "greeting 220 " "220 greeting"
like "$d" "helo 250 " "HELO accepted"
is "$(grep -c '^eod 250 ' "$T/dialogue")" 2 "two of three messages relayed in one session"
like "$d" "eod 550 5\.1\.1 User unknown" "the relay's 5xx is passed back to the client"
like "$d" "quit 221" "QUIT answered with 221"
like "$d" "exit 0" "exit 0 after QUIT"
is "$(msg_count)" 2 "the relay got two messages"
is "$(json_field "$RELAY/messages/0002.json" rcpt_tos)" "carol@example.org" "third message went to its own recipient"
grep -q '^\.dotted line' "$RELAY/messages/0001.eml"; ok $? "dot-unstuffed by -bs, re-stuffed on the relay hop"
grep -q '^Message-ID: ' "$RELAY/messages/0001.eml"; ok $? "header fix-ups applied in -bs mode too"

# Temporary relay failure is passed on as 4xx.
faults '[{"step":"eod","reply":"451 4.3.0 Try later"}]'
"$PYTHON3" "$T/client.py" "$RELAYMAIL" --config "$T/conf" -bs > "$T/dialogue" 2>"$T/stderr"
like "$(cat "$T/dialogue")" "eod 451 4\.3\.0 Try later" "a 4xx at end of data is passed back"

# Never offers AUTH or STARTTLS.
out=$(printf 'EHLO x\r\nQUIT\r\n' | "$RELAYMAIL" --config "$T/conf" -bs)
! printf '%s' "$out" | grep -Eq 'AUTH|STARTTLS'; ok $? "EHLO offers neither AUTH nor STARTTLS"
out=$(printf 'STARTTLS\r\nAUTH PLAIN x\r\nQUIT\r\n' | "$RELAYMAIL" --config "$T/conf" -bs)
like "$out" "502 5\.5\.1" "STARTTLS and AUTH are refused"

# Bad configuration: a 421 greeting, not silence.
out=$(printf 'QUIT\r\n' | "$RELAYMAIL" --config "$T/nope" -bs 2>/dev/null)
like "$out" "^421 4\.3\.5" "configuration error gives a 421 greeting"

# Recipients on the command line are refused in -bs mode.
run_rm /dev/null --config "$T/conf" -bs bob@example.org
is "$RC" 64 "-bs with recipient arguments: exit 64"

# Other modes.
run_rm /dev/null -bp
is "$RC" 0 "-bp: exit 0"
like "$OUT" "Mail queue is empty" "-bp: says the queue is empty"
ln -s "$RELAYMAIL" "$T/mailq"; ln -s "$RELAYMAIL" "$T/newaliases"
"$T/mailq" > "$T/stdout"; is "$?" 0 "mailq by name: exit 0"
like "$(cat "$T/stdout")" "Mail queue is empty" "mailq by name lists the queue"
"$T/newaliases"; is "$?" 0 "newaliases by name: exit 0"
for m in -bd -bt -bv; do
	run_rm /dev/null $m
	is "$RC" 64 "$m refused with exit 64"
done
run_rm /dev/null -q
is "$RC" 0 "-q: exit 0"
run_rm /dev/null -q30m
is "$RC" 0 "-q30m: exit 0"

done_testing
