#!/bin/bash
# TLS policy: certificates are verified, STARTTLS is required, no downgrade,
# STARTTLS response injection is refused, and nothing is sent when TLS fails.
. "$(dirname "$0")/lib.sh"

printf 'Subject: tls\n\nbody\n' > "$T/m"

handshake_only() {  # NAME: commands.log holds nothing beyond EHLO/STARTTLS (and QUIT)
	only_verbs EHLO HELO STARTTLS QUIT
	ok $? "$1: nothing sent beyond EHLO/STARTTLS (no AUTH, no MAIL)" "commands.log:
$(commands)"
}
one_reason() {  # NAME REGEX: stderr starts with "relaymail: " and matches REGEX
	like "$ERR" "^relaymail: " "$1: error line starts with 'relaymail: '"
	like "$ERR" "$2" "$1: stderr says why"
}

# ---- bad certificates: STARTTLS and implicit TLS ---------------------------
for cert in wrong untrusted selfsigned expired; do
	start_relay --cert "$cert"
	write_config "$T/conf"
	run_rm "$T/m" --config "$T/conf" bob@example.org
	is "$RC" 77 "$cert certificate, STARTTLS: exit 77"
	handshake_only "$cert certificate, STARTTLS"
	one_reason "$cert certificate, STARTTLS" "(?i)certificate|verif|trust"
	is "$(msg_count)" 0 "$cert certificate, STARTTLS: no message"
	write_config "$T/conf" port="$IMPLICIT_PORT" tls=implicit
	run_rm "$T/m" --config "$T/conf" bob@example.org
	is "$RC" 77 "$cert certificate, implicit TLS: exit 77"
	handshake_only "$cert certificate, implicit TLS"
	is "$(msg_count)" 0 "$cert certificate, implicit TLS: no message"
done
# The expired and wrong-name cases must fail for their own reason.
start_relay --cert expired
write_config "$T/conf"
run_rm "$T/m" --config "$T/conf" bob@example.org
like "$ERR" "(?i)expired|not valid|validity" "expired certificate: stderr says it is expired"
start_relay --cert wrong
write_config "$T/conf"
run_rm "$T/m" --config "$T/conf" bob@example.org
like "$ERR" "(?i)name|host|match" "wrong-name certificate: stderr says the name does not match"

# ---- the good certificate, by name and by IP address -------------------------
start_relay
write_config "$T/conf"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "good certificate for localhost: sent"
write_config "$T/conf" host=127.0.0.1
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "host = 127.0.0.1 matches the certificate's IP address SAN"

# The system store does not trust the test CA.
write_config "$T/conf" tls_ca_file=
reset_log
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 77 "test CA not in the system store: exit 77"
handshake_only "test CA not in the system store"

# ---- tls_verify = no: sends, with a warning on every use -----------------------
start_relay --cert untrusted
write_config "$T/conf" tls_verify=no
for i in 1 2; do
	run_rm "$T/m" --config "$T/conf" bob@example.org
	is "$RC" 0 "tls_verify = no, run $i: sent"
	like "$ERR" "(?i)warn.*tls_verify|tls_verify.*warn|tls_verify = no" "tls_verify = no, run $i: warning on stderr"
done
is "$(msg_count)" 2 "tls_verify = no: both messages arrived"
is "$(json_field "$(last_json)" tls)" "True" "tls_verify = no: still encrypted"
run_rm "$T/m" --config "$T/conf" -v bob@example.org
like "$ERR" "(?i)warn.*tls_verify|tls_verify.*warn|tls_verify = no" "tls_verify = no with -v: warning on stderr"

# ---- STARTTLS required -------------------------------------------------------
# A server that does not offer STARTTLS is refused (no downgrade), with tls =
# starttls and with the default (no tls key).
start_relay
for how in "tls=starttls" "tls="; do
	write_config "$T/conf" port="$PLAIN_PORT" "$how"
	reset_log
	run_rm "$T/m" --config "$T/conf" bob@example.org
	is "$RC" 77 "no STARTTLS offered ($how): exit 77"
	like "$ERR" "STARTTLS" "no STARTTLS offered ($how): stderr names STARTTLS"
	only_verbs EHLO HELO QUIT
	ok $? "no STARTTLS offered ($how): nothing sent after EHLO" "$(commands)"
