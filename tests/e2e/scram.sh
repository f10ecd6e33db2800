#!/bin/bash
# SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (tls-exporter channel binding) and
# CRAM-MD5 against the test relay (issue 12 item 6): which mechanism is
# chosen, a relay that fakes the server signature or answers an error is
# refused before anything is sent, a wrong password, a hostile iteration
# count, and that -v never shows the password or the proof.
. "$(dirname "$0")/lib.sh"

printf 'Subject: scram\n\nhello\n' > "$T/msg"

# relay offering MECHS, account with auth = AUTH; run and keep commands.log.
try_auth() {  # MECHS AUTH [relay args...] -- [relaymail args...]
	local mechs=$1 auth=$2; shift 2
	local -a rargs=() margs=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do rargs+=("$1"); shift; done
	[ "${1:-}" = "--" ] && shift
	margs=("$@")
	start_relay --auth-mechs "$mechs" "${rargs[@]}"
	write_config "$T/conf" auth="$auth"
	run_rm "$T/msg" --config "$T/conf" "${margs[@]}" bob@example.org
}

try_auth SCRAM-SHA-256-PLUS,SCRAM-SHA-256,PLAIN scram-sha-256 -- -v
is "$RC" 0 "scram-sha-256 with -PLUS offered: sent" "$ERR"
like "$(commands)" "AUTH SCRAM-SHA-256-PLUS" "channel binding is used when offered"
like "$(commands)" "AUTH-RESULT SCRAM-SHA-256-PLUS ok user=alice cb=tls-exporter" "tls-exporter binding verified by the relay"
unlike "$ERR" "s3cret" "-v does not show the password"
unlike "$ERR" "p=[A-Za-z0-9+/=]{20}" "-v does not show the proof"
like "$ERR" "<redacted>" "-v shows the SCRAM responses redacted"
is "$(msg_count)" 1 "the message arrived"

try_auth SCRAM-SHA-256,PLAIN scram-sha-256
is "$RC" 0 "scram-sha-256 without -PLUS: sent" "$ERR"
like "$(commands)" "AUTH-RESULT SCRAM-SHA-256 ok user=alice cb=none" "plain SCRAM-SHA-256"

try_auth SCRAM-SHA-256-PLUS,SCRAM-SHA-256 scram-sha-256-plus
is "$RC" 0 "auth = scram-sha-256-plus: sent"
like "$(commands)" "AUTH-RESULT SCRAM-SHA-256-PLUS ok" "-PLUS used"

try_auth SCRAM-SHA-256,PLAIN scram-sha-256-plus
is "$RC" 77 "auth = scram-sha-256-plus, relay without -PLUS: exit 77"
like "$ERR" "no usable AUTH mechanism" "says so"
is "$(commands | grep -c ' MAIL ')" 0 "nothing sent"

try_auth SCRAM-SHA-256-PLUS,SCRAM-SHA-256,PLAIN auto
is "$RC" 0 "auth = auto with SCRAM and PLAIN offered: sent"
like "$(commands)" "AUTH-RESULT PLAIN ok" "auto keeps PLAIN (SCRAM only when named)"

# The relay does not know the password: a faked server signature.
try_auth SCRAM-SHA-256-PLUS,SCRAM-SHA-256 scram-sha-256 --scram-fake-signature
is "$RC" 77 "faked server signature: exit 77"
like "$ERR" "SCRAM" "the error names SCRAM"
like "$(commands)" "client-answer aborted" "the client cancels the exchange with '*'"
is "$(commands | grep -c ' MAIL ')" 0 "no MAIL to an impostor"
is "$(msg_count)" 0 "nothing arrived"

try_auth SCRAM-SHA-256 scram-sha-256 --scram-server-error
is "$RC" 77 "server-final e=: exit 77"
like "$ERR" "other-error" "the server's error is quoted"

try_auth SCRAM-SHA-256-PLUS,SCRAM-SHA-256 scram-sha-256 --users alice:other-password
is "$RC" 77 "wrong password: exit 77"
like "$(commands)" "bad-proof" "the relay refused the proof"

try_auth SCRAM-SHA-256 scram-sha-256 --scram-iterations 2000000
is "$RC" 77 "an iteration count over the bound: exit 77"
like "$ERR" "iteration" "says the iteration count is refused"

try_auth SCRAM-SHA-256 scram-sha-256 --scram-iterations 1000
is "$RC" 77 "an iteration count under 4096: exit 77"

# Through the queue's session code too (one session, several messages).
start_relay --auth-mechs SCRAM-SHA-256-PLUS
write_config "$T/conf" auth=scram-sha-256 queue_dir=$T/q
stop_relay
run_rm "$T/msg" --config "$T/conf" bob@example.org
run_rm "$T/msg" --config "$T/conf" carol@example.org
start_relay --auth-mechs SCRAM-SHA-256-PLUS
write_config "$T/conf" auth=scram-sha-256 queue_dir=$T/q
run_rm /dev/null --config "$T/conf" --flush-all
is "$RC" 0 "queue flush with SCRAM-PLUS: exit 0" "$ERR"
is "$(msg_count)" 2 "both queued messages delivered"
is "$(commands | grep -c 'AUTH-RESULT SCRAM-SHA-256-PLUS ok')" 1 "one SCRAM exchange for the session"

# CRAM-MD5 only when named.
try_auth CRAM-MD5,PLAIN cram-md5
is "$RC" 0 "auth = cram-md5: sent" "$ERR"
like "$(commands)" "AUTH-RESULT CRAM-MD5 ok user=alice" "CRAM-MD5 accepted"
try_auth CRAM-MD5 auto
is "$RC" 77 "auth = auto never picks CRAM-MD5: exit 77"
try_auth CRAM-MD5 cram-md5 --users alice:nope
is "$RC" 77 "CRAM-MD5 with a wrong password: exit 77"

done_testing
