#!/bin/bash
# Provider hints on real replies from the test relay.
. "$(dirname "$0")/lib.sh"

start_relay --users apikey:SG.key
printf 'Subject: hint\n\nbody\n' > "$T/m"

# SendGrid with a user other than apikey: 535 plus one line of advice.
write_config "$T/conf" queue=no provider=sendgrid host=localhost
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 77 "SendGrid preset with user alice: 535 gives exit 77"
like "$ERR" "hint: SendGrid's SMTP user name is literally 'apikey'" "SendGrid: the apikey hint"
printf 'SG.key\n' > "$T/key"; chmod 600 "$T/key"
write_config "$T/conf" queue=no provider=sendgrid host=localhost user= password_file="$T/key"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "SendGrid preset supplies user apikey"
is "$(json_field "$(last_json)" auth_user)" "apikey" "authenticated as apikey"

# SES: unverified sender.
start_relay
write_config "$T/conf" queue=no provider=ses host=localhost
faults '[{"step":"eod","reply":"554 Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: sender@example.com"}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 69 "SES unverified sender: exit 69"
like "$ERR" "hint: Amazon SES accepts only verified senders" "SES: the verification hint"

# Gmail: application password.
write_config "$T/conf" queue=no provider=gmail host=localhost
faults '[{"step":"auth","reply":"534-5.7.9 Application-specific password required.\n534 5.7.9 Learn more"}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
like "$ERR" "hint: Gmail requires an app password" "Gmail 534 5.7.9: the app password hint"

# Microsoft 365: SMTP AUTH disabled.
write_config "$T/conf" queue=no provider=office365 host=localhost
faults '[{"step":"auth","reply":"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant."}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
like "$ERR" "hint: SMTP AUTH is disabled for this Microsoft 365" "Microsoft 365 5.7.139: the SMTP AUTH hint"

# Any relay: sender not allowed.
write_config "$T/conf" queue=no
faults '[{"step":"mail","reply":"550 5.7.1 Sender address not allowed"}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
like "$ERR" "hint: the relay does not accept this sender" "550 sender not allowed: the from_policy hint"
faults ''

# An unknown provider is a configuration error with file:line.
write_config "$T/conf" provider=nosuch
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 78 "unknown provider: exit 78"
like "$ERR" "unknown provider 'nosuch'" "unknown provider: said so"

done_testing
