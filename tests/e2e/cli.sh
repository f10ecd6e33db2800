#!/bin/bash
# Command line, configuration errors, local data errors and credential sources.
. "$(dirname "$0")/lib.sh"

start_relay
write_config "$T/conf"
printf 'Subject: cli\n\nbody\n' > "$T/m"
: > "$T/empty"

# The slowest case first, in the background: a password_command that hangs.
write_config "$T/conf.hang" password_file= password_command="sleep 30"
( RM_DIR=$T/hang; mkdir -p "$RM_DIR"; t0=$(now_ms)
  RM_TIMEOUT=30 run_rm "$T/m" --config "$T/conf.hang" bob@example.org
  echo "$RC $(( $(now_ms) - t0 ))" > "$RM_DIR/result" ) &
hang_pid=$!

# ---- --version, --help --------------------------------------------------------
run_rm "$T/empty" --version
is "$RC" 0 "--version: exit 0"
like "$OUT" "^relaymail [0-9]+\.[0-9]+" "--version prints the version on stdout"
is "$ERR" "" "--version: nothing on stderr"
run_rm "$T/empty" --help
is "$RC" 0 "--help: exit 0"
like "$OUT" "(?i)usage: .*relaymail" "--help prints the usage on stdout"
like "$OUT" -- "--config" "--help lists --config"
is "$ERR" "" "--help: nothing on stderr"

# ---- usage errors: 64, nothing sent ----------------------------------------------
usage() {  # NAME ARGS...: exit 64 and a "relaymail: " line
	local name=$1; shift
	run_rm "$T/m" "$@"
	is "$RC" 64 "$name: exit 64"
	like "$ERR" "^relaymail: " "$name: stderr starts with 'relaymail: '"
}
usage "unknown long option" --config "$T/conf" --no-such-option bob@example.org
usage "no recipients" --config "$T/conf"
like "$ERR" "(?i)recipient" "no recipients: said so"
usage "CR LF in -f" --config "$T/conf" -f $'a@example.com\r\nRCPT TO:<x@example.net>' bob@example.org
usage "LF in -f" --config "$T/conf" -f $'a@example.com\nx' bob@example.org
usage "CR in -r" --config "$T/conf" -r $'a@example.com\rx' bob@example.org
usage "LF in a recipient" --config "$T/conf" $'bob@example.org\nRCPT TO:<evil@example.org>'
usage "CR in a recipient" --config "$T/conf" $'bob@example.org\r'
usage "CR LF in -F" --config "$T/conf" -F $'Name\r\nBcc: x@example.net' bob@example.org
usage "-f without a value" --config "$T/conf" -f
is "$(msg_count)" 0 "nothing was sent by the refused invocations"
! commands | grep -q ' MAIL'; ok $? "no MAIL reached the relay"

# Header injection through -t addresses: folded quoted strings never reach a command.
printf 'To: "a\r\n RCPT TO:<evil@example.org>"@example.org\nSubject: x\n\nbody\n' > "$T/inj"
run_rm "$T/inj" --config "$T/conf" -t
! commands | grep -q evil; ok $? "no injected command reached the relay"

# ---- data errors -------------------------------------------------------------------
printf 'Subject: nul\n\nbefore\0after\n' > "$T/nul"
reset_log
run_rm "$T/nul" --config "$T/conf" bob@example.org
is "$RC" 65 "NUL byte in the message: exit 65"
like "$ERR" "^relaymail: .*(?i)NUL" "NUL byte: said so"
! commands | grep -q ' MAIL'; ok $? "NUL byte: MAIL never sent"
run_rm / --config "$T/conf" bob@example.org
is "$RC" 66 "stdin unreadable (a directory): exit 66"
like "$ERR" "^relaymail: .*(?i)(stdin|standard input)" "stdin unreadable: said so"

# ---- configuration errors: 78 with FILE:LINE ----------------------------------------
badconf() {  # NAME LINE CONTENT [REGEX]: the file's error is exit 78 naming FILE:LINE
	local f=$T/bad.$RANDOM
	printf "$3" > "$f"; chmod 600 "$f"
	run_rm "$T/m" --config "$f" bob@example.org
	is "$RC" 78 "$1: exit 78"
	like "$ERR" "^relaymail: .*$f:$2\b" "$1: stderr names $(basename "$f"):$2"
	[ -n "${4:-}" ] && like "$ERR" "$4" "$1: stderr names the problem"
	return 0
}
badconf "unknown key" 3 '[account test]\nhost = localhost\nfrobnicate = yes\n' "frobnicate"
badconf "bad port" 3 '[account test]\nhost = localhost\nport = 99999\n' "port"
badconf "bad tls" 4 '[account test]\nhost = localhost\n\ntls = sometimes\n' "tls"
badconf "bad tls_verify" 3 '[account test]\nhost = localhost\ntls_verify = maybe\n'
badconf "bad auth" 3 '[account test]\nhost = localhost\nauth = magic\n' "auth"
badconf "bad timeout" 3 '[account test]\nhost = localhost\ntimeout = soon\n' "timeout"
badconf "unknown key in [defaults]" 2 '[defaults]\ncolour = blue\n[account test]\nhost = localhost\n' "colour"
badconf "missing host" 4 '[defaults]\ntimeout = 5\n\n[account test]\nport = 587\n' "host"
run_rm "$T/m" --config "$T/does-not-exist" bob@example.org
is "$RC" 78 "missing --config file: exit 78"
like "$ERR" "does-not-exist" "missing --config file: named"
run_rm "$T/m" bob@example.org
is "$RC" 78 "no configuration at all: exit 78"
like "$ERR" "^relaymail: " "no configuration at all: a 'relaymail: ' line"
run_rm "$T/m" --config "$T/conf" --account nosuch bob@example.org
is "$RC" 78 "--account naming no account: exit 78"
cp "$T/conf" "$T/ww"; chmod 666 "$T/ww"
run_rm "$T/m" --config "$T/ww" bob@example.org
is "$RC" 78 "world-writable config file: refused"
is "$(msg_count)" 0 "nothing was sent with a bad configuration"

