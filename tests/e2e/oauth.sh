#!/bin/bash
# OAuth 2.0 (issue 12): XOAUTH2 / OAUTHBEARER against the test relay, access
# tokens obtained and renewed by relaymail from a local HTTPS OAuth server
# (tests/relay/oauth_server.py): refresh with rotation, the access token
# cache, renewal after an error challenge, client credentials, the device
# authorization grant (pending, slow_down, deny, expiry), the authorization
# code grant with PKCE (loopback redirect and pasted address), broken and
# slow endpoints, --check, and that no token or client secret ever shows.
. "$(dirname "$0")/lib.sh"

USER_ADDR=alice@example.com
SCOPE="https://mail.example/smtp offline_access"
token_requests() { grep -c "^token $1 " "$OAUTH/oauth.log" 2>/dev/null || true; }

# oauth_conf FILE [key=value...]: the test account as an OAuth account whose
# refresh token is in $T/token.
oauth_conf() {
	local f=$1; shift
	write_config "$f" password_file= user=$USER_ADDR oauth_client_id=relaymail-test \
		"oauth_scope=$SCOPE" oauth_token_endpoint=https://localhost:$OPORT/token \
		oauth_device_endpoint=https://localhost:$OPORT/devicecode \
		oauth_authorize_endpoint=https://localhost:$OPORT/authorize \
		oauth_grant=device_code oauth_token_file=$T/token "$@"
}
seed_token() { printf '%s\n' "$1" > "$T/token"; chmod 600 "$T/token"; }

# no_secret_in NAME FILE...: none of the issued tokens nor the client secret
# appears in the files.
no_secret_in() {
	local name=$1 leaked; shift
	leaked=$("$PYTHON3" - "$OAUTH/issued-tokens" "$@" <<'PY'
import sys
secrets = [l.strip() for l in open(sys.argv[1]) if len(l.strip()) >= 8]
secrets.append("s3cr3t-client-secret")
for path in sys.argv[2:]:
    try:
        data = open(path, "rb").read().decode("utf-8", "replace")
    except OSError:
        continue
    for s in secrets:
        if s in data or s[:24] in data:
            print("%s holds %s..." % (path, s[:6]))
PY
)
	is "$leaked" "" "$name: no token or client secret shown"
}

printf 'Subject: oauth\n\nhello\n' > "$T/msg"

# ---- refresh grant with rotation, then the cache ---------------------------
start_oauth --seed-refresh seed-refresh-token-1 --rotate
start_relay --auth-mechs XOAUTH2,OAUTHBEARER --oauth-dir "$OAUTH"
seed_token seed-refresh-token-1
oauth_conf "$T/conf" log_file=$T/events.log
run_rm "$T/msg" --config "$T/conf" -v bob@example.org
is "$RC" 0 "refresh grant: sent" "$ERR"
like "$(commands)" "AUTH-RESULT OAUTHBEARER ok user=$USER_ADDR" "auth = auto picks OAUTHBEARER when offered"
is "$(token_requests refresh_token)" 1 "one refresh_token request"
isnt "$(cat "$T/token")" "seed-refresh-token-1" "the rotated refresh token was written back"
grep -qxF "$(cat "$T/token")" "$OAUTH/issued-tokens"; ok $? "the stored refresh token is the one the server issued"
is "$(stat -c %a "$T/token")" 600 "the token file stays mode 0600"
[ -z "$(ls "$T"/token.tmp* 2>/dev/null)" ]; ok $? "no temporary file left beside the token file"
no_secret_in "-v transcript" "$T/stderr"
cp "$T/stderr" "$T/first.err"

