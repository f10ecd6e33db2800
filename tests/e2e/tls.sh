#!/bin/bash
# TLS policy: certificates are verified, STARTTLS is required, nothing leaks.
. "$(dirname "$0")/lib.sh"

printf 'Subject: tls\n\nbody\n' > "$T/m"

no_auth_no_mail() {  # nothing but EHLO/STARTTLS reached the relay
	! commands | grep -Eq ' (AUTH|MAIL|RCPT|DATA)'
}

for cert in wrong untrusted expired; do
	start_relay --cert "$cert"
	write_config "$T/conf"
	run_rm "$T/m" --config "$T/conf" bob@example.org
	is "$RC" 77 "$cert certificate: exit 77"
	no_auth_no_mail; ok $? "$cert certificate: no AUTH and no MAIL sent"
	like "$ERR" "certificate" "$cert certificate: stderr says why"
	write_config "$T/conf" port="$IMPLICIT_PORT" tls=implicit
	run_rm "$T/m" --config "$T/conf" bob@example.org
	is "$RC" 77 "$cert certificate, implicit TLS: exit 77"
done

# The system store does not trust the test CA.
start_relay
write_config "$T/conf" tls_ca_file=
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 77 "test CA not in the system store: exit 77"

# tls_verify = no sends, with a warning on every use.
start_relay --cert untrusted
write_config "$T/conf" tls_verify=no
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "tls_verify = no: sent"
like "$ERR" "warning: tls_verify = no" "tls_verify = no: warning on stderr"

# A server that does not offer STARTTLS is refused (no downgrade).
start_relay
write_config "$T/conf" port="$PLAIN_PORT"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 77 "no STARTTLS offered: exit 77"
like "$ERR" "STARTTLS" "no STARTTLS offered: stderr names it"
no_auth_no_mail; ok $? "no STARTTLS offered: nothing sent"

# STARTTLS response injection is refused.
write_config "$T/conf"
faults '[{"step":"starttls","action":"inject"}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 76 "STARTTLS injection: exit 76"
like "$ERR" "injection" "STARTTLS injection: stderr says so"
no_auth_no_mail; ok $? "STARTTLS injection: nothing sent"
faults ''

# STARTTLS refused by the server.
faults '[{"step":"starttls","reply":"454 4.7.0 TLS not available"}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 75 "STARTTLS 454: exit 75"
faults '[{"step":"starttls","reply":"502 5.5.1 no"}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 77 "STARTTLS 502: exit 77"
faults ''

# AUTH is never attempted without TLS: user with tls = off is a config error.
write_config "$T/conf" port="$PLAIN_PORT" tls=off
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 78 "user with tls = off: exit 78"
! grep -q AUTH "$RELAY/commands.log" 2>/dev/null; ok $? "no AUTH ever sent in clear"

# A relay that offers no AUTH while the account has a user.
start_relay --auth-mechs NONE
write_config "$T/conf"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 77 "no usable AUTH mechanism: exit 77"

done_testing
