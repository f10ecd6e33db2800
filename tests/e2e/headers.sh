#!/bin/bash
# Message semantics of a drop-in sendmail: aliases, qualification, From
# policy, removed and added headers, odd message shapes, DSN and 8BITMIME.
. "$(dirname "$0")/lib.sh"

start_relay --dsn
write_config "$T/conf" from=
printf '\n[aliases]\nroot = ops@example.com, oncall@example.com\npostmaster = root\nwww-data = web@example.com\n' >> "$T/conf"

# Bare names in the envelope: aliases, then qualification with domain.
printf 'Subject: x\n\nbody\n' > "$T/m"
run_rm "$T/m" --config "$T/conf" -f fail2ban root alice
is "$RC" 0 "bare names: exit 0"
is "$(json_field "$(last_json)" rcpt_tos)" "ops@example.com oncall@example.com alice@example.com" "root expands through [aliases], alice is qualified"
is "$(json_field "$(last_json)" mail_from)" "fail2ban@example.com" "bare -f is qualified with the account's domain"
run_rm "$T/m" --config "$T/conf" postmaster
is "$(json_field "$(last_json)" rcpt_tos)" "ops@example.com oncall@example.com" "an alias to an alias is followed"
run_rm "$T/m" --config "$T/conf" -f www-data bob@example.org
is "$(json_field "$(last_json)" mail_from)" "web@example.com" "a bare sender goes through [aliases]"

# Bare names in the headers (cron, logwatch, mdadm shapes).
printf 'From: root (Cron Daemon)\nTo: root\nCc: "Admin" <alice>\nReply-To: Logwatch\nSubject: cron\n\nbody\n' > "$T/cron"
run_rm "$T/cron" --config "$T/conf" -t
eml=$(tr -d '\r' < "$(last_eml)")
like "$eml" $'\nFrom: ops@example.com \\(Cron Daemon\\)' "From: bare name mapped through aliases, comment kept"
like "$eml" $'\nTo: ops@example.com, oncall@example.com\n' "To: alias expanded to its list"
like "$eml" $'\nCc: "Admin" <alice@example.com>' "Cc: display name kept, address qualified"
like "$eml" $'\nReply-To: Logwatch@example.com' "Reply-To: qualified"
is "$(json_field "$(last_json)" rcpt_tos)" "ops@example.com oncall@example.com alice@example.com" "-t recipients resolved the same way"

# from_policy: From must be the relay's verified sender.
write_config "$T/conf2" from=noreply@example.com from_policy=always
run_rm "$T/cron" --config "$T/conf2" -t
eml=$(tr -d '\r' < "$(last_eml)")
like "$eml" $'\nFrom: ".*root@example.com.*" <noreply@example.com>' "from_policy = always: From is the account's sender"
write_config "$T/conf2" from=noreply@example.com from_policy=rewrite_unqualified
printf 'From: "Web App" <app@example.net>\nTo: bob@example.org\nSubject: x\n\nbody\n' > "$T/app"
run_rm "$T/app" --config "$T/conf2" -t
like "$(tr -d '\r' < "$(last_eml)")" $'\nFrom: "Web App" <app@example.net>' "rewrite_unqualified keeps a qualified From"
printf 'From: mdadm monitoring <root>\nTo: bob@example.org\nSubject: x\n\nbody\n' > "$T/md"
run_rm "$T/md" --config "$T/conf2" -t
eml=$(tr -d '\r' < "$(last_eml)")
like "$eml" $'\nFrom: "mdadm monitoring \\(root@example.com\\)" <noreply@example.com>' "rewrite_unqualified rewrites a bare From, keeping the name"
like "$eml" $'\nReply-To: root@example.com' "the original address moves to Reply-To"

# Headers removed whatever the options.
printf 'Return-Path: <x@y>\nContent-Length: 4\nResent-Bcc: r@example.org\nBcc: b@example.org\nTo: t@example.org\nSubject: x\n\nbody\n' > "$T/drop"
run_rm "$T/drop" --config "$T/conf" t@example.org
! grep -Eiq '^(Return-Path|Content-Length|Bcc|Resent-Bcc):' "$(last_eml)"; ok $? "Return-Path, Content-Length, Bcc and Resent-Bcc are not transmitted"

# Resent- headers: -t takes only the Resent- recipients.
printf 'From: a@example.com\nTo: original@example.org\nResent-From: b@example.com\nResent-To: new@example.org\nSubject: fwd\n\nbody\n' > "$T/resent"
run_rm "$T/resent" --config "$T/conf" -t
is "$(json_field "$(last_json)" rcpt_tos)" "new@example.org" "-t with Resent- headers uses only Resent-To/Cc/Bcc"