run_rm "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 0 "second send: sent"
is "$(token_requests refresh_token)" 1 "second send: the cached access token is used (no token request)"
LD_DEBUG=files run_rm "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 0 "third send (cached token): sent"
unlike "$ERR" "libcurl|libjson-c" "a send with a cached token loads neither libcurl nor json-c"
ldd "$RELAYMAIL" > "$T/ldd" 2>&1
unlike "$(cat "$T/ldd")" "libcurl|libjson-c" "the binary does not link libcurl or json-c"
cache=$(ls "$T"/token.access-* 2>/dev/null | head -1)
[ -n "$cache" ] && [ "$(stat -c %a "$cache")" = 600 ]; ok $? "the access token cache is a private file beside the token file"

# ---- the relay refuses the cached token: error challenge, renew, retry ----
octl expire-access
reset_log
run_rm "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 0 "revoked access token: renewed and sent" "$ERR"
like "$(commands)" "AUTH-RESULT OAUTHBEARER dummy-response ok" "the error challenge got the dummy response (RFC 7628 3.2.3)"
is "$(commands | grep -c 'AUTH-RESULT OAUTHBEARER ok')" 1 "one successful AUTH after the refusal"
is "$(commands | awk '$2 == "AUTH" { print $1 }' | sort | uniq -c | awk '{ print $1 }')" 2 "both attempts on the same connection"
is "$(token_requests refresh_token)" 2 "exactly one renewal"
is "$(msg_count)" 4 "four messages arrived"

# XOAUTH2 only (Microsoft), without the error challenge (Microsoft's 535).
start_relay --auth-mechs XOAUTH2 --oauth-dir "$OAUTH" --oauth-no-challenge
oauth_conf "$T/conf" log_file=$T/events.log
octl expire-access
run_rm "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 0 "XOAUTH2 relay, 535 without challenge: renewed and sent" "$ERR"
like "$(commands)" "AUTH-RESULT XOAUTH2 ok" "auth = auto falls back to XOAUTH2"
is "$(token_requests refresh_token)" 3 "one more renewal"

# A relay that refuses even a fresh token: one retry only, then exit 77.
start_relay --auth-mechs XOAUTH2,OAUTHBEARER --oauth-dir /nonexistent
oauth_conf "$T/conf"
run_rm "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 77 "token refused twice: exit 77"
like "$ERR" "new token was refused too" "says a fresh token was refused too"
is "$(commands | grep -c ' AUTH ')" 2 "exactly two AUTH attempts"
is "$(commands | grep -c ' MAIL ')" 0 "no MAIL after a failed AUTH"

# auth = xoauth2 without oauth_client_id: the token comes from a password
# source (an external helper, as msmtp users do with oama).
start_relay --auth-mechs XOAUTH2,PLAIN --oauth-dir "$OAUTH"
octl expire-access
oauth_conf "$T/conf"
run_rm "$T/msg" --config "$T/conf" bob@example.org
tok=$(cat "$T"/token.access-* | sed -n 2p)
write_config "$T/conf" password_file= user=$USER_ADDR auth=xoauth2 "password_command=cat $T/helper-token"
printf '%s\n' "$tok" > "$T/helper-token"
run_rm "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 0 "auth = xoauth2 with a token from password_command: sent" "$ERR"
like "$(commands)" "AUTH-RESULT XOAUTH2 ok user=$USER_ADDR" "the helper's token was presented"

# auth = oauthbearer when the relay offers only XOAUTH2.
start_relay --auth-mechs XOAUTH2,PLAIN --oauth-dir "$OAUTH"
oauth_conf "$T/conf" auth=oauthbearer
run_rm "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 77 "auth = oauthbearer, relay without it: exit 77"
like "$ERR" "no usable AUTH mechanism" "says so"

# ---- refresh token problems ---------------------------------------------
start_relay --auth-mechs XOAUTH2,OAUTHBEARER --oauth-dir "$OAUTH"
rm -f "$T"/token.access-*
octl revoke-refresh
oauth_conf "$T/conf"
run_rm "$T/msg" --config "$T/conf" -odi bob@example.org
is "$RC" 77 "revoked refresh token: exit 77"
like "$ERR" "invalid_grant" "the provider's error code is named"
like "$ERR" "relaymail --oauth-login test" "says how to sign in again"
is "$(commands | grep -c ' AUTH ')" 0 "nothing presented to the relay"

