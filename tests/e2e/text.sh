#!/bin/bash
# Text as callers write it: CR CR LF line ends, address lists without blanks,
# the full name of an added From (-F, $NAME), and UTF-8 header text for a
# relay without SMTPUTF8 (Amazon SES has none).
. "$(dirname "$0")/lib.sh"

# py SCRIPT ARGS...: a Python check on the last message ($1 is the .eml).
py() { local s=$1; shift; "$PYTHON3" -c "$s" "$@"; }
hdr_ascii() {  # exit 0 when the header block of $1 is ASCII only
	py 'import sys; h = open(sys.argv[1], "rb").read().split(b"\r\n\r\n", 1)[0]; sys.exit(0 if max(h, default=0) < 128 else 1)' "$1"
}
# decoded FILE FIELD: the field's value, unfolded and RFC 2047-decoded
decoded() {
	py 'import sys, email, email.header
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
v = m.get(sys.argv[2], "")
print(str(email.header.make_header(email.header.decode_header(v))))' "$1" "$2"
}

start_relay
write_config "$T/conf" from=

# ---- CR CR LF (Postfix's sendmail removes every CR before LF) ---------------

printf 'Subject: crcr\r\r\nTo: bob@example.org\r\r\n\r\r\nline one\r\r\nline two\r\r\n\r\r\nafter a blank line\r\r\r\n' > "$T/crcr"
run_rm "$T/crcr" --config "$T/conf" bob@example.org
is "$RC" 0 "CR CR LF: exit 0"
is "$(eml_body "$(last_eml)" | od -An -c | tr -s ' \n' ' ')" \
	"$(printf 'line one\r\nline two\r\n\r\nafter a blank line\r\n' | od -An -c | tr -s ' \n' ' ')" \
	"CR CR LF: one line end each, no blank line after every line"
grep -q $'^To: bob@example.org\r$' "$(last_eml)"; ok $? "CR CR LF in headers: the header keeps its value, no trailing blank"
grep -q $'^Subject: crcr\r$' "$(last_eml)"; ok $? "CR CR LF in headers: Subject as written"

# A lone "." followed by CRs still ends the input (without -i), as in Postfix.
printf 'Subject: dot\n\nbefore\r\r\n.\r\r\nafter\n' > "$T/dot"
run_rm "$T/dot" --config "$T/conf" bob@example.org
is "$(eml_body "$(last_eml)" | tr -d '\r')" "before" "a lone dot with CR CR LF ends the message"
run_rm "$T/dot" --config "$T/conf" -i bob@example.org
is "$(eml_body "$(last_eml)" | tr -d '\r' | tr '\n' '|')" "before|.|after|" "-i: the dot line is content, its CRs dropped"

# CRs that straddle the 128 KiB read boundary.
py 'import sys
head = b"Subject: boundary\n\n"
line = b"a" * (131072 - len(head) - 1)
sys.stdout.buffer.write(head + line + b"\r\r\r\nnext\r\r\n")' > "$T/boundary"
run_rm "$T/boundary" --config "$T/conf" bob@example.org
py 'import sys
b = open(sys.argv[1], "rb").read().split(b"\r\n\r\n", 1)[1].replace(b"\r\n ", b"")
sys.exit(0 if b.endswith(b"aaa\r\nnext\r\n") and b.count(b"\r\n") == 2 else 1)' "$(last_eml)"
ok $? "CR CR CR LF across the read boundary: one line end"

# ---- folding never splits an address --------------------------------------

# PHP writes To: lists without blanks; 1,100+ characters need folding.
list=$(for i in $(seq 70); do printf 'user%02d@example.org,' "$i"; done); list=${list%,}
printf 'To: %s\nSubject: many\n\nbody\n' "$list" > "$T/many"
run_rm "$T/many" --config "$T/conf" -t
is "$RC" 0 "a 1,100-character To: without blanks: exit 0"
awk '{ if (length($0) > 999) bad = 1 } END { exit bad }' "$(last_eml)"; ok $? "no header line over 998 characters"
is "$(py 'import sys, re
h = open(sys.argv[1], "rb").read().decode().split("\r\n\r\n", 1)[0]
to = re.search(r"^To:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", h, re.M).group(1)
print(",".join(a.strip() for a in re.sub(r"\r\n", "", to).split(",")))' "$(last_eml)")" "$list" \
	"the folded To: holds every address whole"