# Message shapes.
: > "$T/empty"
run_rm "$T/empty" --config "$T/conf" bob@example.org
is "$RC" 0 "empty stdin: sent"
grep -q '^Date: ' "$(last_eml)"; ok $? "empty stdin: headers added"
printf 'Subject: only headers\nTo: bob@example.org' > "$T/honly"
run_rm "$T/honly" --config "$T/conf" -t
is "$RC" 0 "headers only, no final newline: sent"
grep -q '^To: bob@example.org' "$(last_eml)"; ok $? "headers only: the To header arrives"
printf 'just a body line\nsecond: line\n' > "$T/noh"
run_rm "$T/noh" --config "$T/conf" bob@example.org
tr -d '\r' < "$(last_eml)" | sed -n '/^$/,$p' | grep -q '^just a body line'; ok $? "no headers: the whole input is the body"
printf 'From someone@example.com Sat Nov 28 10:00:00 2026\nSubject: mbox\n\nbody\n' > "$T/mbox"
run_rm "$T/mbox" --config "$T/conf" bob@example.org
! grep -q '^From someone' "$(last_eml)"; ok $? "a leading mbox From line is dropped"
grep -q '^Subject: mbox' "$(last_eml)"; ok $? "the headers after the mbox line are kept"

# Header lines over 998 characters are folded, not truncated.
long=$(printf 'word%.0s ' $(seq 300))
printf 'Subject: %s\nTo: bob@example.org\n\nbody\n' "$long" > "$T/long"
run_rm "$T/long" --config "$T/conf" bob@example.org
awk '{ if (length($0) > 1000) bad = 1 } END { exit bad }' "$(last_eml)"; ok $? "no line over 998 characters on the wire"
is "$(tr -d '\r' < "$(last_eml)" | awk '/^Subject:/{f=1} f&&/^[A-Z]/&&!/^Subject:/{f=0} f' | tr -d '\n ' | wc -c)" "$(printf 'Subject:%s' "$long" | tr -d ' ' | wc -c)" "the folded Subject keeps every character"

# NUL bytes are refused.
printf 'Subject: nul\n\nbad\0byte\n' > "$T/nul"
run_rm "$T/nul" --config "$T/conf" bob@example.org
is "$RC" 65 "NUL byte: exit 65"

# DSN parameters when the relay offers DSN; -B 8BITMIME.
run_rm "$T/m" --config "$T/conf" -N success,failure -R hdrs -V abc+1 -B 8BITMIME bob@example.org
is "$RC" 0 "-N -R -V -B: exit 0"
opts=$(json_field "$(last_json)" mail_options)
like "$opts" "RET=HDRS" "-R becomes RET="
like "$opts" "ENVID=abc\+2B1" "-V becomes ENVID= in xtext"
like "$opts" "BODY=8BITMIME" "-B 8BITMIME becomes BODY=8BITMIME"
like "$(json_field "$(last_json)" rcpt_options)" "NOTIFY=success,failure" "-N becomes NOTIFY="
run_rm "$T/m" --config "$T/conf" -N bogus bob@example.org
is "$RC" 64 "invalid -N: exit 64"
start_relay
write_config "$T/conf" from=
run_rm "$T/m" --config "$T/conf" -N never bob@example.org
is "$RC" 0 "-N without DSN at the relay: still sent"
like "$ERR" "does not offer DSN" "-N without DSN: warning"

# 8-bit header text: Subject is RFC 2047-encoded; a UTF-8 display name in a
# structured header goes with SMTPUTF8 (offered by the test relay), or
# RFC 2047-encoded without it (tests/e2e/text.sh).
printf 'From: Ren\xc3\xa9e <renee@example.com>\nSubject: Caf\xc3\xa9 cr\xc3\xa8me\n\nbody\n' > "$T/utf8"
run_rm "$T/utf8" --config "$T/conf" bob@example.org
is "$RC" 0 "UTF-8 headers: exit 0"
grep -q '^Subject: =?UTF-8?B?Q2Fmw6kgY3LDqG1l?=' "$(last_eml)"; ok $? "UTF-8 Subject is RFC 2047-encoded"
like "$(json_field "$(last_json)" mail_options)" "SMTPUTF8" "UTF-8 in From: SMTPUTF8 requested"
run_rm "$T/utf8" --config "$T/conf" -O smtputf8=no bob@example.org
is "$RC" 0 "UTF-8 in From with -O smtputf8=no: sent"
grep -q '^From: =?UTF-8?B?UmVuw6ll?= <renee@example.com>' "$(last_eml)"; ok $? "-O smtputf8=no: the display name is RFC 2047-encoded"
printf 'Subject: s\n\nbody\n' > "$T/plain"
run_rm "$T/plain" --config "$T/conf" -O smtputf8=no $'j\xc3\xb6rg@example.org'
is "$RC" 65 "UTF-8 recipient with -O smtputf8=no: exit 65"
run_rm "$T/plain" --config "$T/conf" $'j\xc3\xb6rg@example.org'
like "$(json_field "$(last_json)" mail_options)" "SMTPUTF8" "UTF-8 recipient: SMTPUTF8 requested"
printf 'Subject: \xe9t\xe9\n\nbody\n' > "$T/latin1"
run_rm "$T/latin1" --config "$T/conf" bob@example.org
grep -q '^Subject: =?UNKNOWN-8BIT?B?' "$(last_eml)"; ok $? "invalid UTF-8 in Subject is declared UNKNOWN-8BIT"

# Error modes.
faults '[{"step":"mail","reply":"550 5.7.1 no"}]'
run_rm "$T/m" --config "$T/conf" -oeq bob@example.org
is "$RC" 69 "-oeq: exit status still reports the failure"
is "$ERR" "" "-oeq: stderr stays quiet"
run_rm "$T/m" --config "$T/conf" -oee bob@example.org
is "$RC" 0 "-oee: exit 0 (BerkNet)"
faults ''

done_testing
