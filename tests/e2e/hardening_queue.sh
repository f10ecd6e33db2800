#!/bin/bash
# Queue entries and queue directories are untrusted input (issue 11, items
# 1, 2, 8 and 10): a squatted or symlinked state directory is refused, a
# planted entry is never sent, hostile .env files are refused without a
# crash, a partial refusal never loses the refused recipients' copy, and
# mailq never prints control characters from an entry.
. "$(dirname "$0")/lib.sh"

start_relay
write_config "$T/conf" queue=yes
QDIR=$HOME/.local/state/relaymail/queue
FDIR=$HOME/.local/state/relaymail/failed
mkdir -p "$QDIR"; chmod 700 "$QDIR"
OTHER=nobody
id "$OTHER" >/dev/null 2>&1 || { echo "Bail out! no user $OTHER"; exit 1; }
[ "$(id -u)" != "$(id -u "$OTHER")" ] || { echo "Bail out! run as another user than $OTHER"; exit 1; }
NOW=$(date +%s)

mkmsg() { printf 'Subject: message %s\nMessage-ID: <m%s@example.com>\n\nbody %s\n' "$1" "$1" "$1" > "$T/m$1"; }
entries() { ls "$1" 2>/dev/null | grep -c '\.env$'; }
received() { cat "$RELAY"/messages/*.eml 2>/dev/null; }
no_crash() {  # no_crash NAME: the last run ended by itself, without a sanitizer report
	[ "$RC" -lt 124 ] && ! printf '%s' "$ERR" | grep -q 'Sanitizer'
	ok $? "$1: no crash" "exit $RC; $(printf '%s' "$ERR" | head -c 800)"
}

# env_text [sender] [rcpt]: a valid .env as relaymail writes it.
env_text() {
	printf 'version 1\naccount test\nmessage-id <x@example.com>\ndomain example.com\n'
	printf 'sender %s\nrcpt %s\n' "${1-sender@example.com}" "${2:-bob@example.org}"
	printf 'body-8bit 0\nneeds-smtputf8 0\nsmtputf8 -1\ncreated %s\nattempts 1\nnext-attempt %s\nlast-error test\n' \
		"$NOW" "$NOW"
}
# plant ID: .env from stdin and a .msg whose body says ID, both 0600 (as ours)
plant() {
	cat > "$QDIR/$1.env"
	printf 'Subject: planted %s\r\n\r\nbody of %s\r\n' "$1" "$1" > "$QDIR/$1.msg"
	chmod 600 "$QDIR/$1.env" "$QDIR/$1.msg"
}
clear_queue() { rm -rf "$QDIR"; mkdir -p "$QDIR"; chmod 700 "$QDIR"; }

# ---- a hand-written entry in the writer's format is accepted (the harness is right)
env_text | plant 100.1.0000000a
before=$(msg_count)
run_rm /dev/null --config "$T/conf" --flush-all
is "$(msg_count)" $((before + 1)) "a well-formed entry is sent"
is "$(entries "$QDIR")" 0 "a well-formed entry leaves the queue once sent"

# ---- 1. the queue directory: owner, mode, symbolic links ------------------------

# A queue directory that another user created (the /var/tmp squat).
stop_relay; mkmsg 1
run_rm "$T/m1" --config "$T/conf" bob@example.org
start_relay; write_config "$T/conf" queue=yes
is "$(entries "$QDIR")" 1 "setup: one message queued"
chown -R "$OTHER" "$QDIR"
before=$(msg_count)
run_rm /dev/null --config "$T/conf" --flush-all
is "$(msg_count)" "$before" "-q: nothing sent from a queue owned by another user"
isnt "$RC" 0 "-q: a queue owned by another user is an error"
like "$ERR" "refusing $QDIR: it belongs to uid $(id -u "$OTHER")" "-q: the error names the directory and its owner"
is "$(printf '%s\n' "$ERR" | wc -l)" 1 "-q: one line"
run_rm /dev/null --config "$T/conf" -bp
isnt "$RC" 0 "mailq: a queue owned by another user is an error"
like "$ERR" "refusing $QDIR" "mailq: the error names the directory"
unlike "$OUT" "bob@example" "mailq: another user's entries are not listed"
stop_relay; mkmsg 2
run_rm "$T/m2" --config "$T/conf" bob@example.org
start_relay; write_config "$T/conf" queue=yes
is "$(entries "$QDIR")" 1 "a new message is not written into another user's queue"
like "$ERR" "message kept in $FDIR/" "the message goes to the failed-mail store instead"
chown -R root "$QDIR"

# A queue directory that others may enter.
chmod 755 "$QDIR"
run_rm /dev/null --config "$T/conf" --flush-all
like "$ERR" "refusing $QDIR: mode 755.*chmod 700" "-q: a queue directory with mode 755 is refused"
chmod 700 "$QDIR"
clear_queue

# A symbolic link as the queue directory, and as a component on the way.
mkdir -p "$T/real/queue" "$T/realparent/queue"; chmod 700 "$T/real/queue" "$T/realparent/queue"
ln -s "$T/real/queue" "$T/qlink"
ln -s "$T/realparent" "$T/plink"
env_text | (QDIR=$T/real/queue; plant 101.1.0000000b)
before=$(msg_count)
write_config "$T/conf" queue=yes queue_dir="$T/qlink"
run_rm /dev/null --config "$T/conf" --flush-all
like "$ERR" "refusing $T/qlink: $T/qlink is a symbolic link" "-q: a symlinked queue directory is refused"
is "$(msg_count)" "$before" "-q: nothing sent through a symlinked queue directory"
run_rm /dev/null --config "$T/conf" -bp
like "$ERR" "$T/qlink is a symbolic link" "mailq: a symlinked queue directory is refused"
write_config "$T/conf" queue=yes queue_dir="$T/plink/queue"
run_rm /dev/null --config "$T/conf" --flush-all
like "$ERR" "refusing $T/plink/queue: $T/plink is a symbolic link" "-q: a symlink on the way to the queue is refused"
stop_relay; mkmsg 3
run_rm "$T/m3" --config "$T/conf" bob@example.org
start_relay
like "$ERR" "$T/plink is a symbolic link" "queueing through a symlinked component is refused"
is "$(entries "$T/realparent/queue")" 0 "nothing written through the symlink"

# Components on the way: another user's directory, a world-writable one.
mkdir -p "$T/theirs/queue"; chmod 700 "$T/theirs/queue"; chown "$OTHER" "$T/theirs"
write_config "$T/conf" queue=yes queue_dir="$T/theirs/queue"
run_rm /dev/null --config "$T/conf" -bp
like "$ERR" "refusing $T/theirs/queue: $T/theirs belongs to uid $(id -u "$OTHER"), neither you nor root" \
	"a component owned by another user is refused"
mkdir -p "$T/open/queue"; chmod 700 "$T/open/queue"; chmod 777 "$T/open"
write_config "$T/conf" queue=yes queue_dir="$T/open/queue"
run_rm /dev/null --config "$T/conf" -bp
like "$ERR" "refusing $T/open/queue: $T/open is writable by other users" "a world-writable component is refused"
chmod 1777 "$T/open"
run_rm /dev/null --config "$T/conf" -bp
is "$RC" 0 "a sticky world-writable component owned by root (as /tmp) is fine"
like "$OUT" "Mail queue is empty" "mailq through a sticky directory works"
mkdir -p "$T/made"; chmod 755 "$T/made"
stop_relay; mkmsg 4
write_config "$T/conf" queue=yes queue_dir="$T/made/a/b/queue"
run_rm "$T/m4" --config "$T/conf" bob@example.org
start_relay
is "$(stat -c %a "$T/made/a") $(stat -c %a "$T/made/a/b") $(stat -c %a "$T/made/a/b/queue")" "700 700 700" \
	"the components relaymail creates are 0700"
write_config "$T/conf" queue=yes

# ---- 1. planted entries: never sent, reported, left alone ------------------------
clear_queue
SECRET=$T/secret; printf 'Subject: private\r\n\r\nTOPSECRET-7f3a9c\r\n' > "$SECRET"; chmod 600 "$SECRET"
env_text | plant 102.1.0000000c
rm "$QDIR/102.1.0000000c.msg"; ln -s "$SECRET" "$QDIR/102.1.0000000c.msg"
env_text | plant 103.1.0000000d
rm "$QDIR/103.1.0000000d.msg"; ln "$SECRET" "$QDIR/103.1.0000000d.msg"
env_text | plant 104.1.0000000e; chown "$OTHER" "$QDIR/104.1.0000000e.msg"
env_text | plant 105.1.0000000f; chown "$OTHER" "$QDIR/105.1.0000000f.env"
env_text | plant 106.1.00000010; chmod 666 "$QDIR/106.1.00000010.msg"
env_text | plant 107.1.00000011; mv "$QDIR/107.1.00000011.env" "$T/env107"; ln -s "$T/env107" "$QDIR/107.1.00000011.env"
env_text | plant 108.1.00000012; rm "$QDIR/108.1.00000012.msg"; mkfifo -m 600 "$QDIR/108.1.00000012.msg"
before=$(msg_count)
RM_TIMEOUT=20 run_rm /dev/null --config "$T/conf" --flush-all
no_crash "planted entries"
is "$(msg_count)" "$before" "planted entries: nothing sent"
! received | grep -q TOPSECRET; ok $? "the secret file never reaches the relay"
like "$ERR" "skipping entry 102\.1\.0000000c.*102\.1\.0000000c\.msg is a symbolic link" "a .msg symlink is reported"
like "$ERR" "skipping entry 103\.1\.0000000d.*hard links" "a .msg hard link is reported"
like "$ERR" "skipping entry 104\.1\.0000000e.*belongs to uid $(id -u "$OTHER")" "another user's .msg is reported"
like "$ERR" "skipping entry 105\.1\.0000000f.*\.env belongs to uid" "another user's .env is reported"
like "$ERR" "skipping entry 106\.1\.00000010.*writable by other users" "a world-writable .msg is reported"
like "$ERR" "skipping entry 107\.1\.00000011.*\.env is a symbolic link" "a .env symlink is reported"
like "$ERR" "skipping entry 108\.1\.00000012.*not a regular file" "a FIFO .msg is reported (and does not block)"
is "$(entries "$QDIR")" 7 "planted entries are left in place (not deleted)"
[ -f "$SECRET" ] && grep -q TOPSECRET "$SECRET"; ok $? "the secret file is untouched"
run_rm /dev/null --config "$T/conf" -bp
like "$OUT" "Mail queue is empty" "mailq: planted entries are not listed"
like "$ERR" "skipping entry 102\.1\.0000000c" "mailq: planted entries are reported"
touch -d '2 hours ago' "$QDIR"/*.msg 2>/dev/null
ln -s "$SECRET" "$QDIR/109.1.00000013.msg"; touch -h -d '2 hours ago' "$QDIR/109.1.00000013.msg"
printf 'x' > "$QDIR/110.1.00000014.msg"; chown "$OTHER" "$QDIR/110.1.00000014.msg"
touch -d '2 hours ago' "$QDIR/110.1.00000014.msg"
run_rm /dev/null --config "$T/conf" --flush-all
[ -L "$QDIR/109.1.00000013.msg" ] && [ -e "$QDIR/110.1.00000014.msg" ]
ok $? "old stray files that are not ours are not removed"
clear_queue

# ---- 2. hostile .env contents: refused, not sent, no crash -----------------------
big() { "$PYTHON3" -c 'import sys; sys.stdout.write("a" * int(sys.argv[1]) + "@example.com")' "$1"; }
env_text "$(big 1048576)" | plant 200.1.00000001
env_text "$(big 3072)" | plant 201.1.00000002
env_text sender@example.com "$(big 3072)" | plant 202.1.00000003
env_text sender@example.com "$(big 1048576)" | plant 203.1.00000004
env_text $'sender@example.com\rRCPT TO:<evil@example.net>' | plant 204.1.00000005
env_text sender@example.com $'bob@example.org\r\nRCPT TO:<evil@example.net>' | plant 205.1.00000006
{ env_text; printf 'flavour vanilla\n'; } | plant 206.1.00000007
{ env_text; printf 'sender other@example.com\n'; } | plant 207.1.00000008
env_text | sed 's/^attempts 1$/attempts 12abc/' | plant 208.1.00000009
env_text | sed 's/^created .*/created -5/' | plant 209.1.0000000a
env_text | sed 's/^next-attempt .*/next-attempt 99999999999999999999999/' | plant 210.1.0000000b
env_text | sed 's/^smtputf8 .*/smtputf8 +1/' | plant 211.1.0000000c
{ env_text; printf 'last-error a\0b\n'; } | sed '/^last-error test$/d' | plant 212.1.0000000d
env_text | sed 's/^version 1$/version 2/' | plant 213.1.0000000e
env_text | sed '1d' | plant 214.1.0000000f
env_text | sed 's/^sender .*/sender Eve <eve@example.net>/' | plant 215.1.00000010
env_text | sed 's/^rcpt .*/rcpt Bob <bob@example.org>, carol@example.org/' | plant 216.1.00000011
{ env_text; printf 'dsn-notify NEVER,SUCCESS\n'; } | plant 217.1.00000012
{ env_text; printf 'dsn-ret EVERYTHING\n'; } | plant 218.1.00000013
{ env_text; printf 'dsn-envid %s\n' "$(printf 'x%.0s' $(seq 101))"; } | plant 219.1.00000014
env_text | sed 's/^domain .*/domain exa mple.com/' | plant 220.1.00000015
env_text | sed 's/^account .*/account /' | plant 221.1.00000016
{ env_text; printf 'last-error %s\n' "$(printf 'e%.0s' $(seq 1100))"; } | sed '/^last-error test$/d' | plant 222.1.00000017
env_text | head -c -1 | plant 223.1.00000018
"$PYTHON3" -c '
import sys
print("version 1\naccount test\ndomain example.com\nsender s@example.com")
for i in range(10001): print("rcpt r%d@example.org" % i)
print("created 1\nattempts 1\nnext-attempt 1")' | plant 224.1.00000019
head -c 5000000 /dev/zero | tr '\0' 'x' | plant 225.1.0000001a
before=$(msg_count)
reset_log
RM_TIMEOUT=30 run_rm /dev/null --config "$T/conf" --flush-all
no_crash "hostile .env files"
is "$(msg_count)" "$before" "hostile .env files: nothing sent"
! commands | grep -Eq ' (MAIL|RCPT) '; ok $? "hostile .env files: no MAIL or RCPT command at all"
is "$(entries "$QDIR")" 26 "hostile .env files are left in place"
is "$(printf '%s\n' "$ERR" | grep -c 'skipping entry')" 26 "each hostile .env file is reported"
like "$ERR" "200\.1\.00000001\.env: line 5: sender longer than 998 bytes" "1 MB sender: refused"
like "$ERR" "201\.1\.00000002\.env: line 5: sender longer than 998 bytes" "3 KB sender: refused"
like "$ERR" "202\.1\.00000003\.env: line 6: rcpt longer than 998 bytes" "3 KB recipient: refused"
like "$ERR" "203\.1\.00000004\.env: line 6: rcpt longer" "1 MB recipient: refused"
like "$ERR" "204\.1\.00000005\.env: line 5: control character" "CR in the sender: refused"
like "$ERR" "205\.1\.00000006\.env: line 6: control character" "CRLF in a recipient: refused"
like "$ERR" "206\.1\.00000007\.env: line 14: unknown key 'flavour'" "unknown key: refused"
like "$ERR" "207\.1\.00000008\.env: line 14: sender given twice" "duplicate key: refused"
like "$ERR" "208\.1\.00000009\.env: line 11: invalid attempts" "attempts 12abc: refused"
like "$ERR" "209\.1\.0000000a\.env: line 10: invalid created" "negative time: refused"
like "$ERR" "210\.1\.0000000b\.env: line 12: invalid next-attempt" "out-of-range number: refused"
like "$ERR" "211\.1\.0000000c\.env: line 9: invalid smtputf8" "number with a sign: refused"
like "$ERR" "212\.1\.0000000d\.env: NUL byte" "NUL byte: refused"
like "$ERR" "213\.1\.0000000e\.env: line 1: unknown version" "version 2: refused"
like "$ERR" "214\.1\.0000000f\.env: line 1: not a queue entry" "no version line: refused"
like "$ERR" "215\.1\.00000010\.env: line 5: invalid sender" "sender with a display name: refused"
like "$ERR" "216\.1\.00000011\.env: line 6: invalid rcpt" "recipient list in one rcpt line: refused"
like "$ERR" "217\.1\.00000012\.env: line 14: invalid dsn-notify" "NEVER with SUCCESS: refused"
like "$ERR" "218\.1\.00000013\.env: line 14: .*dsn-ret" "unknown dsn-ret: refused"
like "$ERR" "219\.1\.00000014\.env: line 14: dsn-envid longer than 100 bytes" "long dsn-envid: refused"
like "$ERR" "220\.1\.00000015\.env: line 4: invalid domain" "domain with a space: refused"
like "$ERR" "221\.1\.00000016\.env: line 2: invalid account" "empty account: refused"
like "$ERR" "222\.1\.00000017\.env: line 13: last-error longer than 1024 bytes" "long last-error: refused"
like "$ERR" "223\.1\.00000018\.env: truncated" "no final newline: refused"
like "$ERR" "224\.1\.00000019\.env: line 10005: more than 10000 recipients" "too many recipients: refused"
like "$ERR" "225\.1\.0000001a\.env is too large" "a 5 MB .env: refused"
RM_TIMEOUT=30 run_rm /dev/null --config "$T/conf" -bp
no_crash "mailq over hostile .env files"
like "$OUT" "Mail queue is empty" "mailq lists none of the hostile entries"
clear_queue

# An address as the writer stores it (quoted local part, UTF-8) is accepted.
env_text '' '"john doe"@example.org' | plant 230.1.00000001
before=$(msg_count)
run_rm /dev/null --config "$T/conf" --flush-all
is "$(msg_count)" $((before + 1)) "null sender and a quoted local part: accepted and sent"
facts
is "$J_rcpt_tos" '"john doe"@example.org' "the quoted recipient goes out as stored"

# ---- 8. mailq escapes what it prints ---------------------------------------------
clear_queue
env_text $'odd\xff\xc2\x9b31m@example.com' | sed $'s/^last-error .*/last-error 451 \xc2\x9b2J cleared/' | plant 240.1.00000001
{ env_text | sed '/^last-error/d'; printf 'last-error 451 \033]0;owned\007\033[2J\n'; } | plant 241.1.00000002
run_rm /dev/null --config "$T/conf" -bp
is "$RC" 0 "mailq: exit 0"
! printf '%s%s' "$OUT" "$ERR" | LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f\x9b]'
ok $? "mailq prints no control byte (ESC, BEL, C1 CSI)"
like "$OUT" 'odd\\xFF\\xC2\\x9B31m@example\.com' "mailq: the sender is shown escaped"
like "$OUT" '\(451 \\xC2\\x9B2J cleared\)' "mailq: the last error is shown escaped"
like "$ERR" "skipping entry 241\.1\.00000002.*control character" "an entry with ESC in last-error is refused and reported"

