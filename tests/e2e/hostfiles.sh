#!/bin/bash
# The mail host's files: aliases_file (/etc/aliases syntax) and newaliases,
# /etc/relaymail.d drop-ins, the ports --check probes when 587 and 465 are
# blocked, and --import-msmtprc.  Runs in a private mount namespace so that
# it can give relaymail a system file and a relaymail.d of its own
# (bind-mounted on SYSCONFDIR) without touching the host's.
if [ -z "${RM_IN_NAMESPACE:-}" ] && [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
	RM_IN_NAMESPACE=1 exec unshare -m bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

start_relay
msg() { printf 'Subject: hosts\n\nbody\n' > "$T/m"; }
msg

# ---- aliases_file ------------------------------------------------------------

A=$T/aliases
cat > "$A" <<'EOF'
# a system aliases file
root: admin@example.org, "Root Two" <r2@example.org>
postmaster:	root
staff: a@example.org,
  # a comment inside an entry
	b@example.org
mixed: |/usr/bin/procmail, /var/log/all-mail, :include:/etc/mail/list, "|/bin/cat -", keep@example.org
pipeonly: "|/usr/bin/vacation bob"
self: \self, copy@example.org
EOF
chmod 644 "$A"
write_config "$T/conf" aliases_file="$A"
send() { run_rm "$T/m" --config "$T/conf" "$@"; }

send root
is "$RC" 0 "aliases_file: a name from the file is sent"
is "$(rcpts)" "admin@example.org r2@example.org" "aliases_file: a list with a display name"
send ROOT
is "$(rcpts)" "admin@example.org r2@example.org" "aliases_file: names are case-insensitive"
send postmaster
is "$(rcpts)" "admin@example.org r2@example.org" "aliases_file: a name through another name (tab after the colon)"
send staff
is "$(rcpts)" "a@example.org b@example.org" "aliases_file: continuation lines, a comment inside an entry"
send mixed
is "$RC" 0 "aliases_file: pipes, files and :include: are left out, the address is kept"
is "$(rcpts)" "keep@example.org" "aliases_file: only the address gets the message"
is "$(grep -c "aliases:7: alias 'mixed'" "$T/stderr")" 1 "aliases_file: one warning for the entry, with file:line"
like "$ERR" "relaymail sends to addresses only" "aliases_file: the warning says why"
printf 'To: mixed\nCc: mixed, staff\nSubject: x\n\nbody\n' > "$T/m2"
run_rm "$T/m2" --config "$T/conf" -t
is "$(grep -c "alias 'mixed'" "$T/stderr")" 1 "aliases_file: warned once per run, however often the name is used"
send pipeonly
is "$(rcpts)" "pipeonly@example.com" "aliases_file: an entry with no address left counts as no alias"
like "$ERR" "aliases:8: alias 'pipeonly' .*treated as if it had no alias" "aliases_file: ... and says so"
send self
is "$(rcpts)" "copy@example.org" "aliases_file: \\name (local delivery) is left out"
send bob@example.net
is "$(rcpts)" "bob@example.net" "aliases_file: an address with a domain is not looked up"
is "$ERR" "" "aliases_file: no warning when no name needed the file"
send nobody
is "$(rcpts)" "nobody@example.com" "aliases_file: a name not in the file is qualified as before"

# [aliases] takes precedence, and both expand through each other.
{ cat "$T/conf"; printf '\n[aliases]\nroot = boss@example.net\nops = postmaster, staff\n'; } > "$T/conf.tmp"
mv "$T/conf.tmp" "$T/conf2"; chmod 600 "$T/conf2"
run_rm "$T/m" --config "$T/conf2" root
is "$(rcpts)" "boss@example.net" "[aliases] takes precedence over aliases_file"
run_rm "$T/m" --config "$T/conf2" ops
is "$(rcpts)" "a@example.org b@example.org boss@example.net" "[aliases] names expand through the file and back"

# In [defaults], for every account.
printf '[defaults]\ndefault_account = test\naliases_file = %s\n\n' "$A" > "$T/conf3"
sed -n '/^\[account test\]/,$p' "$T/conf" | grep -v '^aliases_file' >> "$T/conf3"; chmod 600 "$T/conf3"
run_rm "$T/m" --config "$T/conf3" root
is "$(rcpts)" "admin@example.org r2@example.org" "aliases_file in [defaults] serves the account"

# The file cannot be used: mail for a name is not sent somewhere else.
write_config "$T/conf" aliases_file="$T/missing"
before=$(msg_count)
send root
is "$RC" 78 "aliases_file missing: exit 78 for a name"
like "$ERR" "missing: cannot open" "aliases_file missing: says which file"
is "$(msg_count)" "$before" "aliases_file missing: nothing sent"
send bob@example.net
is "$RC" 0 "aliases_file missing: mail with domains still goes"
cp "$A" "$T/open"; chmod 666 "$T/open"
write_config "$T/conf" aliases_file="$T/open"
send root
is "$RC" 78 "aliases_file writable by others: refused"
like "$ERR" "writable by group or others" "aliases_file writable by others: says why"
chown nobody "$T/open"; chmod 644 "$T/open"
send root
like "$ERR" "owned by another user" "aliases_file of another user: refused"
mkfifo "$T/fifo"
write_config "$T/conf" aliases_file="$T/fifo"
RM_TIMEOUT=10 send root
is "$RC" 78 "aliases_file is a FIFO: refused without hanging"
head -c $((4 * 1024 * 1024 + 1)) /dev/zero | tr '\0' '#' > "$T/big"; chmod 644 "$T/big"
write_config "$T/conf" aliases_file="$T/big"
send root
like "$ERR" "larger than 4194304 bytes" "aliases_file over 4 MiB: refused"

# Broken entries are skipped, with one warning; the good ones work.
{ printf 'this line has no colon\nroot: admin@example.org\nx: %s@example.org\nloopa: loopb\nloopb: loopa\n' \
	"$(head -c 5000 /dev/zero | tr '\0' a)"; } > "$T/broken"; chmod 644 "$T/broken"
write_config "$T/conf" aliases_file="$T/broken"
send root
is "$RC" 0 "broken entries: the good ones still work"
is "$(rcpts)" "admin@example.org" "broken entries: the right recipient"
like "$ERR" "broken:1: expected 'name: value'; 2 entries with errors are skipped \\(newaliases lists them\\)" \
	"broken entries: one warning naming the first, file:line"
printf 'root: admin@example.org\nno colon\n' > "$T/broken1"; chmod 644 "$T/broken1"
write_config "$T/conf" aliases_file="$T/broken1"
send root
like "$ERR" "broken1:2: expected 'name: value'; 1 entry with errors is skipped \\(newaliases lists it\\)" \
	"one broken entry: the warning in the singular"
send -bi
like "$ERR" "1 problem found in the aliases file" "newaliases: one problem, in the singular"
write_config "$T/conf" aliases_file="$T/broken"
send loopa
is "$RC" 78 "an alias loop: exit 78"
like "$ERR" "alias 'loopa' loops" "an alias loop: says so"

# ---- newaliases ----------------------------------------------------------------

write_config "$T/conf" aliases_file="$A"
send -bi
is "$RC" 0 "newaliases (-bi): a valid file: exit 0"
unlike "$ERR" "relaymail: /" "newaliases: no error for a valid file"
like "$ERR" "warning: .*aliases:7: alias 'mixed': a pipe ignored" "newaliases: pipes are named as warnings"
ln -sf "$RELAYMAIL" "$T/newaliases"
timeout 20 "$T/newaliases" --config "$T/conf" </dev/null >"$T/stdout" 2>"$T/stderr"
is "$?" 0 "newaliases by its name: exit 0"
cat > "$T/bad" <<'EOF'
root: admin@example.org
no colon here
bad!name: x@example.org
  stray: continuation
root: again@example.org
list: ok@example.org, <broken
a1: a2
a2: a1
d1: d2
d2: d3
d3: d4
d4: d5
d5: d6
d6: d7
d7: d8
d8: d9
d9: end@example.org
EOF
chmod 644 "$T/bad"
write_config "$T/conf" aliases_file="$T/bad"
send -I
is "$RC" 78 "newaliases (-I): errors: exit 78"
like "$ERR" "bad:2: expected 'name: value'" "newaliases: a line without a colon, with its number"
like "$ERR" "bad:3: invalid alias name 'bad!name'" "newaliases: an invalid name"
like "$ERR" "bad:5: alias 'root' is defined twice \\(first at line 1\\)" "newaliases: a name defined twice"
like "$ERR" "bad:6: alias 'list': invalid address list" "newaliases: an address list that does not parse"
like "$ERR" "bad:7: alias 'a1' loops: a1 -> a2 -> a1" "newaliases: a loop"
like "$ERR" "bad:9: alias 'd1' expands through more than 8 levels" "newaliases: too deep"
unlike "$ERR" "bad:10:" "newaliases: a chain of 8 is fine"
like "$ERR" "6 problems found in the aliases file" "newaliases: the count"
{ cat "$T/conf"; printf '\n[aliases]\nd9 = d1\n'; } > "$T/conf4"; chmod 600 "$T/conf4"
run_rm /dev/null --config "$T/conf4" -bi
like "$ERR" "alias 'd9' loops: d9 -> d1 -> .* -> d8 -> d9" "newaliases: loops through [aliases] too"
like "$ERR" "conf4:[0-9]+: alias 'd9' loops" "newaliases: ... with the file:line of [aliases]"
unlike "$ERR" "alias 'd9' expands through" "newaliases: a loop is not also reported as too deep"
write_config "$T/conf" aliases_file="$T/missing"
send -bi
is "$RC" 78 "newaliases: a missing file: exit 78"
write_config "$T/conf"
send -bi
is "$RC" 0 "newaliases without aliases_file: exit 0 (package scripts run it)"
like "$ERR" "no account sets aliases_file, so relaymail does not read /etc/aliases" "newaliases without aliases_file: says so"
send -bi bob
is "$RC" 64 "newaliases takes no recipients"

# ---- /etc/relaymail.d ------------------------------------------------------------

if [ -z "${RM_IN_NAMESPACE:-}" ]; then
	skip "relaymail.d" "needs root and a private mount namespace (unshare -m)"
else
	SYSCONFDIR=${RELAYMAIL_SYSCONFDIR:-/usr/local/etc}
	mkdir -p "$T/etc/relaymail.d" "$SYSCONFDIR"
	chmod 755 "$T/etc" "$T/etc/relaymail.d"
	write_config "$T/etc/relaymail.conf" from=system@example.com
	chmod 644 "$T/etc/relaymail.conf"
	mount --bind "$T/etc" "$SYSCONFDIR" || { echo "Bail out! cannot bind-mount $SYSCONFDIR"; exit 1; }
	D=$T/etc/relaymail.d
	dropin() {  # dropin NAME TEXT
		printf '%s\n' "$2" > "$D/$1"; chmod 644 "$D/$1"
	}
	sys_send() { run_rm "$T/m" "$@" bob@example.org; }   # no user file: the system files only
	sys_send
	facts
	is "$J_mail_from" "system@example.com" "relaymail.d absent: the system file alone"
	dropin 10-a.conf $'[account test]\nfrom = ten@example.com'
	dropin 9-b.conf $'[account test]\nfrom = nine@example.com'
	dropin Z.conf $'[account test]\nfrom = zed@example.com'
	dropin a.conf $'[account test]\nfrom = lower@example.com'
	sys_send
	facts
	is "$J_mail_from" "lower@example.com" "relaymail.d: read after the system file, in C name order (a.conf last)"
	dropin README 'not = a [valid file'
	dropin .hidden.conf '[broken'
	dropin b.conf.dpkg-old '[broken'
	mkdir "$D/dir.conf"
	ln -s /nonexistent "$D/dangling.conf"
	sys_send
	is "$RC" 0 "relaymail.d: other names, hidden files, directories and dangling links are not read"
	rmdir "$D/dir.conf"; rm -f "$D/dangling.conf"
	dropin zz.conf $'[defaults]\nalternate_config_directories = /srv/mail'
	sys_send
	is "$RC" 0 "relaymail.d: system-file-only keys are accepted there"
	dropin zz.conf $'[service]\nsocket = /nonexistent/sock'
	run_rm /dev/null --check
	like "$OUT" "system mode" "relaymail.d: [service] there turns the system mode on"
	unlike "$OUT$ERR" "only honoured in the system file" "relaymail.d: ... counting as the system file"
	dropin zz.conf $'[account test]\nfrom = zz@example.com\nbogus = 1'
	sys_send
	is "$RC" 78 "relaymail.d: an error in a drop-in: exit 78"
	like "$ERR" "relaymail.d/zz.conf:3: unknown key 'bogus'" "relaymail.d: ... with its file:line"
	dropin zz.conf $'[account test]\nfrom = zz@example.com'
	chmod 666 "$D/zz.conf"
	sys_send
	like "$ERR" "zz.conf: refusing a configuration file writable by group or others" "relaymail.d: an unsafe drop-in is refused"
	chmod 644 "$D/zz.conf"; chown nobody "$D/zz.conf"
	sys_send
	like "$ERR" "zz.conf: refusing a configuration file owned by another user" "relaymail.d: a drop-in of another user is refused"
	chown root "$D/zz.conf"
	chmod 777 "$D"
	sys_send
	is "$RC" 78 "relaymail.d writable by others: refused"
	like "$ERR" "relaymail.d: refusing a directory" "relaymail.d writable by others: says why"
	chmod 755 "$D"
	sys_send
	facts
	is "$J_mail_from" "zz@example.com" "relaymail.d: the last drop-in wins"
	write_config "$HOME/.config/relaymail/config" from=user@example.com 2>/dev/null ||
		{ mkdir -p "$HOME/.config/relaymail"; write_config "$HOME/.config/relaymail/config" from=user@example.com; }
	sys_send
	facts
	is "$J_mail_from" "user@example.com" "relaymail.d: the user file still comes after it"
	rm -f "$HOME/.config/relaymail/config"
	umount "$SYSCONFDIR"
fi

# ---- --check: the ports a provider documents ------------------------------------------

# 1, 2, 3 and 4 stand for 587, 465, the provider's ports and 443: nothing listens there.
export RELAYMAIL_CHECK_PORTS="1,2"
write_config "$T/conf" provider=sendgrid host=localhost port=3
RELAYMAIL_CHECK_ALT_PORTS="4,$PLAIN_PORT" RELAYMAIL_CHECK_HTTPS_PORT=5 run_rm /dev/null --config "$T/conf" --check
like "$OUT" "FAIL +port 3 is blocked .* but $PLAIN_PORT works: set port = $PLAIN_PORT" \
	"--check: 587 and 465 blocked, a provider's port works: names the setting"
like "$OUT" "port 4 +Connection refused" "--check: each port tried is listed"
RELAYMAIL_CHECK_ALT_PORTS="4" RELAYMAIL_CHECK_HTTPS_PORT=$IMPLICIT_PORT run_rm /dev/null --config "$T/conf" --check
like "$OUT" "FAIL +only port $IMPLICIT_PORT \\(HTTPS\\) of localhost answers" "--check: only HTTPS gets out: says so"
RELAYMAIL_CHECK_ALT_PORTS="4" RELAYMAIL_CHECK_HTTPS_PORT=5 run_rm /dev/null --config "$T/conf" --check
like "$OUT" "FAIL +no port of localhost answers, not even 5" "--check: nothing answers: says so"
RELAYMAIL_CHECK_HTTPS_PORT=5 run_rm /dev/null --config "$T/conf" --check
like "$OUT" $'\n +port 2525 ' "--check: SendGrid's preset port 2525 is probed"
like "$OUT" $'\n +port 25 ' "--check: ... and 25"
write_config "$T/conf" provider=ses host=localhost port=3
RELAYMAIL_CHECK_HTTPS_PORT=5 run_rm /dev/null --config "$T/conf" --check
like "$OUT" $'\n +port 2587 ' "--check: SES's preset port 2587 is probed"
write_config "$T/conf" host=localhost port=3
RELAYMAIL_CHECK_HTTPS_PORT=5 run_rm /dev/null --config "$T/conf" --check
unlike "$OUT" "port 2525" "--check: no provider, no provider ports"
write_config "$T/conf" provider=sendgrid host=localhost port=$STARTTLS_PORT
RELAYMAIL_CHECK_ALT_PORTS="4" run_rm /dev/null --config "$T/conf" --check
unlike "$OUT" "port 4 " "--check: the configured port works: no further probing"
unset RELAYMAIL_CHECK_PORTS

# ---- --import-msmtprc ----------------------------------------------------------

M=$T/msmtprc
cat > "$M" <<EOF
# msmtp configuration
defaults
auth           on
tls            on
tls_trust_file $CERTS/ca.pem
logfile        ~/.msmtp.log

account        relay
host           localhost
port           $STARTTLS_PORT
from           sender@example.com
user           alice
passwordeval   "cat $PWFILE"
tls_fingerprint 00:11:22

account        other : relay
from           other@example.com
password       hunter2
tls_starttls   off
port           $IMPLICIT_PORT
auth           plain
tls_certcheck  off
aliases        /etc/aliases
syslog         LOG_MAIL

account default : relay
EOF
imp() { run_rm /dev/null --import-msmtprc "$@"; }
imp "$M"
is "$RC" 0 "import: exit 0"
cat > "$T/want" <<EOF
# relaymail configuration imported from $M (relaymail --import-msmtprc)
# See relaymail.conf(5).

[defaults]
default_account = relay
tls_ca_file = $CERTS/ca.pem
log_file = $HOME/.msmtp.log

[account relay]
host = localhost
port = $STARTTLS_PORT
tls = starttls
user = alice
password_command = cat $PWFILE
from = sender@example.com

[account other]
host = localhost
port = $IMPLICIT_PORT
tls = implicit
tls_verify = no
auth = plain
user = alice
password_command = cat $PWFILE
from = other@example.com
aliases_file = /etc/aliases
EOF
is "$OUT" "$(cat "$T/want")" "import: accounts, defaults, inheritance, tls/starttls, trust file, certcheck, auth, ~"
like "$ERR" "msmtprc:14: 'tls_fingerprint' has no relaymail equivalent; left out" "import: untranslatable, with the line"
like "$ERR" "msmtprc:24: 'syslog' has no relaymail equivalent" "import: ... each of them"
unlike "$OUT$ERR" "hunter2" "import: the password is never printed"
unlike "$ERR" "password of account 'other'" "import: no password note when passwordeval is inherited"
printf '%s\n' "$OUT" > "$T/imported"; chmod 600 "$T/imported"
run_rm "$T/m" --config "$T/imported" bob@example.org
is "$RC" 0 "import: the output is a working configuration"
facts
is "$J_auth_user" "alice" "import: ... that authenticates with the password_command"
run_rm "$T/m" --config "$T/imported" --account other bob@example.org
is "$RC" 0 "import: implicit TLS account works too"
cat > "$M" <<'EOF'
account plainacct
host mail.example.com
user bob
password "se\"cret"
EOF
imp "$M"
is "$RC" 0 "import: a password: still exit 0"
like "$OUT" $'\nport = 25\ntls = off\nuser = bob' "import: msmtp's defaults (port 25, no TLS) are written out"
like "$ERR" "msmtprc:4: the password of account 'plainacct' is not copied: store it in the keyring with: relaymail --set-password plainacct" \
	"import: the password: where and how to store it"
like "$ERR" "authenticates without TLS in msmtp; relaymail never does" "import: no TLS with a user: said"
unlike "$OUT$ERR" 'se.?"cret' "import: the password is not printed"
printf 'account a\nhost h\nauth off\nuser u\nnonsense x\naccount bad/name\nhost h\npasswordeval pass show x ; echo\nfrom %%U@example.com\n' > "$M"
imp "$M"
is "$RC" 0 "import: oddities: exit 0"
unlike "$OUT" "user = u" "import: auth off: no user"
like "$ERR" "msmtprc:5: unknown msmtp command 'nonsense'" "import: unknown command named"
like "$ERR" "account 'bad/name' is called 'bad_name'" "import: account names relaymail refuses are renamed"
like "$ERR" "msmtprc:8: the value of 'passwordeval' cannot be written" "import: a value inih would cut is left out"
like "$ERR" "msmtprc:9: from '%U@example.com' uses msmtp's % substitutions" "import: msmtp substitutions are named"
printf 'account a\nhost h\naccount b : missing\n' > "$M"
imp "$M"
is "$RC" 78 "import: an unknown account to inherit: exit 78"
like "$ERR" "msmtprc:3: account 'missing' is not defined before this line" "import: ... with the line"
is "$OUT" "" "import: an invalid file prints no configuration"
printf 'host h\n' > "$M"; imp "$M"
like "$ERR" "msmtprc:1: 'host' before the first 'account' or 'defaults'" "import: a command outside any section"
printf 'account a\nhost "h\n' > "$M"; imp "$M"
like "$ERR" "msmtprc:2: unterminated quoted string" "import: an unterminated quote"
printf 'account a\ntls maybe\n' > "$M"; imp "$M"
is "$RC" 78 "import: tls takes on or off"
printf 'account a\nport 99999\n' > "$M"; imp "$M"
is "$RC" 78 "import: an invalid port"
printf 'account a\naccount a\n' > "$M"; imp "$M"
like "$ERR" "account 'a' is defined twice" "import: an account defined twice"
{ printf 'account a\nhost '; head -c 5000 /dev/zero | tr '\0' h; printf '\n'; } > "$M"; imp "$M"
like "$ERR" "msmtprc:2: line too long" "import: a line over 4096 characters"
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' '#' > "$M"; imp "$M"
like "$ERR" "larger than 1048576 bytes" "import: a file over 1 MiB"
printf 'account a\nhost h\001x\n' > "$M"; imp "$M"
like "$ERR" "value of 'host' cannot be written" "import: control characters are left out"
imp "$T/none"
is "$RC" 78 "import: a missing file: exit 78"
imp "$T"
is "$RC" 78 "import: a directory: exit 78"
# The default files, as msmtp looks for them.
printf 'account home\nhost h1\n' > "$HOME/.msmtprc"
mkdir -p "$XDG_CONFIG_HOME/msmtp"; printf 'account xdg\nhost h2\n' > "$XDG_CONFIG_HOME/msmtp/config"
imp
like "$OUT" "\\[account home\\]" "import: ~/.msmtprc by default"
rm "$HOME/.msmtprc"
imp
like "$OUT" "\\[account xdg\\]" "import: then \$XDG_CONFIG_HOME/msmtp/config"
rm -r "$XDG_CONFIG_HOME/msmtp"
imp
is "$RC" 78 "import: no file at all: exit 78"
run_rm /dev/null --import-msmtprc a b
is "$RC" 64 "import: one file at most"

done_testing
