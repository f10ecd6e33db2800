#!/bin/bash
# An argument injected into sendmail's command line (PHP's mail()
# additional_params, a sender-injection bug) cannot make relaymail load a
# configuration file of the attacker's choice or switch accounts
# (config_trust.h; relaymail(8), SECURITY).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! id www-data >/dev/null 2>&1; then
	skip "injected --config as www-data" "needs root and the www-data user to run as another user"
	done_testing; exit 0
fi
SYSCONFDIR=${RELAYMAIL_SYSCONFDIR:-/usr/local/etc}

start_relay
chmod 755 "$T" "$T/certs" 2>/dev/null
chmod 644 "$CERTS/ca.pem"
W=$T/www                        # www-data's home, as /var/www
mkdir -p "$W/uploads" "$W/.config/relaymail" "$W/site" "$W/tmp"
printf 'Subject: inj\n\nbody\n' > "$W/m"
# The uploaded "avatar": an account whose password_command leaves a mark.
attack_conf() {  # FILE MARK
	printf '[account evil]\nhost = localhost\nport = %s\ntls = starttls\ntls_ca_file = %s\nuser = x\npassword_command = touch %s\nfrom = a@example.com\ndomain = example.com\ntimeout = 5\n' \
		"$STARTTLS_PORT" "$CERTS/ca.pem" "$2" > "$1"
	chmod 600 "$1"
}
attack_conf "$W/uploads/avatar.txt" "$W/pwned"
chown -R www-data:www-data "$W"

as_www() {  # ARGS...: relaymail as www-data with HOME=/var/www-like; sets RC, ERR
	RC=0
	ERR=$(setpriv --reuid=www-data --regid=www-data --clear-groups \
		env HOME="$W" XDG_CONFIG_HOME= XDG_STATE_HOME= TMPDIR="$W/tmp" ${AS_ENV:-} \
		timeout 30 "$RELAYMAIL" "$@" <"$W/m" 2>&1 >/dev/null) || RC=$?
}

# ---- the attack: refused before anything of the file is used ---------------------
as_www --config="$W/uploads/avatar.txt" -t bob@example.org
is "$RC" 64 "injected --config=FILE as www-data: exit 64"
like "$ERR" "^relaymail: --config .*refused.*relaymail\(8\)" "the refusal names the rule and where it is documented"
[ ! -e "$W/pwned" ]; ok $? "the uploaded file's password_command did not run"
as_www -f www@example.com --config "$W/uploads/avatar.txt" bob@example.org
is "$RC" 64 "injected '--config FILE' (two arguments): exit 64"
[ ! -e "$W/pwned" ]; ok $? "... and its password_command did not run"
is "$(msg_count)" 0 "nothing reached the relay"

# A symlink in the user's own directory does not launder the upload.
ln -s "$W/uploads/avatar.txt" "$W/.config/relaymail/link.conf"
as_www --config="$W/.config/relaymail/link.conf" bob@example.org
is "$RC" 64 "a symlink from ~/.config/relaymail to the upload: refused"
[ ! -e "$W/pwned" ]; ok $? "... and its password_command did not run"

# The way PHP passes it: mail()'s fifth argument, as www-data.
if command -v php >/dev/null 2>&1; then
	out=$(cd "$W" && setpriv --reuid=www-data --regid=www-data --clear-groups env HOME="$W" \
		php -n -d sendmail_path="$RELAYMAIL -t -i" -r \
		'var_dump(mail("bob@example.org", "s", "b", "", "-fa@example.com --config='"$W"'/uploads/avatar.txt"));' 2>&1)
	like "$out" "bool\(false\)" "PHP mail() with --config in additional_params: mail() returns false"
	[ ! -e "$W/pwned" ]; ok $? "PHP mail(): the uploaded file's password_command did not run"
else
	skip "PHP mail() injection" "php-cli not installed"
fi