# ---- 10. partial refusal during a flush: nothing removed before its copy is safe --
clear_queue
stop_relay; mkmsg 50
run_rm "$T/m50" --config "$T/conf" ok@example.org later@example.org never@example.org
start_relay
: > "$T/notadir"
write_config "$T/conf" queue=yes failed_dir="$T/notadir/failed"
faults '[{"step":"rcpt","match":"later@example.org","reply":"452 4.2.2 Mailbox full"},{"step":"rcpt","match":"never@example.org","reply":"550 5.1.1 No such user"}]'
before=$(msg_count)
run_rm /dev/null --config "$T/conf" --flush-all
is "$(msg_count)" $((before + 1)) "partial refusal: the accepted recipient got it"
is "$(rcpts)" "ok@example.org" "partial refusal: only to the accepted recipient"
like "$ERR" "cannot be kept.*they stay queued" "partial refusal, failed store unwritable: said on stderr"
is "$(entries "$QDIR")" 1 "partial refusal, failed store unwritable: the entry stays queued"
run_rm /dev/null --config "$T/conf" -bp
like "$OUT" "<never@example\.org>" "the refused recipient stays queued"
like "$OUT" "<later@example\.org>" "the deferred recipient stays queued"
unlike "$OUT" "<ok@example\.org>" "the recipient that got it is not queued again"
like "$OUT" "not kept in the failed-mail store" "mailq shows why"
# The failed store works again: the refused recipient's copy lands there,
# the deferred one is delivered, the accepted one gets nothing twice.
write_config "$T/conf" queue=yes
faults '[{"step":"rcpt","match":"never@example.org","reply":"550 5.1.1 No such user"}]'
run_rm /dev/null --config "$T/conf" --flush-all
is "$(msg_count)" $((before + 3)) "next flush: one more delivery (and a notice about the refused recipient)"
is "$(rcpts "$(ls "$RELAY"/messages/*.json | sed -n "$((before + 2))p")")" "later@example.org" "next flush: to the deferred recipient only"
is "$(rcpts)" "sender@example.com" "next flush: the notice about the refused recipient goes to the sender"
ls "$FDIR"/*.reason 2>/dev/null | xargs -r grep -l 'rcpt never@example.org' | grep -q .
ok $? "next flush: the refused recipient's copy is in the failed store"
is "$(entries "$QDIR")" 0 "next flush: the queue is empty"
is "$(grep -l '"ok@example.org"' "$RELAY"/messages/*.json | wc -l)" 1 "the accepted recipient got the message exactly once"

# Only permanent refusals besides the accepted one: nothing else would keep
# the entry, yet it stays for the refused recipient until its copy is safe.
stop_relay; mkmsg 52
run_rm "$T/m52" --config "$T/conf" ok2@example.org never@example.org
start_relay
write_config "$T/conf" queue=yes failed_dir="$T/notadir/failed"
faults '[{"step":"rcpt","match":"never@example.org","reply":"550 5.1.1 No such user"}]'
run_rm /dev/null --config "$T/conf" --flush-all
is "$(rcpts)" "ok2@example.org" "partial refusal (permanent only): the accepted recipient got it"
is "$(entries "$QDIR")" 1 "partial refusal (permanent only), store unwritable: the entry stays queued"
run_rm /dev/null --config "$T/conf" -bp
like "$OUT" "<never@example\.org>" "partial refusal (permanent only): the refused recipient stays queued"
unlike "$OUT" "<ok2@example\.org>" "partial refusal (permanent only): the accepted one is not queued again"
clear_queue

# A permanent failure of the whole entry with the store unwritable: stays queued.
stop_relay; mkmsg 51
run_rm "$T/m51" --config "$T/conf" never@example.org
start_relay
write_config "$T/conf" queue=yes failed_dir="$T/notadir/failed"
faults '[{"step":"rcpt","match":"never@example.org","reply":"550 5.1.1 No such user"}]'
run_rm /dev/null --config "$T/conf" --flush-all
is "$(entries "$QDIR")" 1 "refused entry, failed store unwritable: it stays queued"
like "$ERR" "cannot be moved to $T/notadir/failed.*stays queued" "refused entry, failed store unwritable: said"
faults ''

done_testing