rm -f "$T/token"
run_rm "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 78 "no refresh token yet: exit 78"
like "$ERR" "no OAuth refresh token yet.*--oauth-login test" "says to run --oauth-login"

seed_token whatever; chmod 644 "$T/token"
run_rm "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 78 "token file readable by others: exit 78"
like "$ERR" "oauth_token_file .*0600" "names the file and the mode"

# ---- the token endpoint misbehaves: temporary, the message is queued ------
start_oauth --seed-refresh seed-2 --fault token@malformed
seed_token seed-2
oauth_conf "$T/conf" queue=no
run_rm "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 75 "token endpoint answers garbage: exit 75 (temporary)"
like "$ERR" "not JSON" "says the answer is not JSON"

start_oauth --seed-refresh seed-2 --fault token@status:503
oauth_conf "$T/conf" queue=no
run_rm "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 75 "token endpoint 503: exit 75"
like "$ERR" "HTTP 503" "names the HTTP status"

start_oauth --seed-refresh seed-2 --fault token@slow:20
oauth_conf "$T/conf" queue=no timeout=2
t0=$(now_ms)
run_rm "$T/msg" --config "$T/conf" bob@example.org
t1=$(now_ms)
is "$RC" 75 "slow token endpoint: exit 75"
[ $((t1 - t0)) -lt 8000 ]; ok $? "slow token endpoint: given up after the account's timeout ($((t1 - t0)) ms)"

stop_oauth
oauth_conf "$T/conf"
run_rm "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 0 "token endpoint down, queue = yes: exit 0 (queued)"
run_rm /dev/null --config "$T/conf" -bp
like "$OUT" "bob@example.org" "the message waits in the queue"
like "$OUT" "localhost:$OPORT" "the queue entry says why (the token endpoint)"
start_oauth --seed-refresh seed-2
oauth_conf "$T/conf"
run_rm /dev/null --config "$T/conf" --flush-all
is "$RC" 0 "flush once the endpoint is back: exit 0"
run_rm /dev/null --config "$T/conf" -bp
unlike "$OUT" "bob@example.org" "the queue is empty again"

# Wrong CA: the token endpoint's certificate is verified.
oauth_conf "$T/conf" queue=no tls_ca_file=/etc/ssl/certs/ca-certificates.crt
run_rm "$T/msg" --config "$T/conf" bob@example.org
isnt "$RC" 0 "token endpoint with an untrusted certificate: refused"
like "$ERR" "certificate|verif" "says the certificate is not trusted"

# ---- client credentials -------------------------------------------------
start_oauth --client-secret s3cr3t-client-secret
start_relay --auth-mechs XOAUTH2 --oauth-dir "$OAUTH"
printf 's3cr3t-client-secret\n' > "$T/client-secret"; chmod 600 "$T/client-secret"
oauth_conf "$T/conf" oauth_grant=client_credentials oauth_token_file= \
	"oauth_scope=https://mail.example/.default" oauth_client_secret_file=$T/client-secret
run_rm "$T/msg" --config "$T/conf" -v bob@example.org
is "$RC" 0 "client_credentials: sent" "$ERR"
is "$(token_requests client_credentials)" 1 "one client_credentials request"
like "$(cat "$OAUTH/oauth.log")" "client_credentials ok client=relaymail-test secret=ok" "the client authenticated"
like "$(commands)" "AUTH-RESULT XOAUTH2 ok" "the app token was accepted"
no_secret_in "client_credentials -v" "$T/stderr"

oauth_conf "$T/conf" oauth_grant=client_credentials oauth_token_file= \
	"oauth_scope=https://mail.example/.default" "oauth_client_secret_command=cat $T/client-secret"
run_rm "$T/msg" --config "$T/conf" --check
no_secret_in "client_credentials --check" "$T/stdout" "$T/stderr"
like "$OUT" "none needed \(client_credentials\)" "--check: no refresh token needed"

