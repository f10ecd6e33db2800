#!/bin/bash
# Credentials from a real gnome-keyring-daemon on a private D-Bus session bus.
. "$(dirname "$0")/lib.sh"

for tool in dbus-daemon gnome-keyring-daemon secret-tool; do
	if ! command -v "$tool" >/dev/null; then
		skip "keyring tests" "$tool not installed (gnome-keyring, libsecret-tools, dbus-daemon)"
		done_testing; exit 0
	fi
done

start_relay
printf 'Subject: keyring\n\nbody\n' > "$T/m"
write_config "$T/conf" password_file=

start_bus() {
	local out
	out=$(dbus-daemon --session --fork --nopidfile --address="unix:path=$T/bus" --print-address=1 --print-pid=1 2>/dev/null)
	export DBUS_SESSION_BUS_ADDRESS=$(printf '%s\n' "$out" | sed -n 1p)
	_bus_pid=$(printf '%s\n' "$out" | sed -n 2p)
	_pids="$_pids $_bus_pid"
	printf %s testpw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
}
start_bus

# --set-password from stdin (not a terminal), read back with secret-tool.
printf 's3cret\n' | "$RELAYMAIL" --config "$T/conf" --set-password test 2>"$T/stderr"
is "$?" 0 "--set-password: exit 0"
is "$(secret-tool lookup host localhost service smtp user alice account test)" "s3cret" "secret-tool finds the stored password"
secret-tool search --all host localhost service smtp user alice > "$T/search" 2>&1
like "$(cat "$T/search")" "label = relaymail password for account test \(alice at localhost\)" "label names relaymail, account, user and host"
like "$(cat "$T/search")" "schema = org.relaymail.Password" "stored with relaymail's schema"

run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "submission with the keyring password: exit 0"
is "$(json_field "$(last_json)" auth_user)" "alice" "authenticated with the keyring secret"
run_rm /dev/null --config "$T/conf" --show-credential-source test
like "$OUT" "^keyring" "--show-credential-source says keyring"
! grep -q s3cret "$T/stdout" "$T/stderr"; ok $? "--show-credential-source does not print the secret"

# The keyring comes before password_command, which then is not run.
write_config "$T/conf" password_file= password_command="sh -c 'touch $T/ran; echo wrong'"
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "keyring wins over password_command"
[ ! -e "$T/ran" ]; ok $? "password_command is not run when the keyring has the secret"
write_config "$T/conf" password_file= password_command="sh -c 'touch $T/ran; echo s3cret'" password_source=command
run_rm "$T/m" --config "$T/conf" bob@example.org
[ -e "$T/ran" ]; ok $? "password_source = command pins the command"
write_config "$T/conf" password_file=

# --forget-password removes it.
run_rm /dev/null --config "$T/conf" --forget-password test
is "$RC" 0 "--forget-password: exit 0"
secret-tool lookup host localhost service smtp user alice account test >/dev/null 2>&1
is "$?" 1 "the entry is gone"
run_rm /dev/null --config "$T/conf" --forget-password test
is "$RC" 78 "--forget-password when there is none: exit 78"

# An entry stored by msmtp (host/service/user, no account) is found.
printf s3cret | secret-tool store --label="msmtp password" host localhost service smtp user alice
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 0 "msmtp's keyring entry is used"
secret-tool clear host localhost service smtp user alice

# OAuth: without oauth_token_file the refresh token goes to the keyring
# (service oauth2-refresh), beside the password, and a send renews from it.
start_oauth --device-pending 0 --interval 1 --rotate
start_relay --auth-mechs XOAUTH2,OAUTHBEARER,PLAIN --oauth-dir "$OAUTH"
write_config "$T/oconf" password_file= user=alice@example.com oauth_client_id=relaymail-test \
	"oauth_scope=https://mail.example/smtp offline_access" oauth_token_endpoint=https://localhost:$OPORT/token \
	oauth_device_endpoint=https://localhost:$OPORT/devicecode
run_rm /dev/null --config "$T/oconf" --oauth-login test
is "$RC" 0 "OAuth login into the keyring: exit 0" "$ERR"
like "$OUT" "stored in the keyring" "says where the refresh token went"
refresh=$(secret-tool lookup host localhost service oauth2-refresh user alice@example.com account test)
grep -qxF "$refresh" "$OAUTH/issued-tokens"; ok $? "secret-tool finds the issued refresh token (service oauth2-refresh)"
secret-tool search --all host localhost service oauth2-refresh user alice@example.com > "$T/search" 2>&1
like "$(cat "$T/search")" "label = relaymail OAuth refresh token for account test" "labelled as a refresh token"
rm -rf "$XDG_CACHE_HOME"
run_rm "$T/m" --config "$T/oconf" bob@example.org
is "$RC" 0 "send with the refresh token from the keyring" "$ERR"
isnt "$(secret-tool lookup host localhost service oauth2-refresh user alice@example.com account test)" "$refresh" \
	"the rotated refresh token replaced the old one in the keyring"