# The user file is found through XDG_CONFIG_HOME.
mkdir -p "$XDG_CONFIG_HOME/relaymail"; cp "$T/conf" "$XDG_CONFIG_HOME/relaymail/config"
run_rm "$T/m" bob@example.org
is "$RC" 0 "user file in \$XDG_CONFIG_HOME/relaymail/config is used"
rm "$XDG_CONFIG_HOME/relaymail/config"

# --account picks an account; [defaults] fills in.
{ printf '[defaults]\ntls_ca_file = %s\nuser = alice\npassword_file = %s\ntimeout = 5\ndomain = example.com\n' "$CERTS/ca.pem" "$PWFILE"
  printf '[account one]\nhost = no-such-host.invalid\n[account two]\nhost = localhost\nport = %s\n' "$STARTTLS_PORT"; } > "$T/multi"
chmod 600 "$T/multi"
run_rm "$T/m" --config "$T/multi" bob@example.org
is "$RC" 78 "several accounts and no default: exit 78"
run_rm "$T/m" --config "$T/multi" --account two bob@example.org
is "$RC" 0 "--account two: sent with [defaults] filled in"

# ---- password_file must be private --------------------------------------------------
for mode in 640 604 644; do
	chmod "$mode" "$PWFILE"
	reset_log
	run_rm "$T/m" --config "$T/conf" bob@example.org
	is "$RC" 78 "password_file mode $mode: exit 78"
	like "$ERR" "^relaymail: .*password_file|$PWFILE" "password_file mode $mode: names the file"
	! commands | grep -Eq ' (AUTH|MAIL)'; ok $? "password_file mode $mode: no AUTH, no MAIL"
done
chmod 600 "$PWFILE"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "password_file mode 600: sent"

# ---- password_command ----------------------------------------------------------------
write_config "$T/conf" password_file= password_command="printf s3cret"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "password_command: works"
is "$(json_field "$(last_json)" auth_user)" "alice" "password_command: authenticated"
write_config "$T/conf" password_file= password_command="echo s3cret | cat"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "password_command with shell syntax: works"
write_config "$T/conf" password_file= password_command="sh -c 'echo oops >&2; exit 3'"
reset_log
run_rm "$T/m" --config "$T/conf" bob@example.org
isnt "$RC" 0 "failing password_command: nonzero exit"
like "$ERR" "^relaymail: .*password_command" "failing password_command: a clear error naming it"
like "$ERR" "\b3\b" "failing password_command: its exit status is reported"
! commands | grep -Eq ' (AUTH|MAIL)'; ok $? "failing password_command: no AUTH, no MAIL"
write_config "$T/conf" password_file= password_command="/nonexistent/pw-helper"
run_rm "$T/m" --config "$T/conf" bob@example.org
isnt "$RC" 0 "password_command that does not exist: nonzero exit"
like "$ERR" "^relaymail: .*password_command" "password_command that does not exist: a clear error"
write_config "$T/conf" password_file= password_command="printf wrong"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 77 "password_command giving a wrong password: exit 77 (535)"

# ---- systemd credentials -----------------------------------------------------------
mkdir -p "$T/creds"; printf 's3cret' > "$T/creds/test"
write_config "$T/conf" password_file=
CREDENTIALS_DIRECTORY=$T/creds run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "systemd credential \$CREDENTIALS_DIRECTORY/<account> is used"
CREDENTIALS_DIRECTORY=$T/creds run_rm "$T/empty" --config "$T/conf" --show-credential-source test
like "$OUT" "systemd credential: $T/creds/test" "--show-credential-source names the systemd credential"

# No source at all and no terminal: a clear error listing the alternatives.
write_config "$T/conf" password_file=
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 78 "no password source: exit 78"
like "$ERR" "no password for account 'test'.*password_command" "no password source: alternatives listed"
like "$ERR" "(?i)D-Bus" "no password source: the keyring's reason is given"

# Safety: -X is never honoured.
write_config "$T/conf"
run_rm "$T/m" --config "$T/conf" -X "$T/evil.php" bob@example.org
is "$RC" 0 "-X is accepted"
[ ! -e "$T/evil.php" ]; ok $? "-X never creates its file"
like "$ERR" "warning: .*-X" "-X is warned about"

# The hanging password_command, started at the top.
wait "$hang_pid"
read -r rc ms < "$T/hang/result" || rc=none
is "$rc" 78 "hanging password_command: exit 78"
[ "${ms:-99999}" -le 13000 ]; ok $? "hanging password_command: cut off after about 10 s (took ${ms:-?} ms)"

done_testing