oauth_conf "$T/conf" oauth_grant=client_credentials oauth_token_file= \
	"oauth_scope=https://mail.example/.default" oauth_client_secret=wrong-secret
rm -rf "$XDG_CACHE_HOME"
run_rm "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 77 "wrong client secret: exit 77"
like "$ERR" "invalid_client" "names invalid_client"
run_rm "$T/msg" --config "$T/conf" --check
like "$OUT" "oauth_client_secret += \(set; not shown\)" "--check does not show an inline client secret"
unlike "$OUT" "wrong-secret" "--check: the value is not there"

oauth_conf "$T/conf" oauth_grant=client_credentials oauth_token_file=
run_rm "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 78 "client_credentials without a client secret anywhere: exit 78"
like "$ERR" "no client secret for account 'test'.*--set-password test" "says where a client secret can come from"

# ---- device authorization grant -----------------------------------------
start_oauth --device-pending 2 --device-slow-down 1 --interval 1
start_relay --auth-mechs XOAUTH2,OAUTHBEARER --oauth-dir "$OAUTH"
rm -f "$T/token" "$T"/token.access-*
oauth_conf "$T/conf"
RM_TIMEOUT=90 run_rm /dev/null --config "$T/conf" --oauth-login test
is "$RC" 0 "device login: exit 0" "$ERR"
like "$OUT" "https://localhost:$OPORT/device" "shows the verification address"
code=$(sed -n 's/.*enter the code \([A-Z0-9-]*\).*/\1/p' "$T/stdout" | head -1)
[ -n "$code" ]; ok $? "shows the user code ($code)"
unlike "$(cat "$OAUTH/oauth.log")" "TOO-FAST" "polls at the interval, slower after slow_down"
like "$(cat "$OAUTH/oauth.log")" "slow_down" "the server did ask to slow down"
[ -s "$T/token" ] && [ "$(stat -c %a "$T/token")" = 600 ]; ok $? "refresh token stored, mode 0600"
no_secret_in "device login output" "$T/stdout" "$T/stderr"
run_rm "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 0 "send after the device login" "$ERR"

start_oauth --device-pending 0 --device-outcome deny --interval 1
oauth_conf "$T/conf"
run_rm /dev/null --config "$T/conf" --oauth-login test
is "$RC" 77 "device login declined: exit 77"
like "$ERR" "declined" "says the sign-in was declined"
start_oauth --device-pending 0 --device-outcome expire --interval 1
oauth_conf "$T/conf"
run_rm /dev/null --config "$T/conf" --oauth-login test
is "$RC" 77 "device code expired: exit 77"
like "$ERR" "expired.*--oauth-login test again" "says to run it again"

# ---- authorization code grant with PKCE --------------------------------------
# login_code MODE: runs --oauth-login with a pipe as stdin; the "browser" is
# curl: MODE follow lets it follow the redirect to relaymail's listener;
# MODE paste pastes the address it was sent to; MODE badstate pastes it with
# another state.
login_code() {
	local mode=$1 url loc i
	rm -f "$T/login.out" "$T/login.err"; mkfifo "$T/in.$mode"
	timeout 60 "$RELAYMAIL" --config "$T/conf" --oauth-login test <"$T/in.$mode" >"$T/login.out" 2>"$T/login.err" &
	local pid=$!
	exec 7>"$T/in.$mode"
	for i in $(seq 100); do grep -q "https://localhost:$OPORT/authorize" "$T/login.out" 2>/dev/null && break; sleep 0.05; done
	url=$(grep -o "https://localhost:$OPORT/authorize[^ ]*" "$T/login.out" | head -1)
	case $mode in
	follow) curl -s -L --cacert "$CERTS/ca.pem" -o "$T/browser.html" "$url" ;;
	*)
		loc=$(curl -s --cacert "$CERTS/ca.pem" -o /dev/null -w '%{redirect_url}' "$url")
		[ "$mode" = badstate ] && loc=$(printf '%s' "$loc" | sed 's/state=[^&]*/state=forged/')
		printf '%s\n' "$loc" >&7 ;;
	esac
	wait "$pid"; RC=$?
	exec 7>&-
	OUT=$(cat "$T/login.out"); ERR=$(cat "$T/login.err")
	AUTH_URL=$url
}
start_oauth --client-secret s3cr3t-client-secret
rm -f "$T/token"
oauth_conf "$T/conf" oauth_grant=authorization_code oauth_client_secret=s3cr3t-client-secret
login_code follow
is "$RC" 0 "authorization code, browser on this host: exit 0" "$ERR"
like "$AUTH_URL" "code_challenge_method=S256" "the request uses PKCE S256"
like "$AUTH_URL" "redirect_uri=http%3A%2F%2F127.0.0.1%3A[0-9]+%2F" "loopback redirect on 127.0.0.1"
like "$(cat "$OAUTH/oauth.log")" "authorization_code ok .*pkce=ok" "the code verifier matched the challenge"
like "$(cat "$T/browser.html" 2>/dev/null)" "." "the browser got a page back"
[ -s "$T/token" ]; ok $? "refresh token stored"
no_secret_in "authorization code login" "$T/login.out" "$T/login.err"

