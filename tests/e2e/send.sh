#!/bin/bash
# Submission over STARTTLS and implicit TLS with AUTH, and in clear to the plain
# listener; what arrives, byte for byte; envelope; -f/-r/-F/-t/-i; added headers.
. "$(dirname "$0")/lib.sh"

start_relay
write_config "$T/conf"

# check_date_header EML: exactly one Date: in the header block, RFC 5322 syntax,
# within a day of now.  check_msgid_header EML: exactly one, <left@right>.
check_added_headers() {  # EML NAME
	"$PYTHON3" - "$1" <<'PY'
import re, sys, time, email.utils
raw = open(sys.argv[1], "rb").read()
head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
fields = re.findall(r"^([!-9;-~]+):[ \t]*(.*(?:\r\n[ \t].*)*)", head, re.M)
def get(name):
    return [v.replace("\r\n", "") for k, v in fields if k.lower() == name]
bad = []
d = get("date")
if len(d) != 1:
    bad.append("Date: %d times" % len(d))
elif not re.fullmatch(r"\s*(?:(Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s*)?\d{1,2}\s+"
                      r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{4}\s+"
                      r"\d{2}:\d{2}(:\d{2})?\s+[+-]\d{4}\s*(\(.*\))?\s*", d[0]):
    bad.append("Date not RFC 5322: %r" % d[0])
else:
    t = email.utils.parsedate_to_datetime(d[0]).timestamp()
    if abs(t - time.time()) > 86400:
        bad.append("Date far from now: %r" % d[0])
m = get("message-id")
if len(m) != 1:
    bad.append("Message-ID: %d times" % len(m))
elif not re.fullmatch(r"\s*<[!#-'*+/-9=?A-Z^-~.]+@[!#-'*+/-9=?A-Z^-~.\[\]]+>\s*", m[0]) or ".." in m[0] \
        or re.search(r"<\.|\.@|@\.|\.>", m[0]):
    bad.append("Message-ID not <id-left@id-right>: %r" % m[0])
f = get("from")
if len(f) != 1:
    bad.append("From: %d times" % len(f))
print("\n".join(bad))
PY
}
header_value() {  # EML NAME: the unfolded value of the first such header
	eml_headers "$1" | tr -d '\r' | sed -n "/^$2:/I{s/^[^:]*:[ \t]*//;p;q}"
}

# ---- STARTTLS + AUTH PLAIN, byte-exact -------------------------------------
# A message with Date, Message-ID and From arrives unchanged but for CRLF.
printf 'From: Alice <alice@example.com>\nTo: bob@example.org\nDate: Sat, 28 Nov 2026 10:00:00 +0000\nMessage-ID: <fixed.1@example.com>\nSubject: hello\nX-Dots: .\n\nline one\n.leading dot\n..two dots\n...\n. \nlast line\n' > "$T/m1"
sed 's/$/\r/' "$T/m1" > "$T/m1.crlf"
run_rm "$T/m1" --config "$T/conf" -i bob@example.org
is "$RC" 0 "STARTTLS + AUTH PLAIN: exit 0"
is "$OUT" "" "nothing on stdout on success"
[ ! -s "$T/stdout" ]; ok $? "stdout is empty (not even a newline)"
is "$ERR" "" "nothing on stderr on success"
is "$(msg_count)" 1 "one message arrived"
cmp -s "$(last_eml)" "$T/m1.crlf"; ok $? "content arrives byte-exact, LF turned into CRLF" \
	"$(cmp "$(last_eml)" "$T/m1.crlf" 2>&1)"
facts
is "$J_mail_from" "sender@example.com" "envelope sender from the account's from"
is "$J_rcpt_tos" "bob@example.org" "envelope recipient from the argument"
is "$J_listener" "starttls" "the STARTTLS listener was used"
is "$J_tls" "True" "sent inside TLS"
is "$J_auth_mechanism" "PLAIN" "AUTH PLAIN preferred"
is "$J_auth_user" "alice" "authenticated as the configured user"
is "$J_ehlo_name" "example.com" "EHLO with the account's domain"
like "$(commands)" $'STARTTLS\n[0-9]+ TLS TLSv1\\.[23]\n[0-9]+ EHLO ' "EHLO again after the TLS handshake"

# CRLF input stays CRLF (no CR CR LF).
run_rm "$T/m1.crlf" --config "$T/conf" -i bob@example.org
is "$RC" 0 "CRLF input: exit 0"
cmp -s "$(last_eml)" "$T/m1.crlf"; ok $? "CRLF input arrives byte-exact (not doubled to CR CR LF)"

