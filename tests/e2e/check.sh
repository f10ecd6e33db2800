#!/bin/bash
# relaymail --check against the test relay and a loopback DNS server.
. "$(dirname "$0")/lib.sh"

start_relay
mkdir -p "$T/dns"
"$PYTHON3" "$top_srcdir/tests/relay/dns.py" --dir "$T/dns" 2>"$T/dns.err" &
_pids="$_pids $!"
for _ in $(seq 100); do [ -f "$T/dns/port" ] && break; sleep 0.05; done
export RELAYMAIL_DNS_SERVER="127.0.0.1@$(cat "$T/dns/port")"
# The "other standard ports" are the relay's other listeners here.
export RELAYMAIL_CHECK_PORTS="$IMPLICIT_PORT,$PLAIN_PORT"
zone() { printf '%s' "$1" > "$T/dns/zone.json"; }
check() { run_rm /dev/null --config "$T/conf" --check; }

# A healthy set-up.
zone '{"example.com.": ["v=spf1 include:sendgrid.net ~all"], "_dmarc.example.com.": ["v=DMARC1; p=quarantine; rua=mailto:d@example.com"], "s1._domainkey.example.com.": ["v=DKIM1; k=rsa; p=MIGfMA0GCSq"]}'
write_config "$T/conf" provider=sendgrid host=localhost dkim_selector=s1
check
is "$RC" 0 "healthy: exit 0"
like "$OUT" "PASS +configuration: account 'test'" "healthy: configuration"
like "$OUT" "provider +=.*sendgrid" "healthy: every key with its value"
like "$OUT" "password_file += .*\\(.*conf:[0-9]+\\)" "healthy: keys name file:line"
like "$OUT" "tls_verify += yes +\\(default\\)" "healthy: defaults say so"
like "$OUT" "PASS +password from: password_file" "healthy: where the secret comes from"
! grep -q s3cret "$T/stdout" "$T/stderr"; ok $? "healthy: the secret is never printed"
like "$OUT" "PASS +relay host localhost resolves to" "healthy: DNS of the relay"
like "$OUT" "PASS +port [0-9]+ of localhost is reachable" "healthy: TCP reachability"
like "$OUT" "PASS +TLS: TLS1\\.[23] .*certificate verified" "healthy: TLS version, cipher, verification"
like "$OUT" "subject: CN=localhost" "healthy: certificate subject"
like "$OUT" "issuer: +CN=relaymail test CA" "healthy: certificate issuer"
like "$OUT" "expires in [0-9]+ days" "healthy: certificate expiry"
like "$OUT" "PASS +EHLO: .*PIPELINING" "healthy: EHLO capabilities"
like "$OUT" "PASS +AUTH PLAIN as alice accepted" "healthy: AUTH"
like "$OUT" "PASS +SPF of example.com: .*include:sendgrid.net" "healthy: SPF authorizes the provider"
like "$OUT" "PASS +DMARC of example.com: .*p=quarantine" "healthy: DMARC policy"
like "$OUT" "PASS +DKIM key s1._domainkey.example.com found" "healthy: DKIM selector"
like "$OUT" "0 failed" "healthy: summary"
is "$(msg_count)" 0 "--check sends no mail"
commands | grep -q ' QUIT'; ok $? "--check ends with QUIT"
! commands | grep -Eq ' (MAIL|DATA|BDAT)'; ok $? "--check never starts a transaction"

# The configured port is blocked, another one works.
write_config "$T/conf" provider=sendgrid host=localhost port=1
check
[ "$RC" -ne 0 ]; ok $? "blocked port: non-zero exit"
like "$OUT" "FAIL +port 1 of localhost is not reachable" "blocked port: said so"
like "$OUT" "FAIL +port 1 is blocked .* but [0-9]+ works: set port = [0-9]+" "blocked port: names the port that works"

# An expired certificate.
start_relay --cert expired
export RELAYMAIL_CHECK_PORTS="$IMPLICIT_PORT,$PLAIN_PORT"
write_config "$T/conf" provider=sendgrid host=localhost
check
[ "$RC" -ne 0 ]; ok $? "expired certificate: non-zero exit"
like "$OUT" "FAIL .*certificate.*(expired|not trusted)" "expired certificate: said so"

# A certificate that expires soon is a warning.
start_relay
export RELAYMAIL_CHECK_PORTS="$IMPLICIT_PORT,$PLAIN_PORT"
( cd "$CERTS" && printf 'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\ntls_www_server\nexpiration_days = 5\n' > soon.tmpl &&
  certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile soon.key 2>/dev/null &&
  certtool --generate-certificate --load-privkey soon.key --load-ca-certificate ca.pem --load-ca-privkey ca.key --template soon.tmpl --outfile soon.pem 2>/dev/null )
start_relay --cert soon
export RELAYMAIL_CHECK_PORTS="$IMPLICIT_PORT,$PLAIN_PORT"
write_config "$T/conf" provider=sendgrid host=localhost
check
like "$OUT" "WARN +the relay's certificate expires in [0-9] days" "certificate expiring within 14 days: warning"
is "$RC" 0 "expiring certificate alone: still exit 0"

# Bad credentials.
printf 'wrong\n' > "$T/badpw"; chmod 600 "$T/badpw"
write_config "$T/conf" provider=sendgrid host=localhost password_file="$T/badpw"
check
[ "$RC" -ne 0 ]; ok $? "bad credentials: non-zero exit"
like "$OUT" "FAIL +AUTH: the server replied: 535" "bad credentials: the AUTH failure"
like "$OUT" "hint: SendGrid's SMTP user name is literally 'apikey'" "bad credentials: the provider hint"

# SPF without the provider's include, and no DMARC record.
zone '{"example.com.": ["v=spf1 mx -all"]}'
write_config "$T/conf" provider=sendgrid host=localhost
check
like "$OUT" "WARN +SPF of example.com does not authorize sendgrid \\(add include:sendgrid.net\\)" "SPF without the include: warning"
like "$OUT" "WARN +example.com has no DMARC record" "no DMARC record: warning"
is "$RC" 0 "SPF/DMARC problems alone do not stop sending: exit 0"
zone '{}'
check
like "$OUT" "WARN +example.com has no SPF record" "no SPF record: warning"

# A configuration error.
printf '[account test]\nport = 587\n' > "$T/bad"; chmod 600 "$T/bad"
run_rm /dev/null --config "$T/bad" --check
[ "$RC" -ne 0 ]; ok $? "broken configuration: non-zero exit"
like "$OUT" "FAIL +configuration: .*bad:1: account 'test' has no host" "broken configuration: file:line"

done_testing
