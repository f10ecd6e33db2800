#!/bin/bash
# A 10 MB message arrives byte-exact: dot-stuffed on the wire (the relay
# unstuffs), lines of only ".", "..", ". ", and 998-byte lines included.
. "$(dirname "$0")/lib.sh"

start_relay
write_config "$T/conf" timeout=30

"$PYTHON3" - "$T/big" <<'PY'
import random, sys
rnd = random.Random(5)
alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789.,;:-_=!?()<>@"
pool = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 78))) for _ in range(2000)]
special = [".", "..", "...", ". ", ".x", "..x", "", " .", "From nobody", ">From x",
           "." * 78, "x" * 998, "." + "y" * 997]
out = ["From: a@example.com", "To: b@example.org", "Date: Sat, 28 Nov 2026 10:00:00 +0000",
       "Message-ID: <big@example.com>", "Subject: big", ""]
n = sum(len(l) + 1 for l in out)
i = 0
while n < 10 * 1024 * 1024:
    i += 1
    if i % 97 == 0:
        line = special[(i // 97) % len(special)]
    elif i % 13 == 0:
        line = "." + rnd.choice(pool)
    else:
        line = rnd.choice(pool)
    out.append(line)
    n += len(line) + 1
out.append(".")          # a lone dot as the very last line too
with open(sys.argv[1], "w") as f:
    f.write("\n".join(out) + "\n")
PY
sed 's/$/\r/' "$T/big" > "$T/big.crlf"
size=$(stat -c %s "$T/big")
[ "$size" -ge $((10 * 1024 * 1024)) ]; ok $? "the test message is 10 MB ($size bytes)"

t0=$(now_ms)
run_rm "$T/big" --config "$T/conf" -i b@example.org
ms=$(( $(now_ms) - t0 ))
is "$RC" 0 "10 MB message with -i: exit 0 (${ms} ms)"
is "$ERR" "" "10 MB message: nothing on stderr"
is "$(msg_count)" 1 "10 MB message: one message arrived"
cmp -s "$(last_eml)" "$T/big.crlf"; ok $? "10 MB message arrives byte-exact, dot lines included" \
	"$(cmp "$(last_eml)" "$T/big.crlf" 2>&1 | head -3)"

# The same content with CRLF line ends in the input.
run_rm "$T/big.crlf" --config "$T/conf" -i b@example.org
is "$RC" 0 "10 MB CRLF message: exit 0"
cmp -s "$(last_eml)" "$T/big.crlf"; ok $? "10 MB CRLF message arrives byte-exact"

done_testing
