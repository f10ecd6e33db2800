# Shared helpers for the end-to-end tests: TAP output, a private temp dir,
# test certificates, the loopback relay, configs, and running relaymail.
# Source it from a bash test script; everything started is stopped on exit.

set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir/build}
RELAYMAIL=${RELAYMAIL:-$top_builddir/src/relaymail}
PYTHON3=${PYTHON3:-/usr/bin/python3}
[ -x /usr/bin/python3 ] && PYTHON3=/usr/bin/python3   # Debian's, with aiosmtpd

T=$(mktemp -d "${TMPDIR:-/tmp}/relaymail-test.XXXXXX")
export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config TMPDIR=$T/tmp
mkdir -p "$HOME" "$TMPDIR"
unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS RELAYMAIL_CONFIG CREDENTIALS_DIRECTORY
export LC_ALL=C.UTF-8 LANGUAGE=

_pids=""
_tap_n=0
_tap_failed=0

cleanup() {
	for p in $_pids; do kill "$p" 2>/dev/null; done
	for p in $_pids; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

ok() {  # ok CONDITION-STATUS NAME  (use: [ ... ]; ok $? "name")
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		_tap_failed=$((_tap_failed + 1))
		echo "not ok $_tap_n - $2"
		[ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'
	fi
}

is() {  # is GOT WANT NAME
	if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3" "got:  $1
want: $2
stderr: $(cat "$T/stderr" 2>/dev/null | head -5)"; fi
}

like() {  # like TEXT REGEX NAME
	if printf '%s' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else ok 1 "$3" "text: $1
does not match: $2"; fi
}

skip() {  # skip NAME REASON
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP $2"
}

done_testing() {
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}

make_certs() {  # make_certs DIR: ca, server (localhost), wrong, expired, untrusted
	local d=$1
	mkdir -p "$d"
	(
	cd "$d" || exit 1
	gen() { certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$1" 2>/dev/null; }
	printf 'cn = "relaymail test CA"\nca\ncert_signing_key\nexpiration_days = 30\n' > ca.tmpl
	gen ca.key; certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem 2>/dev/null
	printf 'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\nip_address = "::1"\ntls_www_server\nexpiration_days = 30\n' > srv.tmpl
	gen server.key; certtool --generate-certificate --load-privkey server.key --load-ca-certificate ca.pem --load-ca-privkey ca.key --template srv.tmpl --outfile server.pem 2>/dev/null
	printf 'cn = "wrong.example"\ndns_name = "wrong.example"\ntls_www_server\nexpiration_days = 30\n' > wrong.tmpl
	gen wrong.key; certtool --generate-certificate --load-privkey wrong.key --load-ca-certificate ca.pem --load-ca-privkey ca.key --template wrong.tmpl --outfile wrong.pem 2>/dev/null
	printf 'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\ntls_www_server\nactivation_date = "2020-01-01 00:00:00"\nexpiration_date = "2020-06-01 00:00:00"\n' > exp.tmpl
	gen expired.key; certtool --generate-certificate --load-privkey expired.key --load-ca-certificate ca.pem --load-ca-privkey ca.key --template exp.tmpl --outfile expired.pem 2>/dev/null
	printf 'cn = "other CA"\nca\ncert_signing_key\nexpiration_days = 30\n' > oca.tmpl
	gen oca.key; certtool --generate-self-signed --load-privkey oca.key --template oca.tmpl --outfile oca.pem 2>/dev/null
	gen untrusted.key; certtool --generate-certificate --load-privkey untrusted.key --load-ca-certificate oca.pem --load-ca-privkey oca.key --template srv.tmpl --outfile untrusted.pem 2>/dev/null
	)
}

CERTS=$T/certs
RELAY=$T/relay

start_relay() {  # start_relay [--cert NAME] [relay args...]; sets RELAY, *_PORT
	local cert=server
	if [ "${1:-}" = "--cert" ]; then cert=$2; shift 2; fi
	[ -f "$CERTS/ca.pem" ] || make_certs "$CERTS"
	stop_relay
	rm -rf "$RELAY"; mkdir -p "$RELAY"
	"$PYTHON3" "$top_srcdir/tests/relay/relay.py" --dir "$RELAY" --cert "$CERTS/$cert.pem" \
		--key "$CERTS/$cert.key" "$@" 2>"$T/relay.err" &
	_relay_pid=$!
	_pids="$_pids $_relay_pid"
	for _ in $(seq 100); do
		[ -f "$RELAY/ports" ] && break
		sleep 0.05
	done
	[ -f "$RELAY/ports" ] || { echo "Bail out! relay did not start: $(cat "$T/relay.err")"; exit 1; }
	. "$RELAY/ports"
}

stop_relay() {
	if [ -n "${_relay_pid:-}" ]; then
		kill "$_relay_pid" 2>/dev/null; wait "$_relay_pid" 2>/dev/null
		_relay_pid=
	fi
}

faults() {  # faults 'JSON list' (empty to clear)
	if [ -z "$1" ]; then rm -f "$RELAY/faults.json"; else printf '%s' "$1" > "$RELAY/faults.json"; fi
}

PWFILE=$T/pw
printf 's3cret\n' > "$PWFILE"; chmod 600 "$PWFILE"

write_config() {  # write_config FILE [key=value ...]: account "test" on the STARTTLS listener
	local f=$1; shift
	{
		printf '[defaults]\ndefault_account = test\n\n[account test]\n'
		printf 'host = localhost\nport = %s\ntls = starttls\ntls_ca_file = %s\n' "$STARTTLS_PORT" "$CERTS/ca.pem"
		printf 'user = alice\npassword_file = %s\nfrom = sender@example.com\ndomain = example.com\ntimeout = 5\n' "$PWFILE"
	} > "$f.base"
	local kv k
	for kv in "$@"; do
		k=${kv%%=*}
		sed -i "/^$k = /d" "$f.base"
		case "$kv" in *=) ;; *) printf '%s = %s\n' "$k" "${kv#*=}" >> "$f.base" ;; esac
	done
	mv "$f.base" "$f"
	chmod 600 "$f"
}

# run_rm INPUT-FILE ARGS...: runs relaymail; sets RC, OUT, ERR (files $T/stdout, $T/stderr)
run_rm() {
	local input=$1; shift
	"$RELAYMAIL" "$@" <"$input" >"$T/stdout" 2>"$T/stderr"
	RC=$?
	OUT=$(cat "$T/stdout")
	ERR=$(cat "$T/stderr")
}

msg_count() { ls "$RELAY/messages" 2>/dev/null | grep -c '\.eml$'; }
last_eml() { ls "$RELAY"/messages/*.eml 2>/dev/null | tail -1; }
last_json() { ls "$RELAY"/messages/*.json 2>/dev/null | tail -1; }
json_field() { "$PYTHON3" -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v if not isinstance(v,list) else " ".join(map(str,v)))' "$1" "$2"; }
commands() { cat "$RELAY/commands.log" 2>/dev/null; }
