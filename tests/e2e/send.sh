#!/bin/bash
# Submission over STARTTLS and implicit TLS with AUTH; what arrives, byte for byte.
. "$(dirname "$0")/lib.sh"

start_relay
write_config "$T/conf"

# A message that already has Date, Message-ID and From arrives unchanged but for CRLF.
printf 'From: Alice <alice@example.com>\nTo: bob@example.org\nDate: Sat, 28 Nov 2026 10:00:00 +0000\nMessage-ID: <fixed@example.com>\nSubject: hello\n\nline one\n.leading dot\n..two dots\nlast line\n' > "$T/m1"
run_rm "$T/m1" --config "$T/conf" -i bob@example.org
is "$RC" 0 "STARTTLS + AUTH: exit 0"
is "$OUT" "" "nothing on stdout on success"
is "$ERR" "" "nothing on stderr on success"
sed 's/$/\r/' "$T/m1" > "$T/m1.crlf"
cmp -s "$(last_eml)" "$T/m1.crlf"; ok $? "content arrives byte-exact with CRLF line ends"
is "$(json_field "$(last_json)" mail_from)" "sender@example.com" "envelope sender from the account's from"
is "$(json_field "$(last_json)" rcpt_tos)" "bob@example.org" "envelope recipient"
is "$(json_field "$(last_json)" tls)" "True" "sent inside TLS"
is "$(json_field "$(last_json)" auth_mechanism)" "PLAIN" "AUTH PLAIN preferred"
is "$(json_field "$(last_json)" auth_user)" "alice" "authenticated as the configured user"
is "$(json_field "$(last_json)" ehlo_name)" "example.com" "EHLO with the account's domain"
like "$(json_field "$(last_json)" mail_options)" "SIZE=" "SIZE declared on MAIL FROM"

# CRLF input stays CRLF (no CR CR LF).
run_rm "$T/m1.crlf" --config "$T/conf" -i bob@example.org
cmp -s "$(last_eml)" "$T/m1.crlf"; ok $? "CRLF input is not doubled to CR CR LF"

# -f, and missing headers are added.
printf 'Subject: no headers of its own\n\nbody\n' > "$T/m2"
run_rm "$T/m2" --config "$T/conf" -f "<ops@example.com>" carol@example.org
is "$RC" 0 "-f with brackets: exit 0"
is "$(json_field "$(last_json)" mail_from)" "ops@example.com" "-f sets the envelope sender, brackets stripped"
eml=$(cat "$(last_eml)")
like "$eml" $'Date: [A-Z][a-z]{2}, [0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}\r' "Date added in RFC 5322 format"
like "$eml" $'Message-ID: <[0-9]{14}\\.[0-9a-f]{24}@example\\.com>\r' "Message-ID added with the account's domain"
like "$eml" 'From: .*<ops@example\.com>' "From added from the envelope sender"

# -F names the From only when relaymail builds it.
run_rm "$T/m2" --config "$T/conf" -F "Cron Daemon" -f ops@example.com carol@example.org
like "$(cat "$(last_eml)")" 'From: "Cron Daemon" <ops@example\.com>' "-F gives the display name of an added From"
run_rm "$T/m1" --config "$T/conf" -F "Ignored Name" bob@example.org
grep -q 'Ignored Name' "$(last_eml)"; ok $((! $?)) "-F does not touch an existing From"

# -t: To/Cc/Bcc with display names, groups and comments; Bcc is not transmitted.
printf 'From: a@example.com\nTo: "Bob B." <bob@example.org>, team: carol@example.org (Carol),\n dave@example.org;\nCc: Eve <eve@example.org>\nBcc: hidden@example.org\nSubject: t\n\nx\n' > "$T/m3"
run_rm "$T/m3" --config "$T/conf" -t bob@example.org
is "$RC" 0 "-t: exit 0"
is "$(json_field "$(last_json)" rcpt_tos)" "bob@example.org carol@example.org dave@example.org eve@example.org hidden@example.org" "-t: union with arguments, duplicates removed"
grep -qi '^Bcc:' "$(last_eml)"; ok $((! $?)) "Bcc header is not transmitted"
grep -q 'hidden@example.org' "$(last_eml)"; ok $((! $?)) "the blind recipient does not appear in the content"

# Without -t, Bcc is still removed (BSD mail writes it).
run_rm "$T/m3" --config "$T/conf" bob@example.org
grep -qi '^Bcc:' "$(last_eml)"; ok $((! $?)) "Bcc removed without -t too"
is "$(json_field "$(last_json)" rcpt_tos)" "bob@example.org" "without -t only argument recipients"

# A lone dot ends the input without -i, and is content with -i.
printf 'Subject: dots\n\nbefore\n.\nafter\n' > "$T/m4"
run_rm "$T/m4" --config "$T/conf" bob@example.org
grep -q after "$(last_eml)"; ok $((! $?)) "without -i a lone dot ends the message"
run_rm "$T/m4" --config "$T/conf" -oi bob@example.org
grep -q after "$(last_eml)"; ok $? "with -oi a lone dot is content"
tail -c 9 "$(last_eml)" | grep -q 'after'; ok $? "with -oi the content after the dot arrives"

# Comma lists inside one argument; bundled flags.
run_rm "$T/m2" --config "$T/conf" -ti "x@example.org, y@example.org"
is "$(json_field "$(last_json)" rcpt_tos)" "x@example.org y@example.org" "a comma list in one argument gives two recipients"

# AUTH LOGIN when only LOGIN is offered.
start_relay --auth-mechs LOGIN
write_config "$T/conf"
run_rm "$T/m1" --config "$T/conf" bob@example.org
is "$RC" 0 "AUTH LOGIN: exit 0"
is "$(json_field "$(last_json)" auth_mechanism)" "LOGIN" "AUTH LOGIN used when PLAIN is not offered"

# Implicit TLS (port of the implicit listener, tls = implicit).
write_config "$T/conf" port="$IMPLICIT_PORT" tls=implicit
run_rm "$T/m1" --config "$T/conf" bob@example.org
is "$RC" 0 "implicit TLS: exit 0"
is "$(json_field "$(last_json)" listener)" "implicit" "implicit TLS listener used"
like "$(json_field "$(last_json)" tls_version)" "TLSv1\.[23]" "TLS 1.2 or 1.3"

# Without TLS and without AUTH to the plain listener (tls = off).
write_config "$T/conf" port="$PLAIN_PORT" tls=off user= password_file=
run_rm "$T/m1" --config "$T/conf" bob@example.org
is "$RC" 0 "tls = off without user: exit 0"
is "$(json_field "$(last_json)" tls)" "False" "plain connection when tls = off"

# No pipelining: still works, one command at a time.
start_relay --no-pipelining
write_config "$T/conf"
run_rm "$T/m1" --config "$T/conf" bob@example.org c2@example.org
is "$RC" 0 "server without PIPELINING: exit 0"
is "$(json_field "$(last_json)" rcpt_tos)" "bob@example.org c2@example.org" "both recipients without PIPELINING"

# RELAYMAIL_CONFIG names the file like --config.
RELAYMAIL_CONFIG=$T/conf run_rm "$T/m1" bob@example.org
is "$RC" 0 "RELAYMAIL_CONFIG is honoured"

# 8-bit content gets BODY=8BITMIME.
printf 'Subject: caf\xc3\xa9\n\nna\xc3\xafve\n' > "$T/m5"
run_rm "$T/m5" --config "$T/conf" bob@example.org
like "$(json_field "$(last_json)" mail_options)" "BODY=8BITMIME" "8-bit content is declared with BODY=8BITMIME"

done_testing