py 'import sys, re
h = open(sys.argv[1], "rb").read().decode().split("\r\n\r\n", 1)[0]
to = re.search(r"^To:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", h, re.M).group(0)
lines = to.split("\r\n")
sys.exit(0 if len(lines) > 1 and all(l.endswith(",") for l in lines[:-1]) else 1)' "$(last_eml)"
ok $? "the To: list is folded after a comma"
is "$(rcpts | wc -w)" 70 "-t: every address of the folded list is a recipient"

# A comma inside a quoted display name is not a place to fold.
names=$(for i in $(seq 40); do printf '"Doe,J%02d"<j%02d@example.org>,' "$i" "$i"; done); names=${names%,}
printf 'Cc: %s\nSubject: quoted\n\nbody\n' "$names" > "$T/quoted"
run_rm "$T/quoted" --config "$T/conf" bob@example.org
py 'import sys, re
h = open(sys.argv[1], "rb").read().decode().split("\r\n\r\n", 1)[0]
cc = re.search(r"^Cc:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", h, re.M).group(0)
lines = cc.split("\r\n")
whole = cc.replace("\r\n", "")
sys.exit(0 if len(lines) > 1 and all(l.endswith(">,") for l in lines[:-1]) and
         all(("\"Doe,J%02d\"<j%02d@example.org>" % (i, i)) in whole for i in range(1, 41)) else 1)' "$(last_eml)"
ok $? "quoted names: folded after the comma between addresses, never inside the quotes"

# ---- the full name of an added From: -F, then $NAME, then GECOS -------------

printf 'Subject: no from\n\nbody\n' > "$T/nofrom"
NAME='Jane Q. Public' run_rm "$T/nofrom" --config "$T/conf" -f jane@example.com bob@example.org
grep -q $'^From: "Jane Q. Public" <jane@example.com>\r$' "$(last_eml)"; ok $? "NAME gives the display name of the added From"
NAME='Jane Q. Public' run_rm "$T/nofrom" --config "$T/conf" -F 'The Boss' -f jane@example.com bob@example.org
grep -q $'^From: "The Boss" <jane@example.com>\r$' "$(last_eml)"; ok $? "-F wins over NAME"
NAME='Doe, Jane' run_rm "$T/nofrom" --config "$T/conf" -f jane@example.com bob@example.org
grep -q $'^From: "Doe, Jane" <jane@example.com>\r$' "$(last_eml)"; ok $? "NAME is taken whole (no GECOS comma rule)"
NAME=$'Eve\r\nBcc: victim@example.org' run_rm "$T/nofrom" --config "$T/conf" -f jane@example.com bob@example.org
is "$(rcpts)" "bob@example.org" "a line break in NAME adds no recipient"
! grep -qi '^Bcc:' "$(last_eml)"; ok $? "a line break in NAME adds no header"
NAME='Jürgen' run_rm "$T/nofrom" --config "$T/conf" -f jane@example.com bob@example.org
is "$(decoded "$(last_eml)" From)" "Jürgen <jane@example.com>" "a UTF-8 NAME is RFC 2047-encoded"
printf 'From: "Own Name" <own@example.com>\nSubject: has from\n\nbody\n' > "$T/hasfrom"
NAME='Jane Q. Public' run_rm "$T/hasfrom" --config "$T/conf" bob@example.org
grep -q $'^From: "Own Name" <own@example.com>\r$' "$(last_eml)"; ok $? "NAME does not touch an existing From"
NAME='Jane Q. Public' run_rm "$T/nofrom" --config "$T/conf" -F 'The Boss' -f '<>' bob@example.org
is "$RC" 0 "null sender: exit 0"
is "$(json_field "$(last_json)" mail_from)" "<>" "null sender: MAIL FROM:<>"
grep -q $'^From: MAILER-DAEMON@example.com\r$' "$(last_eml)"; ok $? "the From added for the null sender has no display name"

