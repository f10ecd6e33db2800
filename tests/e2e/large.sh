#!/bin/bash
# A 10 MB message arrives intact, dot-stuffed on the wire and unstuffed by the relay.
. "$(dirname "$0")/lib.sh"

start_relay
write_config "$T/conf" timeout=30
"$PYTHON3" - "$T/big" <<'PY'
import random, sys
random.seed(5)
with open(sys.argv[1], "w") as f:
    f.write("From: a@example.com\nTo: b@example.org\nDate: Sat, 28 Nov 2026 10:00:00 +0000\nMessage-ID: <big@example.com>\nSubject: big\n\n")
    n = 0
    while n < 10 * 1024 * 1024:
        line = "".join(random.choice("abcdefghij .") for _ in range(random.randint(0, 76)))
        if random.random() < 0.05:
            line = "." + line
        f.write(line + "\n")
        n += len(line) + 1
PY
run_rm "$T/big" --config "$T/conf" -i b@example.org
is "$RC" 0 "10 MB message: exit 0"
sed 's/$/\r/' "$T/big" > "$T/big.crlf"
cmp -s "$(last_eml)" "$T/big.crlf"; ok $? "10 MB message arrives byte-exact (dots included)"
done_testing
