#!/bin/bash
# -v shows the SMTP dialogue on stderr and never the secret, in any encoding.
. "$(dirname "$0")/lib.sh"

printf 'Subject: verbose\n\nbody\n' > "$T/m"
secret=s3cret
b64_plain=$(printf '\0alice\0%s' "$secret" | base64 -w0)
b64_pass=$(printf '%s' "$secret" | base64 -w0)

for mechs in PLAIN LOGIN; do
	start_relay --auth-mechs "$mechs"
	write_config "$T/conf"
	run_rm "$T/m" --config "$T/conf" -v bob@example.org
	is "$RC" 0 "$mechs with -v: exit 0"
	is "$OUT" "" "$mechs with -v: stdout stays silent"
	like "$ERR" ">>> EHLO example.com" "$mechs: transcript shows EHLO"
	like "$ERR" ">>> MAIL FROM:<sender@example.com>" "$mechs: transcript shows MAIL FROM"
	like "$ERR" "<<< 250" "$mechs: transcript shows replies"
	like "$ERR" "<redacted>" "$mechs: AUTH payload redacted"
	! grep -aqF -e "$secret" -e "$b64_plain" -e "$b64_pass" "$T/stderr" "$T/stdout"; ok $? "$mechs: no secret bytes in stdout or stderr"
done

# A hostile server cannot drive the terminal: control characters are escaped.
faults '[{"step":"mail","reply":"550 5.7.1 \u001b[31mred\u0007"}]'
run_rm "$T/m" --config "$T/conf" -v bob@example.org
! grep -aq $'\x1b' "$T/stderr"; ok $? "escape sequences from the server are not printed raw"

done_testing