# ---- UTF-8 header text and a relay without SMTPUTF8 -------------------------

start_relay --no-smtputf8
write_config "$T/conf" from=
printf 'From: Ren\xc3\xa9e <renee@example.com>\nTo: "J\xc3\xb6rg M\xc3\xbcller" <joerg@example.org>, bob@example.org (Bob M\xc3\xbcller)\nReply-To: Caf\xc3\xa9 Team <team@example.com>\nSubject: Caf\xc3\xa9 cr\xc3\xa8me\nOrganization: Soci\xc3\xa9t\xc3\xa9\nX-Note: \xc3\xa9t\xc3\xa9\n\nbody caf\xc3\xa9\n' > "$T/utf8"
run_rm "$T/utf8" --config "$T/conf" -t
is "$RC" 0 "UTF-8 display names, relay without SMTPUTF8: sent (exit 0)"
is "$ERR" "" "UTF-8 display names: nothing on stderr"
unlike "$(json_field "$(last_json)" mail_options)" "SMTPUTF8" "no SMTPUTF8 parameter"
hdr_ascii "$(last_eml)"; ok $? "the header block on the wire is ASCII"
is "$(decoded "$(last_eml)" From)" "Renée <renee@example.com>" "From: the display name decodes to the original"
is "$(decoded "$(last_eml)" To)" "Jörg Müller <joerg@example.org>, bob@example.org (Bob Müller)" \
	"To: quoted name and comment decode to the original"
is "$(decoded "$(last_eml)" Reply-To)" "Café Team <team@example.com>" "Reply-To: a phrase of several words is encoded whole"
is "$(decoded "$(last_eml)" Organization)" "Société" "another unstructured field is encoded"
grep -q '^To: .*<joerg@example.org>' "$(last_eml)"; ok $? "the addresses stay as they were"
is "$(rcpts)" "bob@example.org joerg@example.org" "-t: the recipients are unchanged"
like "$(json_field "$(last_json)" mail_options)" "BODY=8BITMIME" "the 8-bit body goes as 8BITMIME"
like "$(eml_body "$(last_eml)")" $'body caf\xc3\xa9' "the body is not touched"

# Only an 8-bit address is refused: no encoding can carry it.
printf 'Subject: s\n\nbody\n' > "$T/plain"
run_rm "$T/plain" --config "$T/conf" $'j\xc3\xb6rg@example.org'
is "$RC" 65 "UTF-8 recipient, relay without SMTPUTF8: exit 65"
like "$ERR" "jörg@example.org.*not ASCII.*SMTPUTF8" "stderr names the address and SMTPUTF8"
printf 'To: J\xc3\xb6rg <j\xc3\xb6rg@example.org>\nSubject: s\n\nbody\n' > "$T/hdraddr"
n=$(msg_count)
run_rm "$T/hdraddr" --config "$T/conf" bob@example.org
is "$RC" 65 "UTF-8 address in To: (not a recipient): exit 65"
like "$ERR" "To: .*jörg@example.org.*not ASCII" "stderr names the field and the address"
is "$(msg_count)" "$n" "nothing was sent"
printf 'Content-Type: text/plain; name="r\xc3\xa9sum\xc3\xa9.txt"\nSubject: s\n\nbody\n' > "$T/ctype"
run_rm "$T/ctype" --config "$T/conf" bob@example.org
is "$RC" 65 "UTF-8 in a structured field (Content-Type): exit 65"
like "$ERR" "Content-Type: .*not ASCII.*SMTPUTF8" "stderr names the field"

