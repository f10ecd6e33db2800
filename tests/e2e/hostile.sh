#!/bin/bash
# Hostile input: each case is a clear error or a correct send, never a crash
# and never a partial send.
. "$(dirname "$0")/lib.sh"

start_relay
write_config "$T/conf" queue=no timeout=60

# A 100 MB single line: folded at 998 characters (CRLF SP), nothing lost.
"$PYTHON3" -c '
import sys
with open(sys.argv[1], "w") as f:
    f.write("Subject: one long line\n\n")
    chunk = "0123456789abcdefghijklmnopqrstuvwxyz" * 1000
    left = 100 * 1024 * 1024
    while left > 0:
        f.write(chunk[:left]); left -= len(chunk)
    f.write("\n")' "$T/longline"
run_rm "$T/longline" --config "$T/conf" bob@example.org
is "$RC" 0 "100 MB single line: sent"
awk 'length($0) > 999 { bad = 1 } END { exit bad }' "$(last_eml)"; ok $? "no line on the wire is longer than 998 characters"
"$PYTHON3" -c '
import sys
data = open(sys.argv[1], "rb").read()
body = data.split(b"\r\n\r\n", 1)[1].replace(b"\r\n ", b"")
orig = open(sys.argv[2], "rb").read().split(b"\n\n", 1)[1].replace(b"\n", b"\r\n")
sys.exit(0 if body == orig else 1)' "$(last_eml)" "$T/longline"
ok $? "unfolding gives back the original line"
rm -f "$T/longline" "$RELAY"/messages/*.eml

# 10,000 recipients.
mapfile -t rcpts < <(seq -f 'r%g@example.org' 1 10000)
printf 'Subject: many\n\nbody\n' > "$T/m"
run_rm "$T/m" --config "$T/conf" "${rcpts[@]}"
is "$RC" 0 "10,000 recipients: sent"
is "$(json_field "$(last_json)" rcpt_tos | wc -w)" 10000 "all 10,000 recipients reached the relay"
rcpts+=(r10001@example.org)
before=$(msg_count)
run_rm "$T/m" --config "$T/conf" "${rcpts[@]}"
is "$RC" 64 "10,001 recipients: refused with exit 64"
is "$(msg_count)" "$before" "10,001 recipients: nothing sent"

# NUL bytes: refused before anything is sent.
printf 'Subject: nul\n\nbad\0byte\n' > "$T/nul"
before=$(msg_count)
run_rm "$T/nul" --config "$T/conf" bob@example.org
is "$RC" 65 "NUL byte: exit 65"
like "$ERR" "NUL" "NUL byte: said so"
is "$(msg_count)" "$before" "NUL byte: nothing sent"

# Bare CR and CR CR LF: valid SMTP on the wire.
printf 'Subject: cr\n\na\rb\r\r\nc\n.\r\n' > "$T/cr"
run_rm "$T/cr" --config "$T/conf" -i bob@example.org
is "$RC" 0 "bare CR: sent"
"$PYTHON3" -c '
import sys
d = open(sys.argv[1], "rb").read()
sys.exit(0 if all(d[i+1:i+2] == b"\n" for i in range(len(d)) if d[i:i+1] == b"\r") and b"\n" not in d.replace(b"\r\n", b"") else 1)' "$(last_eml)"
ok $? "every CR on the wire is part of CRLF"

# Invalid UTF-8 in the body is sent as 8-bit data, unchanged.
printf 'Subject: bytes\n\n\xff\xfe\xc3\x28\n' > "$T/bin"
run_rm "$T/bin" --config "$T/conf" bob@example.org
is "$RC" 0 "invalid UTF-8 body: sent"
tail -c 6 "$(last_eml)" | od -An -tx1 | grep -q 'ff fe c3 28 0d 0a'; ok $? "the bytes arrive unchanged"

# A header block over 256 KiB.
"$PYTHON3" -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(4000):
        f.write("X-Filler-%d: %s\n" % (i, "y" * 70))
    f.write("\nbody\n")' "$T/bighdr"
before=$(msg_count)
run_rm "$T/bighdr" --config "$T/conf" bob@example.org
is "$RC" 65 "header block over 256 KiB or 1000 fields: exit 65"
is "$(msg_count)" "$before" "oversized header block: nothing sent"

# Replies the client must not trust: an endless multi-line reply.
faults '[{"step":"ehlo","reply":"'"$(printf '250-x\\n%.0s' $(seq 300))"'250 end"}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 76 "a 301-line reply: protocol error (76)"
faults '[{"step":"mail","reply":"250 '"$(head -c 5000 /dev/zero | tr '\0' x)"'"}]'
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 76 "a 5000-byte reply line: protocol error (76)"
faults ''

done_testing
