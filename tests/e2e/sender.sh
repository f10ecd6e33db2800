#!/bin/bash
# Who sends: the account chosen by the sender (account_by_sender, from lists
# with patterns and +detail, --check --sender), the envelope policy
# (envelope_from = header, allow_from_override = no), the host's mail name
# (/etc/mailname, never a host name without a dot), unknown option letters
# (exit 64), -f 'Name <addr>', and -t without header recipients.
# Runs in private mount and UTS namespaces so that it can give itself an
# /etc/mailname and a host name without touching the host's.
if [ -z "${RM_IN_NAMESPACE:-}" ] && [ "$(id -u)" -eq 0 ] && unshare -m -u true 2>/dev/null; then
	RM_IN_NAMESPACE=1 exec unshare -m -u bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

start_relay --users alice:s3cret,site1:s3cret,site2:s3cret,site3:s3cret,site4:s3cret
msg() { printf 'Subject: %s\n\nbody\n' "${1:-test}" > "$T/m"; }
msg

# accounts FILE [defaults-line ...]: [defaults] with the lines given, the
# default account "test" (user alice) and site1..site4 (user siteN).
accounts() {
	local f=$1; shift
	{
		printf '[defaults]\ndefault_account = test\nhost = localhost\nport = %s\n' "$STARTTLS_PORT"
		printf 'tls_ca_file = %s\npassword_file = %s\ndomain = example.com\ntimeout = 5\n' "$CERTS/ca.pem" "$PWFILE"
		for l in "$@"; do printf '%s\n' "$l"; done
		printf '\n[account test]\nuser = alice\nfrom = sender@example.com\n'
		printf '\n[account site1]\nuser = site1\nfrom = www@site1.example, *@site1.example\n'
		printf '\n[account site2]\nuser = site2\nfrom = alice@site2.example *@*.site2.example\n'
		printf '\n[account site3]\nuser = site3\nfrom = special@site1.example\n'
		printf '\n[account site4]\nuser = site4\nfrom = *@site4.example\n'
	} > "$f"
	chmod 600 "$f"
}

# ---- 1. the account chosen by the sender -------------------------------------
accounts "$T/by" "account_by_sender = yes"
sent() { facts; printf '%s %s' "$J_auth_user" "$J_mail_from"; }

run_rm "$T/m" --config "$T/by" -f bob@site1.example rcpt@example.org
is "$RC" 0 "account_by_sender: exit 0"
is "$(sent)" "site1 bob@site1.example" "-f bob@site1.example chooses site1 (*@site1.example); MAIL FROM is -f"
run_rm "$T/m" --config "$T/by" -f alice+git@site2.example rcpt@example.org
is "$(sent)" "site2 alice+git@site2.example" "+detail matches the base address (alice@site2.example)"
run_rm "$T/m" --config "$T/by" -f ALICE@Site2.Example rcpt@example.org
is "$(sent)" "site2 ALICE@Site2.Example" "matching ignores case"
run_rm "$T/m" --config "$T/by" -f news@lists.site2.example rcpt@example.org
is "$(sent)" "site2 news@lists.site2.example" "a pattern with a wildcard domain (*@*.site2.example)"
run_rm "$T/m" --config "$T/by" -f special@site1.example rcpt@example.org
is "$(sent)" "site3 special@site1.example" "an address entry beats an earlier account's pattern"
run_rm "$T/m" --config "$T/by" -f nobody@elsewhere.example rcpt@example.org
is "$(sent)" "alice nobody@elsewhere.example" "no match: the default account"
run_rm "$T/m" --config "$T/by" -f '<>' rcpt@example.org
is "$(sent)" "alice <>" "the null sender matches nothing: the default account"
run_rm "$T/m" --config "$T/by" --account test -f bob@site1.example rcpt@example.org
is "$(sent)" "alice bob@site1.example" "--account wins over account_by_sender"
run_rm "$T/m" --config "$T/by" -f 'Bounce Handler <bounce@site1.example>' rcpt@example.org
is "$(sent)" "site1 bounce@site1.example" "-f 'Name <addr>' chooses by the address"

printf 'From: Web Site <shop@site1.example>\nTo: rcpt@example.org\nSubject: t\n\nbody\n' > "$T/t1"
run_rm "$T/t1" --config "$T/by" -t
is "$RC" 0 "-t, From: chooses: exit 0"
is "$(sent)" "site1 www@site1.example" "-t: From: shop@site1.example chooses site1; MAIL FROM is its first address"
grep -q '^From: Web Site <shop@site1.example>' "$(last_eml)"; ok $? "-t: the From: header is kept"
printf 'From: <bob@site4.example>\nTo: rcpt@example.org\nSubject: t\n\nbody\n' > "$T/t4"
run_rm "$T/t4" --config "$T/by" -t
is "$(sent)" "site4 bob@site4.example" "an account with patterns only: MAIL FROM is the From: address they match"
printf 'From: <bob@site4.example>\nSubject: t\n\nbody\n' > "$T/t5"
run_rm "$T/t5" --config "$T/by" rcpt@example.org
is "$(sent)" "alice sender@example.com" "without -t the From: header does not choose"

