#!/bin/bash
# The real programs that call sendmail, each against the test relay.
. "$(dirname "$0")/lib.sh"

start_relay
write_config "$T/conf" from=
printf '\n[aliases]\nroot = ops@example.com\n' >> "$T/conf"
export RELAYMAIL_CONFIG=$T/conf

have() { command -v "$1" >/dev/null 2>&1; }

# ---- PHP mail() through sendmail_path (CRLF headers, LF body) ----
if have php; then
	php -d sendmail_path="$RELAYMAIL -t -i" -r '
		var_dump(mail("bob@example.org", "PHP subject", "line one\n.dot line\nline three",
			"From: app@example.com\r\nCc: carol@example.org\r\nBcc: hidden@example.org"));' > "$T/php.out" 2>&1
	like "$(cat "$T/php.out")" "bool\(true\)" "PHP mail(): returns true"
	is "$(json_field "$(last_json)" rcpt_tos)" "bob@example.org carol@example.org hidden@example.org" "PHP mail(): To, Cc and Bcc recipients"
	if [ "$(id -u)" -eq 0 ]; then want=ops@example.com; else want=$(id -un)@example.com; fi
	is "$(json_field "$(last_json)" mail_from)" "$want" "PHP mail(): envelope sender is the login name, through [aliases]"
	eml=$(cat "$(last_eml)")
	! printf '%s' "$eml" | grep -q $'\r\r'; ok $? "PHP mail(): no CR CR LF from PHP's CRLF headers"
	printf '%s' "$eml" | grep -q $'^\\.dot line\r$'; ok $? "PHP mail(): a body line starting with a dot arrives intact"
	! printf '%s' "$eml" | grep -qi '^Bcc:'; ok $? "PHP mail(): Bcc header removed"
	php -d sendmail_path="$RELAYMAIL -t -i" -r '
		var_dump(mail("bob@example.org", "PHP -f", "body", "From: app@example.com", "-fbounce@example.com"));' > "$T/php.out" 2>&1
	like "$(cat "$T/php.out")" "bool\(true\)" "PHP mail() with -f in additional_params: true"
	is "$(json_field "$(last_json)" mail_from)" "bounce@example.com" "PHP mail() -f sets the envelope sender"
else
	skip "PHP mail()" "php-cli not installed"
fi

# ---- git send-email with Cc and Bcc ----
if have git && git send-email --help >/dev/null 2>&1; then
	mkdir -p "$T/repo" && cd "$T/repo" && git init -q . && echo fixed > frob.c && git add frob.c &&
		git -c user.name=Dev -c user.email=dev@example.com commit -q -m "Fix the frobnicator" &&
		git format-patch -q -1 -o "$T/patches" >/dev/null
	git -c user.name=Dev -c user.email=dev@example.com send-email --quiet --confirm=never \
		--sendmail-cmd="$RELAYMAIL" --from="Dev <dev@example.com>" --to=list@example.org \
		--cc=reviewer@example.org --bcc=archive@example.org --suppress-cc=all \
		"$T/patches"/*.patch > "$T/git.out" 2>&1
	is "$?" 0 "git send-email: exit 0"
	cd "$T"
	is "$(json_field "$(last_json)" rcpt_tos)" "list@example.org reviewer@example.org archive@example.org" "git send-email: To, Cc and Bcc (arguments) are recipients"
	grep -q 'Subject: \[PATCH\] Fix the frobnicator' "$(last_eml)"; ok $? "git send-email: the patch arrived"
	! grep -q 'archive@example.org' "$(last_eml)"; ok $? "git send-email: Bcc not in the content"
else
	skip "git send-email" "git-email not installed"
fi

# ---- mailutils mail -s ----
if have mail && mail --version 2>/dev/null | grep -q 'GNU Mailutils'; then
	echo "mailutils body" | mail -E "set sendmail=sendmail://$RELAYMAIL" -s "mailutils subject" root > "$T/mail.out" 2>&1
	is "$?" 0 "mailutils mail -s: exit 0"
	is "$(json_field "$(last_json)" rcpt_tos)" "ops@example.com" "mailutils: bare root resolved through [aliases]"
	grep -q 'Subject: mailutils subject' "$(last_eml)"; ok $? "mailutils: subject arrived"
else
	skip "mailutils mail" "mailutils not installed"
fi

# ---- cron and friends, with their exact command lines ----
host=$(hostname)
cron_msg() {
	printf 'From: "(Cron Daemon)" <root>\nTo: root\nSubject: Cron <root@%s> run-parts /etc/cron.daily\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\nAuto-Submitted: auto-generated\nX-Cron-Env: <SHELL=/bin/sh>\n\njob output\n.\nafter the dot\n' "$host"
}
cron_msg > "$T/cron"
run_rm "$T/cron" -FCronDaemon -i -odi -oem -oi -t -f root
is "$RC" 0 "cronie command line: exit 0"
is "$(json_field "$(last_json)" rcpt_tos)" "ops@example.com" "cronie: To: root resolved"
is "$(json_field "$(last_json)" mail_from)" "ops@example.com" "cronie: -f root resolved"
grep -q 'after the dot' "$(last_eml)"; ok $? "cronie (-i): output after a lone dot is kept"
grep -q '^To: ops@example.com' "$(last_eml)"; ok $? "cronie: To header qualified for the relay"

run_rm "$T/cron" -FCronDaemon -i -B8BITMIME -oem root
is "$RC" 0 "Debian cron command line: exit 0"
like "$(json_field "$(last_json)" mail_options)" "BODY=8BITMIME" "Debian cron: -B8BITMIME honoured"

run_rm "$T/cron" -FAnacron -odi root
is "$RC" 0 "anacron command line (no -i): exit 0"
! grep -q 'after the dot' "$(last_eml)"; ok $? "anacron (no -i): a lone dot ends the message, like Postfix"

run_rm "$T/cron" -i -B 8BITMIME root
is "$RC" 0 "systemd-cron command line (separate -B value): exit 0"

printf 'Subject: [Fail2Ban] sshd: banned 192.0.2.1\nDate: %s\nFrom: Fail2Ban <fail2ban>\nTo: root\n\nThe IP 192.0.2.1 has just been banned.\n' "$(date -R)" > "$T/f2b"
run_rm "$T/f2b" -f "fail2ban" "root"
is "$RC" 0 "fail2ban command line: exit 0"
is "$(json_field "$(last_json)" mail_from)" "fail2ban@example.com" "fail2ban: bare sender qualified"
grep -q '^From: Fail2Ban <fail2ban@example.com>' "$(last_eml)"; ok $? "fail2ban: From header qualified"

printf 'Subject: Output from your job 42\nTo: alice\n\n' > "$T/at"
run_rm "$T/at" -i alice
is "$RC" 0 "at (headers only, bare user): exit 0"
is "$(json_field "$(last_json)" rcpt_tos)" "alice@example.com" "at: bare user qualified"

done_testing
