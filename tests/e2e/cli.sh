#!/bin/bash
# Command line, configuration and credential sources.
. "$(dirname "$0")/lib.sh"

start_relay
write_config "$T/conf"
printf 'Subject: cli\n\nbody\n' > "$T/m"
: > "$T/empty"

run_rm "$T/empty" --version
is "$RC" 0 "--version: exit 0"
like "$OUT" "^relaymail [0-9]+\.[0-9]+" "--version prints the version"
run_rm "$T/empty" --help
is "$RC" 0 "--help: exit 0"
like "$OUT" "Usage: relaymail" "--help prints the usage"

run_rm "$T/m" --config "$T/conf" --no-such-option bob@example.org
is "$RC" 64 "unknown long option: exit 64"
run_rm "$T/m" --config "$T/conf"
is "$RC" 64 "no recipients: exit 64"
like "$ERR" "no recipients" "no recipients: said so"
run_rm "$T/m" --config "$T/conf" -f $'a@example.com\r\nRCPT TO:<x@y>' bob@example.org
is "$RC" 64 "CR/LF in -f: exit 64"
run_rm "$T/m" --config "$T/conf" $'bob@example.org\nRCPT TO:<evil@example.org>'
is "$RC" 64 "LF in a recipient: exit 64"
run_rm "$T/m" --config "$T/conf" -F $'Name\r\nBcc: x@y' bob@example.org
is "$RC" 64 "CR/LF in -F: exit 64"
run_rm "$T/m" --config "$T/conf" -f
is "$RC" 64 "-f without a value: exit 64"
is "$(msg_count)" 0 "nothing was sent by the refused invocations"

# Header injection through -t addresses: folded quoted strings never reach a command.
printf 'To: "a\r\n RCPT TO:<evil@example.org>"@example.org\nSubject: x\n\nbody\n' > "$T/inj"
run_rm "$T/inj" --config "$T/conf" -t
[ "$RC" -ne 0 ]; ok $? "CR LF inside a header address is refused"
! commands | grep -q evil; ok $? "no injected command reached the relay"

# Configuration errors name file:line.
printf '[account test]\nhost = localhost\nport = 99999\n' > "$T/bad1"; chmod 600 "$T/bad1"
run_rm "$T/m" --config "$T/bad1" bob@example.org
is "$RC" 78 "bad port: exit 78"
like "$ERR" "bad1:3: invalid port" "bad port: file:line in the message"
printf '[account test]\nhost = localhost\nfrobnicate = yes\n' > "$T/bad2"; chmod 600 "$T/bad2"
run_rm "$T/m" --config "$T/bad2" bob@example.org
is "$RC" 78 "unknown key: exit 78"
like "$ERR" "bad2:3: unknown key 'frobnicate'" "unknown key: file:line"
printf '[defaults]\ntimeout = 5\n\n[account test]\nport = 587\n' > "$T/bad3"; chmod 600 "$T/bad3"
run_rm "$T/m" --config "$T/bad3" bob@example.org
is "$RC" 78 "missing host: exit 78"
like "$ERR" "bad3:4: account 'test' has no host" "missing host: file:line of the section"
printf '[account test]\nhost = localhost\ntls = sometimes\n' > "$T/bad4"; chmod 600 "$T/bad4"
run_rm "$T/m" --config "$T/bad4" bob@example.org
like "$ERR" "bad4:3: invalid tls" "bad tls value: file:line"
run_rm "$T/m" --config "$T/does-not-exist" bob@example.org
is "$RC" 78 "missing --config file: exit 78"
run_rm "$T/m" bob@example.org
is "$RC" 78 "no configuration at all: exit 78"
like "$ERR" "no account configured" "no configuration at all: said so"
cp "$T/conf" "$T/ww"; chmod 666 "$T/ww"
run_rm "$T/m" --config "$T/ww" bob@example.org
is "$RC" 78 "world-writable config file: refused"

# The user file is found through XDG_CONFIG_HOME.
mkdir -p "$XDG_CONFIG_HOME/relaymail"; cp "$T/conf" "$XDG_CONFIG_HOME/relaymail/config"
run_rm "$T/m" bob@example.org
is "$RC" 0 "user file in \$XDG_CONFIG_HOME/relaymail/config is used"
rm "$XDG_CONFIG_HOME/relaymail/config"

# --account picks an account; [defaults] fills in.
{ printf '[defaults]\ntls_ca_file = %s\nuser = alice\npassword_file = %s\ntimeout = 5\n' "$CERTS/ca.pem" "$PWFILE"
  printf '[account one]\nhost = no-such-host.invalid\n[account two]\nhost = localhost\nport = %s\n' "$STARTTLS_PORT"; } > "$T/multi"
chmod 600 "$T/multi"
run_rm "$T/m" --config "$T/multi" bob@example.org
is "$RC" 78 "several accounts and no default: exit 78"
run_rm "$T/m" --config "$T/multi" --account two bob@example.org
is "$RC" 0 "--account two: sent with [defaults] filled in"

# password_file must be private.
chmod 640 "$PWFILE"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 78 "group-readable password_file: exit 78"
like "$ERR" "password_file .*group or others" "group-readable password_file: said so"
chmod 600 "$PWFILE"

# password_command: run without a shell, exit status checked.
write_config "$T/conf" password_file= password_command="printf s3cret"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "password_command without shell syntax: works"
write_config "$T/conf" password_file= password_command="echo s3cret | cat"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "password_command with shell syntax: works"
write_config "$T/conf" password_file= password_command="sh -c 'echo oops >&2; exit 3'"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 78 "failing password_command: exit 78"
like "$ERR" "exit status 3" "failing password_command: status reported"
like "$ERR" "oops" "failing password_command: its stderr is shown"
write_config "$T/conf" password_file= password_command="sleep 30"
start=$(date +%s)
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 78 "hanging password_command: exit 78"
[ $(( $(date +%s) - start )) -le 12 ]; ok $? "hanging password_command: cut off after 10 s"

# systemd credentials.
mkdir -p "$T/creds"; printf 's3cret' > "$T/creds/test"
write_config "$T/conf" password_file=
CREDENTIALS_DIRECTORY=$T/creds run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "systemd credential \$CREDENTIALS_DIRECTORY/<account> is used"
CREDENTIALS_DIRECTORY=$T/creds run_rm "$T/empty" --config "$T/conf" --show-credential-source test
like "$OUT" "systemd credential: $T/creds/test" "--show-credential-source names the systemd credential"

# No source at all and no terminal: a clear error listing the alternatives.
write_config "$T/conf" password_file=
run_rm "$T/m" --config "$T/conf" bob@example.org </dev/null
is "$RC" 78 "no password source: exit 78"
like "$ERR" "no password for account 'test'.*password_command" "no password source: alternatives listed"
like "$ERR" "no D-Bus session bus" "no password source: the keyring's reason is given"

# Safety: -X is never honoured.
write_config "$T/conf"
run_rm "$T/m" --config "$T/conf" -X "$T/evil.php" bob@example.org
is "$RC" 0 "-X is accepted"
[ ! -e "$T/evil.php" ]; ok $? "-X never creates its file"
like "$ERR" "warning: option -X" "-X is warned about"

done_testing