rm -f "$T/token"
login_code paste
is "$RC" 0 "authorization code, pasted address: exit 0" "$ERR"
[ -s "$T/token" ]; ok $? "refresh token stored after the paste"
rm -f "$T/token"
login_code badstate
is "$RC" 77 "pasted address with another state: refused (exit 77)"
like "$ERR" "state" "says the state does not match"
[ ! -e "$T/token" ]; ok $? "nothing stored after a forged state"

# ---- --check ---------------------------------------------------------------
start_oauth --seed-refresh seed-3
seed_token seed-3
start_relay --auth-mechs XOAUTH2,OAUTHBEARER --oauth-dir "$OAUTH"
oauth_conf "$T/conf"
run_rm "$T/msg" --config "$T/conf" bob@example.org
run_rm /dev/null --config "$T/conf" --check
like "$OUT" "PASS +OAuth: grant device_code, client relaymail-test" "--check: the grant and client"
like "$OUT" "PASS +AUTH mechanism: OAUTHBEARER" "--check: the mechanism"
like "$OUT" "PASS +refresh token: oauth_token_file $T/token" "--check: where the refresh token is"
like "$OUT" "access token cached, valid until 20[0-9-]+ [0-9:]+" "--check: when the access token expires"
like "$OUT" "AUTH OAUTHBEARER as $USER_ADDR accepted" "--check: authenticates with the token"
no_secret_in "--check" "$T/stdout" "$T/stderr"
rm -f "$T/token"
run_rm /dev/null --config "$T/conf" --check
isnt "$RC" 0 "--check without a refresh token: non-zero"
like "$OUT" "FAIL .*--oauth-login test" "--check says to sign in"

write_config "$T/conf" provider=office365 host=localhost port=$STARTTLS_PORT
run_rm /dev/null --config "$T/conf" --check
like "$OUT" "WARN +Microsoft is retiring Basic authentication.*relaymail --oauth-login test" \
	"--check: office365 with a password warns and gives the command"

# The office365 preset fills endpoints and scope once oauth_client_id is set.
write_config "$T/conf" provider=office365 host=localhost port=$STARTTLS_PORT password_file= \
	oauth_client_id=my-app oauth_tenant=contoso.example
run_rm /dev/null --config "$T/conf" --check
like "$OUT" "oauth_token_endpoint = https://login.microsoftonline.com/contoso.example/oauth2/v2.0/token +\(office365\)" \
	"office365 preset: token endpoint with the tenant"
like "$OUT" "oauth_scope += https://outlook.office.com/SMTP.Send offline_access" "office365 preset: scope"
like "$OUT" "oauth_grant += device_code" "office365 preset: device code"

no_secret_in "event log" "$T/events.log"
done_testing
