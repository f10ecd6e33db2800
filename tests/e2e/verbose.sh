#!/bin/bash
# -v shows the SMTP dialogue on stderr and never the secret, in any encoding.
. "$(dirname "$0")/lib.sh"

printf 'Subject: verbose\n\nbody\n' > "$T/m"
secret='Sup3r-Secret_pw'
printf '%s\n' "$secret" > "$T/vpw"; chmod 600 "$T/vpw"

# The password and its base64 forms: alone (AUTH LOGIN), PLAIN with and
# without authorization identity, and each without '=' padding.
forms() {  # PASSWORD: one per line
	local pw=$1 f
	for f in "$(b64 "%s" "$pw")" "$(b64 '\0alice\0%s' "$pw")" "$(b64 'alice\0alice\0%s' "$pw")"; do
		printf '%s\n%s\n' "$f" "${f%%=*}"
	done
	printf '%s\n' "$pw"
}
b64() { local fmt=$1; shift; printf "$fmt" "$@" | base64 -w0; }
leaks() {  # PASSWORD: the forms found in stdout or stderr (none: empty)
	local f
	while IFS= read -r f; do
		[ -n "$f" ] && grep -aqF -e "$f" "$T/stderr" "$T/stdout" && echo "found: $f"
	done < <(forms "$1")
	return 0
}

for mechs in PLAIN LOGIN; do
	start_relay --users "alice:$secret" --auth-mechs "$mechs"
	write_config "$T/conf" password_file="$T/vpw"
	run_rm "$T/m" --config "$T/conf" -v bob@example.org
	is "$RC" 0 "$mechs with -v: exit 0"
	is "$OUT" "" "$mechs with -v: stdout stays silent"
	commands | grep -q " AUTH $mechs"; ok $? "$mechs: the relay saw AUTH $mechs"
	like "$ERR" "EHLO example\.com" "$mechs: transcript shows EHLO"
	like "$ERR" "STARTTLS" "$mechs: transcript shows STARTTLS"
	like "$ERR" "MAIL FROM:<sender@example\.com>" "$mechs: transcript shows MAIL FROM"
	like "$ERR" "RCPT TO:<bob@example\.org>" "$mechs: transcript shows RCPT TO"
	like "$ERR" "(^|[^0-9])250[ -]" "$mechs: transcript shows replies"
	like "$ERR" "AUTH $mechs" "$mechs: transcript shows the AUTH command"
	like "$ERR" "<redacted>" "$mechs: AUTH payload shown as <redacted>"
	is "$(leaks "$secret")" "" "$mechs: neither the password nor its base64 forms in stdout or stderr"

	# A refused password must not leak either.
	printf 'Wr0ng-Secret_pw\n' > "$T/wrongpw"; chmod 600 "$T/wrongpw"
	write_config "$T/conf.wrong" password_file="$T/wrongpw"
	run_rm "$T/m" --config "$T/conf.wrong" -v bob@example.org
	is "$RC" 77 "$mechs, wrong password with -v: exit 77"
	is "$(leaks Wr0ng-Secret_pw)" "" "$mechs, wrong password: not shown in any form"
done

# Without -v nothing of the dialogue is shown.
write_config "$T/conf" password_file="$T/vpw"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$ERR" "" "without -v: stderr is empty"

# A hostile server cannot drive the terminal: control characters are escaped.
faults '[{"step":"mail","reply":"550 5.7.1 \u001b[31mred\u0007"}]'
run_rm "$T/m" --config "$T/conf" -v bob@example.org
! grep -aq $'\x1b' "$T/stderr"; ok $? "escape sequences from the server are not printed raw"
! grep -aq $'\x07' "$T/stderr"; ok $? "BEL from the server is not printed raw"

done_testing
