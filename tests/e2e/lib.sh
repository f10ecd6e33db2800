# Shared helpers for the end-to-end tests (bash): TAP output, a private temp
# dir, test certificates, the loopback relay, configs, and running relaymail.
# Source it from a test script:  . "$(dirname "$0")/lib.sh"
# Everything started through it is stopped, and the temp dir removed, on exit.
#
# Environment: top_srcdir (to find tests/relay/relay.py; default: relative to
# this file), top_builddir (default $top_srcdir/build), RELAYMAIL (default
# $top_builddir/src/relaymail), PYTHON3 (Debian's /usr/bin/python3 is used
# when present: it has aiosmtpd).

set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir/build}
RELAYMAIL=${RELAYMAIL:-$top_builddir/src/relaymail}
PYTHON3=${PYTHON3:-/usr/bin/python3}
[ -x /usr/bin/python3 ] && PYTHON3=/usr/bin/python3   # Debian's, with aiosmtpd
RELAY_PY=$top_srcdir/tests/relay/relay.py
DELAY_PROXY_PY=$top_srcdir/tests/relay/delay_proxy.py

T=$(mktemp -d "${TMPDIR:-/tmp}/relaymail-test.XXXXXX") || { echo "Bail out! mktemp failed"; exit 1; }
export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config XDG_STATE_HOME=$T/home/.local/state \
	XDG_DATA_HOME=$T/home/.local/share XDG_CACHE_HOME=$T/home/.cache TMPDIR=$T/tmp
mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$TMPDIR"
unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS RELAYMAIL_CONFIG CREDENTIALS_DIRECTORY
export LC_ALL=C.UTF-8 LANGUAGE=

_pids=""
_tap_n=0
_tap_failed=0
_tap_plan=""

cleanup() {
	local p
	for p in $_pids; do kill "$p" 2>/dev/null; done
	for p in $_pids; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- TAP -------------------------------------------------------------------

plan() {  # plan N: prints the plan first (else done_testing prints it last)
	_tap_plan=$1
	echo "1..$1"
}

_diag() { [ -n "${1:-}" ] && printf '%s\n' "$1" | sed 's/^/# /'; return 0; }

ok() {  # ok STATUS NAME [DIAG]   e.g.  [ -s file ]; ok $? "file written"
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ] 2>/dev/null; then
		echo "ok $_tap_n - $2"
	else
		_tap_failed=$((_tap_failed + 1))
		echo "not ok $_tap_n - $2"
		_diag "${3:-}"
	fi
}

not_ok() {  # not_ok NAME [DIAG]: a failed test
	ok 1 "$1" "${2:-}"
}

is() {  # is GOT WANT NAME
	if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3" "got:  $1
want: $2
$(_last_run_diag)"; fi
}

isnt() {  # isnt GOT UNWANTED NAME
	if [ "$1" != "$2" ]; then ok 0 "$3"; else ok 1 "$3" "got what was not wanted: $1
$(_last_run_diag)"; fi
}

# like/unlike use Perl regular expressions (ERE syntax works) with /m: ^ and $
# match at every line, and a newline in the pattern matches across lines
# (grep -E would treat it as a list of alternatives, one of them empty, so
# that anything matched).  The text is matched with a newline added before and
# after it, so $'\nFrom: x\n' finds a From: x line even as the first or last.
_re_match() {
	printf '\n%s\n' "$1" |
		RE=$2 perl -e 'local $/; my $t = <STDIN> // ""; exit($t =~ /$ENV{RE}/m ? 0 : 1)'
}

like() {  # like TEXT REGEX NAME
	if _re_match "$1" "$2"; then ok 0 "$3"; else ok 1 "$3" "text: $(printf '%s' "$1" | head -c 2000)
does not match: $2"; fi
}

unlike() {  # unlike TEXT REGEX NAME
	if ! _re_match "$1" "$2"; then ok 0 "$3"; else ok 1 "$3" "text: $(printf '%s' "$1" | head -c 2000)
matches: $2"; fi
}

skip() {  # skip NAME REASON
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP $2"
}

diag() { _diag "$*"; }

done_testing() {  # last line of a script: prints the plan unless plan was used
	if [ -z "$_tap_plan" ]; then
		echo "1..$_tap_n"
	elif [ "$_tap_plan" -ne "$_tap_n" ]; then
		echo "# planned $_tap_plan tests but ran $_tap_n"
		return 1
	fi
	[ "$_tap_failed" -eq 0 ]
}