# -O smtputf8=no: encoded the same way, also where the relay offers SMTPUTF8.
start_relay
write_config "$T/conf" from=
run_rm "$T/utf8" --config "$T/conf" -O smtputf8=no -t
is "$RC" 0 "-O smtputf8=no: sent with encoded display names"
hdr_ascii "$(last_eml)"; ok $? "-O smtputf8=no: ASCII headers"
unlike "$(json_field "$(last_json)" mail_options)" "SMTPUTF8" "-O smtputf8=no: no SMTPUTF8 parameter"
# With SMTPUTF8 nothing changes: the display names go as UTF-8.
run_rm "$T/utf8" --config "$T/conf" -t
like "$(json_field "$(last_json)" mail_options)" "SMTPUTF8" "relay with SMTPUTF8: SMTPUTF8 requested"
grep -q $'^From: Ren\xc3\xa9e <renee@example.com>' "$(last_eml)"; ok $? "relay with SMTPUTF8: From as written"

# Long lists with UTF-8 names: encoded, then folded, every line <= 998.
list=$(for i in $(seq 60); do printf 'M\xc3\xbcller %02d <m%02d@example.org>,' "$i" "$i"; done); list=${list%,}
printf 'Cc: %s\nSubject: s\n\nbody\n' "$list" > "$T/longutf8"
start_relay --no-smtputf8
write_config "$T/conf" from=
run_rm "$T/longutf8" --config "$T/conf" bob@example.org
is "$RC" 0 "a long Cc: of UTF-8 names: sent"
awk '{ if (length($0) > 999) bad = 1 } END { exit bad }' "$(last_eml)"; ok $? "a long encoded Cc: has no line over 998"
is "$(decoded "$(last_eml)" Cc)" "$(printf '%s' "$list" | sed 's/,/, /g')" "the long Cc: decodes to the original"

# The queue: encoded when the flush finds a relay without SMTPUTF8.
write_config "$T/conf" from= queue=yes
stop_relay
run_rm "$T/utf8" --config "$T/conf" -t
is "$RC" 0 "relay down: queued"
start_relay --no-smtputf8
write_config "$T/conf" from= queue=yes
run_rm /dev/null --config "$T/conf" -q
is "$RC" 0 "flush to a relay without SMTPUTF8: exit 0"
is "$(msg_count)" 1 "the queued message was delivered"
hdr_ascii "$(last_eml)"; ok $? "queued message: ASCII headers on the wire"
is "$(decoded "$(last_eml)" To)" "Jörg Müller <joerg@example.org>, bob@example.org (Bob Müller)" "queued message: To decodes to the original"
like "$(eml_body "$(last_eml)")" $'^body caf\xc3\xa9' "queued message: the body follows the header block"
grep -c '^Subject:' "$(last_eml)" | grep -qx 1; ok $? "queued message: the header block is sent once"

# Streaming: a large message with a UTF-8 name keeps its memory small.
py 'import sys
sys.stdout.buffer.write(b"From: Ren\xc3\xa9e <renee@example.com>\nSubject: big\n\n")
line = b"x" * 76 + b"\n"
for _ in range(400000): sys.stdout.buffer.write(line)' > "$T/big"
write_config "$T/conf" from=
peak() {  # peak FILE: relaymail's peak RSS in KiB sending FILE
	# An ASan build keeps freed memory in quarantine: without it the
	# measure is the program's own (other builds ignore the variable).
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0" \
		/usr/bin/time -f '%M' -o "$T/rss" "$RELAYMAIL" --config "$T/conf" bob@example.org < "$1" 2>/dev/null
	tail -1 "$T/rss"
}
small=$(peak "$T/utf8")
big=$(peak "$T/big")
hdr_ascii "$(last_eml)"; ok $? "30 MB with a UTF-8 name to a relay without SMTPUTF8: ASCII headers"
is "$(eml_body "$(last_eml)" | wc -c)" $((400000 * 78)) "30 MB: the whole body arrives"
[ "$big" -lt $((small + 16384)) ]; ok $? "30 MB: memory does not grow with the message (${small} KiB, ${big} KiB)"

done_testing