# Several recipients.
run_rm "$T/m1" --config "$T/conf" -i bob@example.org carol@example.org dave@example.net
is "$RC" 0 "three recipients: exit 0"
is "$(rcpts)" "bob@example.org carol@example.org dave@example.net" "three envelope recipients"

# ---- -f / -r and added headers --------------------------------------------
printf 'Subject: no headers of its own\n\nbody\n' > "$T/m2"
run_rm "$T/m2" --config "$T/conf" -f ops@example.com carol@example.org
is "$RC" 0 "-f: exit 0"
is "$(json_field "$(last_json)" mail_from)" "ops@example.com" "-f sets the envelope sender"
is "$(check_added_headers "$(last_eml)")" "" "missing Date, Message-ID, From added once each, valid formats"
like "$(header_value "$(last_eml)" From)" '(^|<)ops@example\.com>?$' "added From is the envelope sender"
is "$(eml_body "$(last_eml)")" $'body\r' "body unchanged after the added headers"
grep -q $'^Subject: no headers of its own\r$' "$(last_eml)"; ok $? "existing header kept"
id1=$(header_value "$(last_eml)" Message-ID)
run_rm "$T/m2" --config "$T/conf" -r ops2@example.com carol@example.org
is "$RC" 0 "-r: exit 0"
is "$(json_field "$(last_json)" mail_from)" "ops2@example.com" "-r sets the envelope sender like -f"
id2=$(header_value "$(last_eml)" Message-ID)
isnt "$id2" "$id1" "each message gets its own Message-ID"
run_rm "$T/m2" --config "$T/conf" -f "<ops@example.com>" carol@example.org
is "$(json_field "$(last_json)" mail_from)" "ops@example.com" "-f with angle brackets"
run_rm "$T/m2" --config "$T/conf" carol@example.org
like "$(header_value "$(last_eml)" From)" '(^|<)sender@example\.com>?$' "without -f the added From is the account's from"

# -F names the From only when relaymail builds it.
run_rm "$T/m2" --config "$T/conf" -F "Cron Daemon" -f ops@example.com carol@example.org
like "$(header_value "$(last_eml)" From)" '^"?Cron Daemon"? <ops@example\.com>$' "-F gives the display name of an added From"
run_rm "$T/m1" --config "$T/conf" -i -F "Ignored Name" bob@example.org
cmp -s "$(last_eml)" "$T/m1.crlf"; ok $? "-F does not touch an existing From (message byte-exact)"

# ---- -t --------------------------------------------------------------------
# To/Cc/Bcc with display names, quoted strings, comments, groups; plus the
# arguments; duplicates removed; Bcc (even folded) never transmitted.
printf '%s\n' 'From: a@example.com' \
	'To: "Bob B." <bob@example.org>, team: carol@example.org (Carol, not@this.example),' \
	' dave@example.org;' \
	'Cc: "Smith, John <fake@evil.example>" <john@example.org>, Eve <eve@example.org>,' \
	' undisclosed-recipients:;' \
	'Bcc: hidden@example.org,' \
	' hidden2@example.org' \
	'Subject: t' '' 'x' > "$T/m3"
run_rm "$T/m3" --config "$T/conf" -t bob@example.org
is "$RC" 0 "-t: exit 0"
is "$(rcpts)" "bob@example.org carol@example.org dave@example.org eve@example.org hidden2@example.org hidden@example.org john@example.org" \
	"-t: To/Cc/Bcc (names, quoted strings, comments, groups) plus arguments, deduplicated"
! grep -qi '^Bcc:' "$(last_eml)"; ok $? "-t: Bcc header is not transmitted"
! grep -q 'hidden' "$(last_eml)"; ok $? "-t: no part of the folded Bcc is transmitted"
grep -q '^Cc: "Smith, John' "$(last_eml)"; ok $? "-t: Cc is transmitted"
run_rm "$T/m3" --config "$T/conf" -t
is "$(json_field "$(last_json)" rcpt_tos | wc -w)" 7 "-t without arguments: the seven header recipients"

# Without -t, Bcc is still removed and the headers give no recipients.
run_rm "$T/m3" --config "$T/conf" zed@example.org
is "$RC" 0 "Bcc without -t: exit 0"
is "$(rcpts)" "zed@example.org" "without -t only argument recipients"
! grep -q 'hidden' "$(last_eml)"; ok $? "Bcc removed without -t too"