# -bs (Symfony, Laravel): each MAIL FROM chooses, in one session.
cat > "$T/bs.py" <<'PY'
import subprocess, sys
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def reply():
    while True:
        l = p.stdout.readline().decode()
        if not l or len(l) < 4 or l[3] == " ":
            return l.rstrip("\r\n") or "EOF"
def cmd(c):
    p.stdin.write(c.encode() + b"\r\n"); p.stdin.flush()
    return reply()
reply(); cmd("EHLO app.example")
for sender in sys.argv[1].split(","):
    cmd("MAIL FROM:<%s>" % sender); cmd("RCPT TO:<rcpt@example.org>"); cmd("DATA")
    p.stdin.write(b"Subject: bs\r\n\r\nbody\r\n.\r\n"); p.stdin.flush()
    print(reply()[:3])
cmd("QUIT")
print("exit", p.wait())
PY
n0=$(msg_count)
"$PYTHON3" "$T/bs.py" bob@site1.example,nobody@elsewhere.example,alice@site2.example,www@site1.example,,special@site1.example \
	"$RELAYMAIL" --config "$T/by" -bs -v > "$T/bs.out" 2>"$T/bs.err"
is "$(tr '\n' ' ' < "$T/bs.out")" "250 250 250 250 250 250 exit 0 " "-bs, account_by_sender: six messages in one session, each 250, exit 0"
bs_users=
for f in $(ls "$RELAY"/messages/*.json | tail -n +$((n0 + 1))); do
	facts "$f"; bs_users="$bs_users $J_auth_user:${J_mail_from:-<>}"
done
is "$bs_users" " site1:bob@site1.example alice:nobody@elsewhere.example site2:alice@site2.example site1:www@site1.example alice:<> site3:special@site1.example" \
	"... each MAIL FROM chose its account (the null sender and no match: the default)"
like "$(cat "$T/bs.err")" "bob@site1.example matches \*@site1.example in the from of account 'site1'" "... -v says why"
unlike "$(cat "$T/bs.err")" "s3cret" "... and shows no password"
"$PYTHON3" "$T/bs.py" bob@site1.example "$RELAYMAIL" --config "$T/by" --account test -bs > "$T/bs.out" 2>&1
facts; is "$J_auth_user" alice "-bs with --account: --account wins over MAIL FROM"

accounts "$T/off"
run_rm "$T/m" --config "$T/off" -f bob@site1.example rcpt@example.org
is "$(sent)" "alice bob@site1.example" "account_by_sender off (the default): -f does not choose"

# --check --sender
before=$(msg_count)
run_rm /dev/null --config "$T/by" --check --sender bob@site1.example
like "$OUT" "INFO +account_by_sender \([^)]*by:9\): bob@site1.example matches \*@site1.example in the from of account 'site1' \([^)]*by:17\)" \
	"--check --sender: the account, the entry, and where both are set"
like "$OUT" "relay host localhost resolves" "--check --sender: then checks that account"
run_rm /dev/null --config "$T/by" --check --sender stranger@example.net
like "$OUT" "stranger@example.net matches no account's from: the default account" "--check --sender: no match"
run_rm /dev/null --config "$T/off" --check --sender bob@site1.example
like "$OUT" "account_by_sender is off" "--check --sender: says when account_by_sender is off"
like "$OUT" "with account_by_sender = yes: bob@site1.example matches" "--check --sender: and what it would choose"
run_rm /dev/null --config "$T/by" --check --sender 'not an address'
is "$RC" 64 "--check --sender with a non-address: exit 64"
run_rm "$T/m" --config "$T/by" --sender bob@site1.example rcpt@example.org
is "$RC" 64 "--sender without --check: exit 64"
is "$(msg_count)" "$before" "--check and the refused run sent nothing"

write_config "$T/badfrom" "from=www@site1.example, nonsense"
run_rm "$T/m" --config "$T/badfrom" rcpt@example.org
is "$RC" 78 "a from entry that is no address: exit 78"
like "$ERR" "badfrom:[0-9]+: from: 'nonsense' is neither an address nor a pattern" "the bad entry is named with file:line"

# ---- 2. envelope policy -------------------------------------------------------
write_config "$T/hdr" envelope_from=header
printf 'From: Carol <carol@example.com>\nSubject: t\n\nbody\n' > "$T/h1"
run_rm "$T/h1" --config "$T/hdr" rcpt@example.org
is "$RC" 0 "envelope_from = header: exit 0"
is "$(json_field "$(last_json)" mail_from)" "carol@example.com" "envelope_from = header: MAIL FROM from From:"
run_rm "$T/h1" --config "$T/hdr" -f other@example.com rcpt@example.org
is "$(json_field "$(last_json)" mail_from)" "other@example.com" "envelope_from = header: -f still wins"
printf 'From: a@example.com, b@example.com\nSender: secretary@example.com\nSubject: t\n\nbody\n' > "$T/h2"
run_rm "$T/h2" --config "$T/hdr" rcpt@example.org
is "$(json_field "$(last_json)" mail_from)" "secretary@example.com" "envelope_from = header: Sender: when From: has two mailboxes"
run_rm "$T/m" --config "$T/hdr" rcpt@example.org
is "$(json_field "$(last_json)" mail_from)" "sender@example.com" "envelope_from = header without From:: the account's from"
write_config "$T/acct"
run_rm "$T/h1" --config "$T/acct" rcpt@example.org
is "$(json_field "$(last_json)" mail_from)" "sender@example.com" "envelope_from = account (the default): From: is not used"

write_config "$T/always" "from=sender@example.com, *@site.example" from_policy=always
printf 'From: Shop <shop@site.example>\nSubject: t\n\nbody\n' > "$T/p1"
run_rm "$T/p1" --config "$T/always" rcpt@example.org
grep -q '^From: Shop <shop@site.example>' "$(last_eml)"; ok $? "from_policy = always: a From: the from list allows stays"
is "$(json_field "$(last_json)" mail_from)" "sender@example.com" "a from list: MAIL FROM is its first address"
printf 'From: Other <x@other.example>\nSubject: t\n\nbody\n' > "$T/p2"
run_rm "$T/p2" --config "$T/always" rcpt@example.org
like "$(grep '^From:' "$(last_eml)")" "<sender@example.com>" "from_policy = always: any other From: becomes the first address"

write_config "$T/nooverride" allow_from_override=no
run_rm "$T/m" --config "$T/nooverride" -f attacker@evil.example rcpt@example.org
is "$RC" 0 "allow_from_override = no: exit 0"
is "$(json_field "$(last_json)" mail_from)" "sender@example.com" "allow_from_override = no: -f is ignored"
is "$ERR" "" "allow_from_override = no: nothing on stderr (syslog only)"
run_rm "$T/m" --config "$T/nooverride" -r attacker@evil.example rcpt@example.org
is "$(json_field "$(last_json)" mail_from)" "sender@example.com" "allow_from_override = no: -r is ignored too"

# ---- 6. unknown option letters ----------------------------------------------
write_config "$T/conf"
before=$(msg_count)
run_rm "$T/m" --config "$T/conf" -K value rcpt@example.org
is "$RC" 64 "unknown option -K: exit 64 (Postfix)"
like "$ERR" "unknown option -K" "unknown option -K: named on stderr"
run_rm "$T/m" --config "$T/conf" -tK
is "$RC" 64 "unknown letter in a bundle: exit 64"
is "$(msg_count)" "$before" "unknown options: nothing sent (no mail to 'value')"
run_rm "$T/m" --config "$T/conf" -Am -c -d0.1 -e m -E -G -h 5 -J -L tag -M x -m -n -o i -odi -oem \
	-p smtp -Q reason -s -S -T -U -x -B 8BITMIME -N never -R hdrs -V envid1 -O DeliveryMode=b -- rcpt@example.org
is "$RC" 0 "every documented letter relaymail accepts or ignores still works"
is "$(msg_count)" "$((before + 1))" "... and the message is sent"
run_rm "$T/m" --config "$T/conf" -X /tmp/x.php -C /etc/x.cf -D /tmp/dbg rcpt@example.org
is "$RC" 0 "-X, -C, -D: still ignored with a warning (exit 0)"

# ---- 10. -f with a display name; -t without header recipients ------------------
run_rm "$T/m" --config "$T/conf" -f 'Bounce Handler <bounce@example.com>' rcpt@example.org
is "$RC" 0 "-f 'Bounce Handler <bounce@example.com>': exit 0"
is "$(json_field "$(last_json)" mail_from)" "bounce@example.com" "-f 'Name <addr>': MAIL FROM is the address"
run_rm "$T/m" --config "$T/conf" -f 'bounce@example.com (Bounce Handler)' rcpt@example.org
is "$(json_field "$(last_json)" mail_from)" "bounce@example.com" "-f 'addr (comment)': MAIL FROM is the address"
run_rm "$T/m" --config "$T/conf" -f 'a@example.com, b@example.com' rcpt@example.org
is "$RC" 64 "-f with two addresses: exit 64"
printf 'Subject: no recipients\n\nbody\n' > "$T/nr"
run_rm "$T/nr" --config "$T/conf" -t
is "$RC" 64 "-t without recipients: exit 64"
like "$ERR" "-t found no address in the To:, Cc: and Bcc: headers" "-t without recipients: says so"
unlike "$ERR" "use -t" "-t without recipients: does not suggest -t"
run_rm "$T/nr" --config "$T/conf"
like "$ERR" "give them as arguments or use -t" "no -t, no recipients: suggests -t"

# ---- 3. the host's mail name ----------------------------------------------------
if [ -z "${RM_IN_NAMESPACE:-}" ]; then
	skip "mail name" "needs root and private mount and UTS namespaces (unshare -m -u)"
	done_testing; exit 0
fi
# /etc as an overlay whose upper layer is private: /etc/mailname can be
# written and removed here without touching the host's /etc.
mkdir -p "$T/ov"
# Without overlayfs: a private copy of /etc bind-mounted on it.
mount -t tmpfs tmpfs "$T/ov" && mkdir -p "$T/ov/up" "$T/ov/work" &&
	{ mount -t overlay overlay -o "lowerdir=/etc,upperdir=$T/ov/up,workdir=$T/ov/work" /etc 2>/dev/null ||
	  { cp -a /etc "$T/ov/etc" && mount --bind "$T/ov/etc" /etc; }; } ||
	{ echo "Bail out! cannot give this test a private /etc"; exit 1; }
# Unmounted before lib.sh's cleanup, which removes $T.
trap 'umount -l /etc 2>/dev/null; umount -l "$T/ov" 2>/dev/null; cleanup' EXIT
rm -f /etc/mailname
hostname web1
write_config "$T/nodomain" domain=
printf 'From: root\nTo: root\nSubject: t\n\nbody\n' > "$T/root"
before=$(msg_count)
run_rm "$T/root" --config "$T/nodomain" root
is "$RC" 78 "no domain, no /etc/mailname, host name web1: exit 78"
like "$ERR" "cannot qualify 'root': set domain in account 'test', write the mail domain to /etc/mailname, or add 'root' to \[aliases\] \(the host name 'web1' has no dot\)" \
	"says which setting is missing"
is "$(msg_count)" "$before" "nothing sent to root@web1"
write_config "$T/nothing" domain= from=
run_rm "$T/m" --config "$T/nothing" rcpt@example.org
is "$RC" 78 "no from, no domain, host name web1: exit 78"
like "$ERR" "no sender address for '[^']+': set from or domain in account 'test', or write the mail domain to /etc/mailname" \
	"the sender: says which setting is missing"
run_rm "$T/m" --config "$T/nodomain" rcpt@example.org
is "$RC" 0 "no domain but from set and qualified recipients: sent"
like "$(grep -i '^Message-ID:' "$(last_eml)")" "@example.com>" "Message-ID takes the sender's domain, not web1"
facts; isnt "$J_ehlo_name" "web1" "EHLO does not use the bare host name when the sender has a domain"

echo mail.example.net > /etc/mailname
run_rm "$T/root" --config "$T/nodomain" root
is "$RC" 0 "/etc/mailname: exit 0"
is "$(json_field "$(last_json)" rcpt_tos)" "root@mail.example.net" "/etc/mailname qualifies bare names"
grep -q '^To: root@mail.example.net' "$(last_eml)"; ok $? "/etc/mailname qualifies header addresses"
run_rm "$T/root" --config "$T/conf" root
is "$(json_field "$(last_json)" rcpt_tos)" "root@example.com" "domain beats /etc/mailname"
hostname web1.hosts.example
run_rm "$T/root" --config "$T/nodomain" root
is "$(json_field "$(last_json)" rcpt_tos)" "root@mail.example.net" "/etc/mailname beats the host name"
rm /etc/mailname
run_rm "$T/root" --config "$T/nodomain" root
is "$(json_field "$(last_json)" rcpt_tos)" "root@web1.hosts.example" "no /etc/mailname: a host name with a dot qualifies"
hostname web1
echo localhost > /etc/mailname
run_rm "$T/root" --config "$T/nodomain" root
is "$RC" 78 "an /etc/mailname without a dot is not used"

done_testing
