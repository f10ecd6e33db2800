#!/bin/bash
# One log line per message and per queue event: log_file, text and JSON.
. "$(dirname "$0")/lib.sh"

start_relay
printf 'Subject: log\nMessage-ID: <log1@example.com>\n\nbody\n' > "$T/m"

# JSON lines, parsed.
write_config "$T/conf" queue=yes log_file="$T/relaymail.log" log_format=json
run_rm "$T/m" --config "$T/conf" bob@example.org carol@example.org
is "$RC" 0 "sent with a JSON log file"
cat > "$T/parse.py" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
e = lines[int(sys.argv[2])]
for key in sys.argv[3:]:
    v = e.get(key)
    print(" ".join(v) if isinstance(v, list) else v)
PY
field() { "$PYTHON3" "$T/parse.py" "$T/relaymail.log" "$1" "$2"; }
is "$(wc -l < "$T/relaymail.log")" 1 "one line per message"
is "$(field 0 event)" "sent" "JSON: event"
is "$(field 0 message_id)" "<log1@example.com>" "JSON: Message-ID"
is "$(field 0 sender)" "sender@example.com" "JSON: sender"
is "$(field 0 recipients)" "bob@example.org carol@example.org" "JSON: recipients"
is "$(field 0 account)" "test" "JSON: account"
is "$(field 0 relay)" "localhost" "JSON: relay host"
like "$(field 0 tls)" "^TLS1\\.[23] " "JSON: TLS version"
is "$(field 0 auth)" "PLAIN" "JSON: AUTH mechanism"
like "$(field 0 size)" "^[0-9]+$" "JSON: size"
like "$(field 0 duration_ms)" "^[0-9]+$" "JSON: duration"
like "$(field 0 reply)" "^250 2\\.0\\.0 Ok: queued as RELAY" "JSON: the relay's final reply (its message id)"
like "$(field 0 time)" "^20[0-9]{2}-[0-9]{2}-[0-9]{2}T" "JSON: time"

# Queue events: queued, deferred, delivered; and failed.
stop_relay
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$(field 1 event)" "queued" "JSON: queued"
like "$(field 1 queue_id)" "^[0-9]+\\.[0-9]+\\.[0-9a-f]{8}$" "JSON: queue id"
like "$(field 1 reply)" "Connection refused" "JSON: the reason"
run_rm /dev/null --config "$T/conf" --flush-all
is "$(field 2 event)" "deferred" "JSON: deferred"
start_relay
write_config "$T/conf" queue=yes log_file="$T/relaymail.log" log_format=json
run_rm /dev/null --config "$T/conf" --flush-all
is "$(field 3 event)" "delivered" "JSON: delivered by the flush"
is "$(field 3 queue_id)" "$(field 1 queue_id)" "JSON: the same queue id"
faults '[{"step":"mail","reply":"550 5.7.1 Sender not allowed"}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$(field 4 event)" "failed" "JSON: failed"
like "$(field 4 reply)" "550 5\\.7\\.1 Sender not allowed" "JSON: the refusal"
faults ''
"$PYTHON3" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/relaymail.log"
ok $? "every line is one valid JSON object"

# Text lines.
write_config "$T/conf" queue=yes log_file="$T/text.log"
run_rm "$T/m" --config "$T/conf" bob@example.org
like "$(cat "$T/text.log")" "relaymail\\[[0-9]+\\]: sent msgid=<log1@example.com> from=<sender@example.com> to=<bob@example.org> account=test relay=localhost:[0-9]+ tls=TLS1\\.[23] .* auth=PLAIN size=[0-9]+ ms=[0-9]+ reply=\"250 " "text line with every field"

# An unwritable log file: one warning, the message still goes.
write_config "$T/conf" queue=yes log_file="$T/no/such/dir/relaymail.log"
before=$(msg_count)
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "unwritable log file: the message is sent"
is "$(msg_count)" $((before + 1)) "unwritable log file: delivered"
is "$(printf '%s\n' "$ERR" | grep -c 'cannot write log_file')" 1 "unwritable log file: reported once on stderr"

done_testing