_last_run_diag() {
	[ -n "${RC:-}" ] || return 0
	printf 'last run: exit %s; stderr: %s' "$RC" "$(head -c 1500 "${RM_DIR:-$T}/stderr" 2>/dev/null)"
}

# ---- certificates ------------------------------------------------------------

# make_certs DIR: ca.pem (test CA), server (localhost, 127.0.0.1, ::1, by the CA),
# wrong (wrong.example only, by the CA), expired (localhost, by the CA, expired in
# 2020), untrusted (localhost, by another CA: oca.pem), selfsigned (localhost,
# its own issuer).  Each as NAME.pem + NAME.key.
make_certs() {
	local d=$1
	mkdir -p "$d"
	(
	cd "$d" || exit 1
	set -e
	local until
	until=$(date -u -d '+30 days' '+%Y-%m-%d %H:%M:%S')
	gen() { certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$1" 2>/dev/null; }
	sign() {  # sign NAME TEMPLATE CA
		certtool --generate-certificate --load-privkey "$1.key" --load-ca-certificate "$3.pem" \
			--load-ca-privkey "$3.key" --template "$2" --outfile "$1.pem" >/dev/null 2>&1
	}
	self() {  # self NAME TEMPLATE
		certtool --generate-self-signed --load-privkey "$1.key" --template "$2" \
			--outfile "$1.pem" >/dev/null 2>&1
	}
	# The CA is valid since 2019, so that "expired" fails for its own date only.
	printf 'cn = "relaymail test CA"\nca\ncert_signing_key\nactivation_date = "2019-01-01 00:00:00"\nexpiration_date = "%s"\n' "$until" > ca.tmpl
	printf 'cn = "relaymail other CA"\nca\ncert_signing_key\nexpiration_days = 30\n' > oca.tmpl
	printf 'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\nip_address = "::1"\ntls_www_server\nsigning_key\nencryption_key\nexpiration_days = 30\n' > srv.tmpl
	printf 'cn = "wrong.example"\ndns_name = "wrong.example"\ntls_www_server\nsigning_key\nexpiration_days = 30\n' > wrong.tmpl
	printf 'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\nip_address = "::1"\ntls_www_server\nsigning_key\nactivation_date = "2020-01-01 00:00:00"\nexpiration_date = "2020-06-01 00:00:00"\n' > exp.tmpl
	printf 'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\nip_address = "::1"\ntls_www_server\nsigning_key\nexpiration_days = 30\n' > self.tmpl
	for k in ca oca server wrong expired untrusted selfsigned; do gen "$k.key" & done
	wait
	self ca ca.tmpl & self oca oca.tmpl & self selfsigned self.tmpl & wait
	sign server srv.tmpl ca & sign wrong wrong.tmpl ca & sign expired exp.tmpl ca &
	sign untrusted srv.tmpl oca & wait
	for k in ca oca server wrong expired untrusted selfsigned; do [ -s "$k.pem" ]; done
	)
}

CERTS=$T/certs
RELAY=$T/relay

# ---- the relay -------------------------------------------------------------

# start_relay [--cert NAME] [relay.py args...]: (re)starts the loopback relay in
# $RELAY (default $T/relay; set RELAY before calling for another one) with
# $CERTS/NAME.pem (default: server), waits for it and sources $RELAY/ports
# (STARTTLS_PORT, IMPLICIT_PORT, PLAIN_PORT).  The state dir starts empty.
start_relay() {
	local cert=server i
	if [ "${1:-}" = "--cert" ]; then cert=$2; shift 2; fi
	if [ ! -s "$CERTS/ca.pem" ]; then
		make_certs "$CERTS" || { echo "Bail out! certtool failed to make the test certificates"; exit 1; }
	fi
	stop_relay
	rm -rf "$RELAY"; mkdir -p "$RELAY"
	"$PYTHON3" "$RELAY_PY" --dir "$RELAY" --cert "$CERTS/$cert.pem" \
		--key "$CERTS/$cert.key" "$@" 2>"$RELAY.err" </dev/null &
	_relay_pid=$!
	_pids="$_pids $_relay_pid"
	for i in $(seq 100); do   # up to 5 s
		[ -f "$RELAY/ports" ] && break
		kill -0 "$_relay_pid" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -f "$RELAY/ports" ]; then
		echo "Bail out! the test relay did not start: $(head -c 2000 "$RELAY.err")"
		exit 1
	fi
	. "$RELAY/ports"
}