# ---- what stays allowed ----------------------------------------------------------
# The environment is not reachable through an argument: RELAYMAIL_CONFIG is
# honoured (and shows the attack file really would run its command).
AS_ENV="RELAYMAIL_CONFIG=$W/uploads/avatar.txt" as_www bob@example.org
[ -e "$W/pwned" ]; ok $? "RELAYMAIL_CONFIG=FILE is honoured (the file's password_command ran)"
rm -f "$W/pwned"

attack_conf "$W/.config/relaymail/other.conf" "$W/own"
chown www-data: "$W/.config/relaymail/other.conf"
as_www --config="$W/.config/relaymail/other.conf" bob@example.org
[ -e "$W/own" ]; ok $? "--config in the user's own ~/.config/relaymail is honoured"

# root may name any file (as Postfix's -C).
write_config "$T/root.conf"
run_rm "$W/m" --config "$T/root.conf" bob@example.org
is "$RC" 0 "root: --config anywhere is honoured"

# alternate_config_directories in the system file widens the rule; only the
# system file may set it.  A private mount namespace gives this test its own
# system file without touching the machine's.
attack_conf "$W/site/site.conf" "$W/site-mark"
attack_conf "$W/uploads/other.conf" "$W/pwned"
chown -R www-data: "$W"
mkdir -p "$T/etc"
printf '[defaults]\nalternate_config_directories = /nonexistent, %s\n' "$W/site" > "$T/etc/relaymail.conf"
chmod 644 "$T/etc/relaymail.conf"
in_sysconf() {  # ARGS...: as_www with $T/etc mounted on SYSCONFDIR
	RC=0
	ERR=$(unshare -m sh -c 'mkdir -p "$1" && mount --bind "$2" "$1" && shift 2 && exec "$@"' sh \
		"$SYSCONFDIR" "$T/etc" setpriv --reuid=www-data --regid=www-data --clear-groups \
		env HOME="$W" XDG_CONFIG_HOME= TMPDIR="$W/tmp" timeout 30 "$RELAYMAIL" "$@" <"$W/m" 2>&1 >/dev/null) || RC=$?
}
if unshare -m true 2>/dev/null; then
	in_sysconf --config="$W/site/site.conf" bob@example.org
	[ -e "$W/site-mark" ]; ok $? "--config in a directory listed in alternate_config_directories is honoured" "$ERR"
	in_sysconf --config="$W/uploads/other.conf" bob@example.org
	is "$RC" 64 "a directory not listed stays refused with alternate_config_directories set"
	[ ! -e "$W/pwned" ]; ok $? "... and its password_command did not run"
	printf '[defaults]\nalternate_config_directories = %s\n' "$W/uploads" > "$W/.config/relaymail/config"
	chown www-data: "$W/.config/relaymail/config"; chmod 600 "$W/.config/relaymail/config"
	in_sysconf --config="$W/uploads/other.conf" bob@example.org
	is "$RC" 64 "a user file cannot list its own alternate_config_directories"
	AS_ENV= as_www bob@example.org
	like "$ERR" "config:2: 'alternate_config_directories' is only honoured in the system file" \
		"alternate_config_directories in a user file is an error with file:line"
	rm -f "$W/.config/relaymail/config"
else
	skip "alternate_config_directories" "unshare -m is not permitted here"
fi

# ---- --config / --account given twice --------------------------------------------
write_config "$T/two.conf"
printf '\n[account other]\nhost = localhost\nport = %s\ntls_ca_file = %s\nuser = alice\npassword_file = %s\nfrom = other@example.com\n' \
	"$STARTTLS_PORT" "$CERTS/ca.pem" "$PWFILE" >> "$T/two.conf"
run_rm "$W/m" --config "$T/two.conf" --account test -f a@example.com --account=other bob@example.org
is "$RC" 64 "--account given twice with different values: exit 64"
like "$ERR" "--account given twice" "... and said so"
run_rm "$W/m" --config "$T/two.conf" --config "$T/root.conf" bob@example.org
is "$RC" 64 "--config given twice with different values: exit 64"
run_rm "$W/m" --config "$T/two.conf" --account test --account test bob@example.org
is "$RC" 0 "the same --account twice is fine"

done_testing