done
is "$(msg_count)" 0 "no STARTTLS offered: no message"

# STARTTLS response injection: "250 injected" arrives in the same packet as the
# 220, before the handshake (the relay then does the handshake as usual).
write_config "$T/conf"
reset_log
faults '[{"step":"starttls","action":"inject"}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
case $RC in 76|77) ok 0 "STARTTLS injection: refused with 76 or 77 (got $RC)" ;;
*) not_ok "STARTTLS injection: refused with 76 or 77" "got exit $RC; stderr: $ERR" ;; esac
handshake_only "STARTTLS injection"
like "$ERR" "^relaymail: .*(STARTTLS|TLS)" "STARTTLS injection: stderr names STARTTLS/TLS"
is "$(msg_count)" 0 "STARTTLS injection: no message"
faults ''

# STARTTLS refused by the server (queue = no: a temporary failure is exit 75).
write_config "$T/conf" queue=no
faults '[{"step":"starttls","reply":"454 4.7.0 TLS not available due to temporary reason"}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 75 "STARTTLS answered 454: exit 75"
like "$ERR" "454 4\.7\.0 TLS not available" "STARTTLS 454: the server's reply is quoted"
faults '[{"step":"starttls","reply":"502 5.5.1 not implemented"}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 77 "STARTTLS answered 502: exit 77 (TLS refused)"
faults ''
is "$(msg_count)" 0 "STARTTLS refused: no message"
only_verbs EHLO HELO STARTTLS QUIT; ok $? "STARTTLS refused: no AUTH or MAIL ever sent in clear" "$(commands)"

# A user with tls = off would send the password in clear: refused.
write_config "$T/conf" port="$PLAIN_PORT" tls=off
reset_log
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 78 "user with tls = off: exit 78"
! commands | grep -q ' AUTH'; ok $? "no AUTH ever sent in clear"

# A relay that offers no AUTH while the account has a user.
start_relay --auth-mechs NONE
write_config "$T/conf"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 77 "no usable AUTH mechanism: exit 77"
! commands | grep -q ' MAIL'; ok $? "no usable AUTH mechanism: MAIL not sent"

# TLS session resumption: the second connection resumes the first one's
# session (cached per user, account and relay, mode 0600); off with
# tls_session_cache = no.
start_relay
write_config "$T/res.conf" queue=no
printf 'Subject: resume\n\nbody\n' > "$T/res.m"
run_rm "$T/res.m" --config "$T/res.conf" -v bob@example.org
unlike "$ERR" "resumed" "first connection: a full handshake"
run_rm "$T/res.m" --config "$T/res.conf" -v bob@example.org
like "$ERR" "TLS1\.[23] .* resumed" "second connection: the session is resumed"
is "$RC" 0 "resumed session: sent"
cache=$(ls "$HOME"/.cache/relaymail/*.tls 2>/dev/null | head -1)
is "$(stat -c %a "$cache" 2>/dev/null)" 600 "the session cache file is private (0600)"
write_config "$T/res.conf" queue=no tls_session_cache=no
rm -f "$HOME"/.cache/relaymail/*.tls
run_rm "$T/res.m" --config "$T/res.conf" -v bob@example.org
run_rm "$T/res.m" --config "$T/res.conf" -v bob@example.org
unlike "$ERR" "resumed" "tls_session_cache = no: never resumed"
is "$(ls "$HOME"/.cache/relaymail/*.tls 2>/dev/null | wc -l)" 0 "tls_session_cache = no: nothing cached"
write_config "$T/res.conf" queue=no tls_verify=no
run_rm "$T/res.m" --config "$T/res.conf" bob@example.org
is "$(ls "$HOME"/.cache/relaymail/*.tls 2>/dev/null | wc -l)" 0 "tls_verify = no: sessions are not cached"

done_testing