# ---- dot lines --------------------------------------------------------------
printf 'Subject: dots\nDate: Sat, 28 Nov 2026 10:00:00 +0000\nMessage-ID: <dots@example.com>\nFrom: a@example.com\n\nbefore\n.\nafter\n' > "$T/m4"
run_rm "$T/m4" --config "$T/conf" bob@example.org
is "$RC" 0 "lone dot without -i: exit 0"
is "$(eml_body "$(last_eml)" | od -An -c | tr -s ' ')" "$(printf 'before\r\n' | od -An -c | tr -s ' ')" \
	"without -i a lone dot ends the input (nothing after it is sent)"
run_rm "$T/m4" --config "$T/conf" -i bob@example.org
sed 's/$/\r/' "$T/m4" > "$T/m4.crlf"
cmp -s "$(last_eml)" "$T/m4.crlf"; ok $? "with -i a lone dot is content and arrives intact"
run_rm "$T/m4" --config "$T/conf" -oi bob@example.org
cmp -s "$(last_eml)" "$T/m4.crlf"; ok $? "-oi is the same as -i"

# Comma lists inside one argument; bundled flags.
run_rm "$T/m2" --config "$T/conf" -ti "x@example.org, y@example.org"
is "$(rcpts)" "x@example.org y@example.org" "a comma list in one argument gives two recipients"

# ---- AUTH LOGIN -------------------------------------------------------------
start_relay --auth-mechs LOGIN
write_config "$T/conf"
run_rm "$T/m1" --config "$T/conf" -i bob@example.org
is "$RC" 0 "STARTTLS + AUTH LOGIN: exit 0"
is "$(json_field "$(last_json)" auth_mechanism)" "LOGIN" "AUTH LOGIN used when PLAIN is not offered"
cmp -s "$(last_eml)" "$T/m1.crlf"; ok $? "AUTH LOGIN: content byte-exact"

# ---- implicit TLS -------------------------------------------------------------
start_relay
write_config "$T/conf" port="$IMPLICIT_PORT" tls=implicit
run_rm "$T/m1" --config "$T/conf" -i bob@example.org
is "$RC" 0 "implicit TLS: exit 0"
facts
is "$J_listener" "implicit" "implicit TLS listener used"
like "$J_tls_version" "^TLSv1\.[23]$" "TLS 1.2 or 1.3"
is "$J_auth_mechanism" "PLAIN" "implicit TLS: AUTH PLAIN"
cmp -s "$(last_eml)" "$T/m1.crlf"; ok $? "implicit TLS: content byte-exact"
! commands | grep -q ' STARTTLS'; ok $? "implicit TLS: no STARTTLS command"

# ---- tls = off, no AUTH, to the plain listener ---------------------------------
write_config "$T/conf" port="$PLAIN_PORT" tls=off user= password_file=
run_rm "$T/m1" --config "$T/conf" -i bob@example.org
is "$RC" 0 "tls = off without user: exit 0"
facts
is "$J_listener" "plain" "plain listener used"
is "$J_tls" "False" "plain connection when tls = off"
is "$J_auth_user" "None" "no AUTH without a user"
cmp -s "$(last_eml)" "$T/m1.crlf"; ok $? "tls = off: content byte-exact"

# ---- no PIPELINING ------------------------------------------------------------
start_relay --no-pipelining
write_config "$T/conf"
run_rm "$T/m1" --config "$T/conf" -i bob@example.org c2@example.org
is "$RC" 0 "server without PIPELINING: exit 0"
is "$(rcpts)" "bob@example.org c2@example.org" "both recipients without PIPELINING"

# RELAYMAIL_CONFIG names the file like --config.
RELAYMAIL_CONFIG=$T/conf run_rm "$T/m1" bob@example.org
is "$RC" 0 "RELAYMAIL_CONFIG is honoured"

# --account picks the account.
{ printf '[account other]\nhost = localhost\nport = %s\ntls = off\nfrom = other@example.com\n\n' "$PLAIN_PORT"; cat "$T/conf"; } > "$T/conf2"; chmod 600 "$T/conf2"
run_rm "$T/m2" --config "$T/conf2" --account other bob@example.org
is "$RC" 0 "--account other: exit 0"
is "$(json_field "$(last_json)" listener) $(json_field "$(last_json)" mail_from)" "plain other@example.com" "--account other: its host, port and from"

# 8-bit content gets BODY=8BITMIME.
printf 'Subject: caf\xc3\xa9\n\nna\xc3\xafve\n' > "$T/m5"
run_rm "$T/m5" --config "$T/conf" bob@example.org
is "$RC" 0 "8-bit body: exit 0"
like "$(json_field "$(last_json)" mail_options)" "BODY=8BITMIME" "8-bit content is declared with BODY=8BITMIME"
eml_body "$(last_eml)" | grep -q $'na\xc3\xafve\r'; ok $? "8-bit body bytes arrive unchanged"

done_testing
