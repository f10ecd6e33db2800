#!/bin/bash
# Every reply step x {4xx, 5xx, drop, timeout} gives the right exit status,
# and nothing is sent when a step fails.
. "$(dirname "$0")/lib.sh"

start_relay
write_config "$T/conf" timeout=2
printf 'Subject: faults\n\nbody\n' > "$T/m"

check() {  # check STEP ACTION EXTRA-JSON WANT-RC
	faults "[{\"step\":\"$1\",\"action\":\"$2\"$3}]"
	local before; before=$(msg_count)
	run_rm "$T/m" --config "$T/conf" bob@example.org
	is "$RC" "$4" "$1 $2${5:+ $5}: exit $4"
	if [ "$4" != 0 ]; then
		is "$(msg_count)" "$before" "$1 $2${5:+ $5}: nothing delivered"
		[ -n "$ERR" ] && [ "$(printf '%s\n' "$ERR" | wc -l)" -le 2 ]; ok $? "$1 $2${5:+ $5}: a short reason on stderr"
	fi
}

for step in greeting ehlo auth mail rcpt data eod; do
	check "$step" reply ',"reply":"451 4.3.0 Try again later"' 75 4xx
	case $step in
	rcpt) want=67 ;; auth) want=77 ;; *) want=69 ;;
	esac
	check "$step" reply ',"reply":"554 5.7.1 Rejected"' "$want" 5xx
	check "$step" drop '' 75
done
check data_mid drop '' 75
check quit drop '' 0 "(after the message was accepted)"

# The server's reply is quoted in the error.
faults '[{"step":"rcpt","reply":"550 5.1.1 No such user here"}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
like "$ERR" "550 5\.1\.1 No such user here" "the relay's reply is quoted on stderr"
like "$ERR" "RCPT TO:<bob@example.org>" "the step is named on stderr"

# Wrong password.
write_config "$T/conf" timeout=2
printf 'wrong\n' > "$T/badpw"; chmod 600 "$T/badpw"
faults ''
write_config "$T/conf" timeout=2 password_file="$T/badpw"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 77 "wrong password (535): exit 77"
write_config "$T/conf" timeout=2

# Partial rejection: all or nothing.
faults '[{"step":"rcpt","match":"bad@example.org","reply":"550 5.1.1 unknown"}]'
before=$(msg_count)
run_rm "$T/m" --config "$T/conf" good@example.org bad@example.org
is "$RC" 67 "one recipient rejected: exit 67"
is "$(msg_count)" "$before" "one recipient rejected: nothing sent to the others"
faults '[{"step":"rcpt","match":"bad@example.org","reply":"450 4.2.0 busy"},{"step":"rcpt","match":"worse@example.org","reply":"550 5.1.1 unknown"}]'
run_rm "$T/m" --config "$T/conf" good@example.org bad@example.org worse@example.org
is "$RC" 67 "temporary and permanent rejections: the permanent one decides (67)"

# Timeouts: a silent server is cut off at the configured timeout.
for step in greeting ehlo mail eod; do
	faults "[{\"step\":\"$step\",\"action\":\"delay\",\"seconds\":10}]"
	start=$(date +%s)
	run_rm "$T/m" --config "$T/conf" bob@example.org
	elapsed=$(( $(date +%s) - start ))
	is "$RC" 75 "$step delayed past the timeout: exit 75"
	[ "$elapsed" -le 4 ]; ok $? "$step delayed: gave up within timeout + 2 s (took ${elapsed}s)"
done

# Garbage instead of a reply is a protocol error.
check ehlo garbage '' 76
check greeting garbage '' 76

# SIZE: a message larger than the server's limit is refused before MAIL.
start_relay --size 1000
write_config "$T/conf" timeout=2
head -c 5000 /dev/zero | tr '\0' 'x' | fold -w 70 > "$T/big"
run_rm "$T/big" --config "$T/conf" bob@example.org
is "$RC" 65 "message over the server's SIZE: exit 65"
! commands | grep -q ' MAIL'; ok $? "message over SIZE: MAIL never sent"
like "$ERR" "larger than the server accepts" "message over SIZE: stderr says so"

# Nothing listening: connection refused.
stop_relay
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 75 "connection refused: exit 75"

# An unknown host name.
write_config "$T/conf" host=no-such-host.invalid
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 68 "relay host does not resolve: exit 68"

done_testing
