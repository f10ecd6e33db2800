#!/bin/bash
# CHUNKING (RFC 3030): MAIL, RCPT, "BDAT n LAST", the content and QUIT in one
# flight when the relay offers CHUNKING and PIPELINING; -bs keeps DATA.
. "$(dirname "$0")/lib.sh"

start_relay --chunking
write_config "$T/conf" queue=no
printf 'From: a@example.com\nTo: b@example.org\nDate: Sat, 28 Nov 2026 10:00:00 +0000\nMessage-ID: <bdat@example.com>\nSubject: chunk\n\n.leading dot\n..two\n.\nend\n' > "$T/m"

run_rm "$T/m" --config "$T/conf" -i bob@example.org
is "$RC" 0 "BDAT: sent"
sed 's/$/\r/' "$T/m" > "$T/m.crlf"
cmp -s "$(last_eml)" "$T/m.crlf"; ok $? "BDAT: content byte-exact, no dot-stuffing"
commands | grep -q ' BDAT [0-9]* LAST'; ok $? "BDAT n LAST used"
! commands | grep -q ' DATA'; ok $? "no DATA command"
size=$(commands | sed -n 's/.* BDAT \([0-9]*\) LAST.*/\1/p' | tail -1)
is "$size" "$(stat -c %s "$(last_eml)")" "the BDAT size is the exact content size"
run_rm "$T/m" --config "$T/conf" -i -v bob@example.org
like "$ERR" ">>> BDAT [0-9]+ LAST" "-v shows the BDAT command"
like "$ERR" ">>> QUIT" "QUIT follows in the same group"

# Every recipient refused after BDAT was sent: nothing is delivered.
faults '[{"step":"rcpt","reply":"550 5.1.1 No such user"}]'
before=$(msg_count)
run_rm "$T/m" --config "$T/conf" -i x@example.org y@example.org
is "$RC" 67 "all recipients refused with BDAT in flight: exit 67"
is "$(msg_count)" "$before" "all recipients refused: nothing delivered"
commands | tail -5 | grep -q ' BDAT'; ok $? "the content had been sent with BDAT (and was discarded)"
like "$ERR" "550 5\.1\.1 No such user" "the RCPT refusal is reported, not the BDAT one"

# One of two refused: the other gets it.
faults '[{"step":"rcpt","match":"bad@example.org","reply":"550 5.1.1 unknown"}]'
before=$(msg_count)
run_rm "$T/m" --config "$T/conf" -i good@example.org bad@example.org
is "$RC" 0 "partial refusal with BDAT: exit 0 (accepted for the other; issue 13)"
is "$(json_field "$(ls "$RELAY"/messages/*.json | sed -n "$((before + 1))p")" rcpt_tos)" "good@example.org" "partial refusal with BDAT: the accepted recipient got it"
faults ''

# 4xx and 5xx to the BDAT chunk itself.
faults '[{"step":"eod","reply":"452 4.3.1 Insufficient storage"}]'
run_rm "$T/m" --config "$T/conf" -i bob@example.org
is "$RC" 75 "BDAT answered 452: exit 75"
faults '[{"step":"eod","reply":"554 5.6.0 Bad content"}]'
run_rm "$T/m" --config "$T/conf" -i bob@example.org
is "$RC" 69 "BDAT answered 554: exit 69"
faults ''

# A 2 MB message with dots, byte-exact.
"$PYTHON3" -c '
import sys
with open(sys.argv[1], "w") as f:
    f.write("Subject: big chunk\nMessage-ID: <big@example.com>\nDate: Sat, 28 Nov 2026 10:00:00 +0000\nFrom: a@example.com\n\n")
    for i in range(40000):
        f.write(("." if i % 7 == 0 else "") + "line %05d with some text in it\n" % i)' "$T/big"
run_rm "$T/big" --config "$T/conf" -i bob@example.org
sed 's/$/\r/' "$T/big" > "$T/big.crlf"
cmp -s "$(last_eml)" "$T/big.crlf"; ok $? "2 MB message over BDAT: byte-exact"

# -bs takes a partial delivery as the pipe mode does (issue 13: the refused
# recipients are reported, kept and noticed), so it uses BDAT too.
printf 'HELO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nSubject: bs\r\n\r\nbody\r\n.\r\nQUIT\r\n' |
	"$RELAYMAIL" --config "$T/conf" -bs > "$T/bs.out"
like "$(cat "$T/bs.out")" "250 2\.0\.0 Ok: relayed" "-bs through a CHUNKING relay: relayed"
commands | tail -8 | grep -q ' BDAT [0-9]* LAST'; ok $? "-bs uses BDAT like the pipe mode"

# Without PIPELINING the DATA path is used.
start_relay --chunking --no-pipelining
write_config "$T/conf" queue=no
run_rm "$T/m" --config "$T/conf" -i bob@example.org
is "$RC" 0 "CHUNKING without PIPELINING: sent"
commands | grep -q ' DATA'; ok $? "CHUNKING without PIPELINING: DATA used"

done_testing