stop_relay() {
	if [ -n "${_relay_pid:-}" ]; then
		kill "$_relay_pid" 2>/dev/null; wait "$_relay_pid" 2>/dev/null
		_relay_pid=
	fi
	return 0
}

# start_delay_proxy TARGET-PORT DELAY-MS: sets PROXY_PORT (2*DELAY-MS round trip).
start_delay_proxy() {
	local f=$T/proxy.$$.$RANDOM i
	"$PYTHON3" "$DELAY_PROXY_PY" --listen-port-file "$f" --target-port "$1" \
		--delay-ms "$2" 2>"$f.err" </dev/null &
	_pids="$_pids $!"
	for i in $(seq 100); do [ -f "$f" ] && break; sleep 0.05; done
	[ -f "$f" ] || { echo "Bail out! the delay proxy did not start: $(cat "$f.err")"; exit 1; }
	PROXY_PORT=$(cat "$f")
}

faults() {  # faults 'JSON list of rules' (empty: no faults)
	if [ -z "${1:-}" ]; then
		rm -f "$RELAY/faults.json"
	else
		# Read by the relay only as a connection starts: write it before
		# starting the client (not atomic, but no fork: tests write it often).
		printf '%s' "$1" > "$RELAY/faults.json"
	fi
}

# msg_count: messages the relay accepted; last_eml / last_json: the newest one's files
msg_count() { local f=("$RELAY"/messages/*.eml); [ -e "${f[0]}" ] && echo "${#f[@]}" || echo 0; }
last_eml() { local f=("$RELAY"/messages/*.eml); [ -e "${f[-1]}" ] && echo "${f[-1]}"; }
last_json() { local f=("$RELAY"/messages/*.json); [ -e "${f[-1]}" ] && echo "${f[-1]}"; }
# json_field FILE KEY: the value; lists joined by spaces, booleans True/False
json_field() {
	"$PYTHON3" -c 'import json,sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print(" ".join(map(str, v)) if isinstance(v, list) else v)' "$1" "$2" 2>/dev/null
}
# facts [FILE]: one call for the last (or given) message's JSON: sets J_mail_from,
# J_rcpt_tos (sorted, space-separated), J_mail_options, J_rcpt_options, J_tls,
# J_tls_version, J_auth_mechanism, J_auth_user, J_ehlo_name, J_listener
facts() {
	local f=${1:-$(last_json)}
	J_mail_from= J_rcpt_tos= J_mail_options= J_rcpt_options= J_tls= J_tls_version=
	J_auth_mechanism= J_auth_user= J_ehlo_name= J_listener=
	[ -n "$f" ] || return 1
	eval "$("$PYTHON3" -c 'import json, shlex, sys
d = json.load(open(sys.argv[1]))
d["rcpt_tos"] = sorted(d["rcpt_tos"])
for k, v in d.items():
    if isinstance(v, list):
        v = " ".join(" ".join(x) if isinstance(x, list) else str(x) for x in v)
    print("J_%s=%s" % (k, shlex.quote(str(v))))' "$f")"
}
# rcpts [FILE]: envelope recipients of the last (or given) message, sorted, one line
rcpts() { json_field "${1:-$(last_json)}" rcpt_tos | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//'; }
commands() { cat "$RELAY/commands.log" 2>/dev/null; }
reset_log() { : > "$RELAY/commands.log"; }   # the relay appends: truncating is safe
# verbs: the distinct verbs in commands.log (CONNECT, TLS, EHLO, MAIL, ...)
verbs() { commands | awk '{ print $2 }' | sort -u | tr '\n' ' ' | sed 's/ $//'; }
# only_verbs VERB...: true when commands.log holds no other verb than these
# (CONNECT, TLS, TLSFAIL and FAULT lines are always allowed)
only_verbs() {
	local v allowed=" CONNECT TLS TLSFAIL FAULT $* "
	for v in $(verbs); do
		case "$allowed" in *" $v "*) ;; *) return 1 ;; esac
	done
	return 0
}

# ---- configuration -----------------------------------------------------------

PW=s3cret
PWFILE=$T/pw
printf '%s\n' "$PW" > "$PWFILE"; chmod 600 "$PWFILE"

# write_config FILE [key=value ...]: an INI file with [defaults] default_account
# = test and [account test] on the relay's STARTTLS listener (host localhost,
# tls starttls, the test CA, user alice, password_file $PWFILE, from
# sender@example.com, domain example.com, timeout 5).  key=value replaces a
# key or adds it; key= removes it.  The file is mode 0600.
write_config() {
	local f=$1 kv k v; shift
	local -a keys=(host port tls tls_ca_file user password_file from domain timeout)
	local -A val=([host]=localhost [port]=${STARTTLS_PORT:-587} [tls]=starttls
		[tls_ca_file]=$CERTS/ca.pem [user]=alice [password_file]=$PWFILE
		[from]=sender@example.com [domain]=example.com [timeout]=5)
	for kv in "$@"; do
		k=${kv%%=*}; v=${kv#*=}
		case " ${keys[*]} " in *" $k "*) ;; *) keys+=("$k") ;; esac
		val[$k]=$v
	done
	{
		printf '[defaults]\ndefault_account = test\n\n[account test]\n'
		for k in "${keys[@]}"; do
			[ -n "${val[$k]}" ] && printf '%s = %s\n' "$k" "${val[$k]}"
		done
	} > "$f.tmp"
	chmod 600 "$f.tmp"
	mv "$f.tmp" "$f"
}

# ---- the OAuth server (tests/relay/oauth_server.py) --------------------------

OAUTH_PY=$top_srcdir/tests/relay/oauth_server.py
OAUTH=$T/oauth
# start_oauth [ARGS...]: a fresh OAuth server in $OAUTH; sets OPORT.
_oauth_pid=
start_oauth() {
	local i
	[ -s "$CERTS/ca.pem" ] || make_certs "$CERTS" || { echo "Bail out! certtool failed"; exit 1; }
	stop_oauth
	rm -rf "$OAUTH"; mkdir -p "$OAUTH"
	"$PYTHON3" "$OAUTH_PY" --dir "$OAUTH" --cert "$CERTS/server.pem" --key "$CERTS/server.key" \
		"$@" 2>"$T/oauth.err" </dev/null &
	_oauth_pid=$!
	_pids="$_pids $_oauth_pid"
	for i in $(seq 100); do [ -s "$OAUTH/oauth.port" ] && break; sleep 0.05; done
	[ -s "$OAUTH/oauth.port" ] || { echo "Bail out! the OAuth server did not start: $(head -c 2000 "$T/oauth.err")"; exit 1; }
	OPORT=$(tr -d '\n' < "$OAUTH/oauth.port")
}
stop_oauth() {
	if [ -n "$_oauth_pid" ]; then kill "$_oauth_pid" 2>/dev/null; wait "$_oauth_pid" 2>/dev/null; _oauth_pid=; fi
	return 0
}
octl() { "$PYTHON3" "$OAUTH_PY" --dir "$OAUTH" --ctl "$1" --ca "$CERTS/ca.pem" >/dev/null; }

# ---- running relaymail -------------------------------------------------------

# run_rm INPUT-FILE ARGS...: runs relaymail with stdin from INPUT-FILE; sets RC,
# OUT, ERR and leaves the bytes in $RM_DIR/stdout and $RM_DIR/stderr (RM_DIR
# defaults to $T).  A run is killed after RM_TIMEOUT seconds (default 60; exit 124).
run_rm() {
	local input=$1 d=${RM_DIR:-$T}; shift
	timeout -k 5 "${RM_TIMEOUT:-60}" "$RELAYMAIL" "$@" <"$input" >"$d/stdout" 2>"$d/stderr"
	RC=$?
	OUT=$(<"$d/stdout")
	ERR=$(<"$d/stderr")
}

# now_ms: milliseconds since the epoch
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# eml_headers FILE / eml_body FILE: the parts before / after the first empty line
eml_headers() { "$PYTHON3" -c 'import sys; sys.stdout.buffer.write(open(sys.argv[1],"rb").read().split(b"\r\n\r\n",1)[0] + b"\r\n")' "$1"; }
eml_body() { "$PYTHON3" -c 'import sys; p = open(sys.argv[1],"rb").read().split(b"\r\n\r\n",1); sys.stdout.buffer.write(p[1] if len(p) > 1 else b"")' "$1"; }

if [ ! -x "$RELAYMAIL" ]; then
	echo "Bail out! $RELAYMAIL is not built (set RELAYMAIL or top_builddir)"
	exit 1
fi