run_rm /dev/null --config "$T/oconf" --check
like "$OUT" "refresh token: the keyring" "--check: refresh token in the keyring"
secret-tool clear host localhost service oauth2-refresh user alice@example.com
rm -rf "$XDG_CACHE_HOME"
run_rm "$T/m" --config "$T/oconf" bob@example.org
is "$RC" 78 "no refresh token in the keyring: exit 78"
like "$ERR" "no OAuth refresh token in the keyring: run relaymail --oauth-login test" "says to sign in"
# A daemon's client secret (client_credentials) from the keyring, stored
# with --set-password like a password.
start_oauth --client-secret kr-client-secret
start_relay --auth-mechs XOAUTH2 --oauth-dir "$OAUTH"
write_config "$T/cconf" password_file= user=alice@example.com oauth_client_id=relaymail-test \
	oauth_scope=https://mail.example/.default oauth_grant=client_credentials \
	oauth_token_endpoint=https://localhost:$OPORT/token
printf 'kr-client-secret\n' | "$RELAYMAIL" --config "$T/cconf" --set-password test 2>"$T/stderr"
is "$?" 0 "client secret stored with --set-password"
rm -rf "$XDG_CACHE_HOME"
run_rm "$T/m" --config "$T/cconf" bob@example.org
is "$RC" 0 "client_credentials with the client secret from the keyring" "$ERR"
like "$(cat "$OAUTH/oauth.log")" "client_credentials ok client=relaymail-test secret=ok" "the keyring's client secret authenticated the client"
secret-tool clear host localhost service smtp user alice@example.com
stop_oauth
start_relay

# Not found, with keyring pinned: a clear error.
write_config "$T/conf" password_file= password_source=keyring
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 78 "no entry, keyring pinned: exit 78"
like "$ERR" "no keyring entry for alice at localhost" "no entry: says which entry is missing"
like "$ERR" "account 'test'" "no entry: names the account"
like "$ERR" "set-password" "no entry: lists the alternatives"

# A locked collection: clear error, no prompt, no hang.
printf s3cret | secret-tool store --label=x host localhost service smtp user alice account test
"$PYTHON3" - <<'PY' 2>/dev/null
import dbus
bus = dbus.SessionBus()
svc = dbus.Interface(bus.get_object("org.freedesktop.secrets", "/org/freedesktop/secrets"), "org.freedesktop.Secret.Service")
svc.Lock(["/org/freedesktop/secrets/collection/login"])
PY
if [ $? -eq 0 ]; then
	start=$(date +%s)
	run_rm "$T/m" --config "$T/conf" bob@example.org
	is "$RC" 78 "locked keyring: exit 78"
	like "$ERR" "locked" "locked keyring: says it is locked"
	[ $(( $(date +%s) - start )) -le 5 ]; ok $? "locked keyring: answered within the time bound"
else
	secret-tool lock --collection=login 2>/dev/null
	start=$(date +%s)
	run_rm "$T/m" --config "$T/conf" bob@example.org
	is "$RC" 78 "locked keyring: exit 78"
	like "$ERR" "locked|no keyring entry" "locked keyring: a clear reason"
	[ $(( $(date +%s) - start )) -le 5 ]; ok $? "locked keyring: answered within the time bound"
fi

# A bus without a Secret Service: clear error within the bound.
kill "$_bus_pid"; sleep 0.2
cat > "$T/bare-bus.conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=$T/bare-bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>
XML
dbus-daemon --fork --nopidfile --config-file="$T/bare-bus.conf" --print-address=1 --print-pid=1 >"$T/bus2.addr" 2>"$T/bus2.err"
if [ -s "$T/bus2.addr" ]; then
	export DBUS_SESSION_BUS_ADDRESS=$(sed -n 1p "$T/bus2.addr")
	_pids="$_pids $(sed -n 2p "$T/bus2.addr")"
	start=$(date +%s)
	run_rm "$T/m" --config "$T/conf" bob@example.org
	is "$RC" 78 "no Secret Service on the bus: exit 78"
	like "$ERR" "no Secret Service" "no Secret Service: says so"
	[ $(( $(date +%s) - start )) -le 5 ]; ok $? "no Secret Service: answered within the time bound"
else
	ok 1 "a bus without a Secret Service can be started" "$(cat "$T/bus2.err")"
fi

# No bus at all.
unset DBUS_SESSION_BUS_ADDRESS
run_rm "$T/m" --config "$T/conf" bob@example.org
is "$RC" 78 "no session bus: exit 78"
like "$ERR" "no D-Bus session bus" "no session bus: says so"

done_testing
