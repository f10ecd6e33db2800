#!/bin/bash
# The network path (issue 14): Happy Eyeballs (RFC 8305) over IPv6 and IPv4,
# ip_family, source_ip, connect_timeout apart from timeout, SOCKS5 and HTTP
# CONNECT proxies (with and without authentication, refusing, answering
# garbage, stalling), TLS verified end to end through a proxy, errors that
# name the hop, and the attempts shown by -v and --check.
#
# Runs in private mount and network namespaces (unshare -m -n): its own
# /etc/hosts (bind-mounted) gives names of both families, and an ip6tables
# rule that drops SYNs to one port on ::1 makes an address that never
# answers, without touching the host or tests running beside it.
if [ -z "${RM_IN_NAMESPACE:-}" ] && [ "$(id -u)" -eq 0 ] && unshare -m -n true 2>/dev/null; then
	RM_IN_NAMESPACE=1 exec unshare -m -n bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

if [ -z "${RM_IN_NAMESPACE:-}" ]; then
	echo "Bail out! needs root and private namespaces (unshare -m -n)"
	exit 1
fi
ip link set lo up || { echo "Bail out! cannot bring lo up in the network namespace"; exit 1; }
if ! ip -6 addr show dev lo 2>/dev/null | grep -q '::1/128'; then
	echo "1..0 # SKIP the kernel has no IPv6 on lo (::1): Happy Eyeballs cannot be tested"
	exit 0
fi
command -v ip6tables >/dev/null || { echo "Bail out! ip6tables missing (tests/deps.sh installs iptables)"; exit 1; }

PROXY_PY=$top_srcdir/tests/relay/proxy.py
MSG=$T/msg
printf 'Subject: network\n\nhello\n' > "$MSG"

# ---- names, certificates, relays ---------------------------------------------

printf '%s\n' '127.0.0.1 localhost' '::1 localhost6' '127.0.0.1 relay4.test' '::1 relay6.test' \
	'::1 relay.test' '127.0.0.1 relay.test' '127.0.0.1 other.test' > "$T/hosts"
mount --bind "$T/hosts" /etc/hosts || { echo "Bail out! cannot bind-mount /etc/hosts"; exit 1; }

make_certs "$CERTS" || { echo "Bail out! certtool failed"; exit 1; }
# The relays' certificate names relay*.test only: not localhost, not an IP,
# not other.test, so it proves which name TLS checked.
(
	cd "$CERTS" || exit 1
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile relaytest.key 2>/dev/null
	printf 'cn = "relay.test"\ndns_name = "relay.test"\ndns_name = "relay4.test"\ndns_name = "relay6.test"\ntls_www_server\nsigning_key\nexpiration_days = 30\n' > rt.tmpl
	certtool --generate-certificate --load-privkey relaytest.key --load-ca-certificate ca.pem \
		--load-ca-privkey ca.key --template rt.tmpl --outfile relaytest.pem >/dev/null 2>&1
) && [ -s "$CERTS/relaytest.pem" ] || { echo "Bail out! cannot make the relay.test certificate"; exit 1; }

RELAY=$T/r6; start_relay --cert relaytest --bind ::1; R6=$STARTTLS_PORT; _relay_pid=
RELAY=$T/r4; start_relay --cert relaytest; R4=$STARTTLS_PORT

CONF=$T/conf
send() {  # send key=value...: writes the config, runs relaymail -v with it
	write_config "$CONF" "$@"
	local t0; t0=$(now_ms)
	run_rm "$MSG" --config "$CONF" -v bob@example.org
	MS=$(( $(now_ms) - t0 ))
}
attempts() { printf '%s\n' "$ERR" | grep '^--- connect '; }
# ms_of ADDR: the duration -v gave for the attempt to ADDR
ms_of() { attempts | grep -- "--- connect $1 port" | sed -n 's/.* after \([0-9]*\) ms.*/\1/p' | head -1; }
drop6() { ip6tables -A OUTPUT -o lo -p tcp -d ::1 --dport "$1" -j DROP; }
undrop6() { ip6tables -D OUTPUT -o lo -p tcp -d ::1 --dport "$1" -j DROP 2>/dev/null; return 0; }
trap 'undrop6 $R4; cleanup' EXIT



# ---- one family each ------------------------------------------------------------

send host=relay6.test port=$R6
is "$RC" 0 "relay only on ::1: delivered"
like "$(RELAY=$T/r6 commands)" " CONNECT starttls from ::1$" "... the relay saw ::1"
like "$ERR" "(?m)^--- connect ::1 port $R6: connected after [0-9]+ ms \(chosen\)$" "-v: the IPv6 attempt, its time, chosen"

RELAY=$T/r4
send host=relay4.test port=$R4
is "$RC" 0 "relay only on 127.0.0.1: delivered"
like "$(commands)" " CONNECT starttls from 127\.0\.0\.1$" "... the relay saw 127.0.0.1"
is "$(attempts | wc -l)" 1 "... one attempt: the loopback path stays one connect"

# ---- Happy Eyeballs -------------------------------------------------------------

# relay.test: ::1 refuses at once (nothing listens there): IPv4 starts at
# once, without waiting the 250 ms.
reset_log
send host=relay.test port=$R4
is "$RC" 0 "both families, ::1 refused: delivered over IPv4"
like "$(attempts | head -1)" "^--- connect ::1 port $R4: refused after" "... IPv6 was tried first"
like "$(attempts | sed -n 2p)" "^--- connect 127\.0\.0\.1 port $R4: connected after [0-9]+ ms \(chosen\)" "... then IPv4, chosen"
[ "$(( $(ms_of ::1) + $(ms_of 127.0.0.1) ))" -lt 200 ]
ok $? "... the next attempt started as soon as the first failed (not after 250 ms)" "$(attempts)"

# ::1 never answers (SYN dropped): IPv4 starts 250 ms later and wins.
drop6 "$R4" || { echo "Bail out! ip6tables cannot add a rule"; exit 1; }
reset_log
send host=relay.test port=$R4 timeout=30
is "$RC" 0 "::1 never answers: delivered over IPv4"
like "$(attempts | head -1)" "^--- connect ::1 port $R4: cancelled \(another address answered first\) after [0-9]+ ms$" \
	"... the IPv6 attempt was cancelled when IPv4 won"
like "$(attempts | sed -n 2p)" "^--- connect 127\.0\.0\.1 port $R4: connected after [0-9]+ ms \(chosen\)$" "... IPv4 chosen"
v6ms=$(ms_of ::1)
[ -n "$v6ms" ] && [ "$v6ms" -ge 240 ] && [ "$v6ms" -lt 300 ]
ok $? "... IPv4 won within 300 ms of the start (${v6ms} ms; it starts at 250 ms)" "$(attempts)"
[ "$MS" -lt 4000 ]; ok $? "... the whole send took ${MS} ms, not the 30 s timeout"
like "$(commands)" " CONNECT starttls from 127\.0\.0\.1$" "... the relay saw IPv4"

send host=relay.test port=$R4 ip_family=ipv4
is "$RC" 0 "ip_family = ipv4: delivered"
is "$(attempts | grep -c '::1')" 0 "... no IPv6 address tried"
[ "$(ms_of 127.0.0.1)" -lt 200 ]; ok $? "... and no 250 ms wait ($(ms_of 127.0.0.1) ms)"

# connect_timeout bounds connecting, apart from timeout (30 s here).
reset_log
send host=relay.test port=$R4 ip_family=ipv6 connect_timeout=1 timeout=30 queue=no
is "$RC" 75 "ip_family = ipv6 to an address that never answers: exit 75"
like "$ERR" "relaymail: cannot connect to relay\.test port $R4: Connection timed out" "... says it timed out"
like "$(attempts)" "^--- connect ::1 port $R4: timed out after 1[0-9]{3} ms$" "... -v: the attempt timed out after connect_timeout"
[ "$MS" -ge 900 ] && [ "$MS" -lt 4000 ]; ok $? "... after about connect_timeout = 1 s (${MS} ms), not timeout = 30 s"
is "$(commands | grep -c CONNECT)" 0 "... nothing reached IPv4"
undrop6 "$R4"

# ... and not the replies: a greeting 2 s late with connect_timeout = 1.
faults '[{"step":"greeting","action":"delay","seconds":2}]'
send host=relay4.test port=$R4 connect_timeout=1 timeout=10
is "$RC" 0 "greeting after 2 s, connect_timeout = 1, timeout = 10: delivered"
faults ''

send host=relay4.test port=$R4 ip_family=ipv6 queue=no
is "$RC" 75 "ip_family = ipv6 for an IPv4-only name: exit 75"
like "$ERR" "relaymail: cannot connect to relay4\.test port $R4: no IPv6 address \(ip_family = ipv6\)" "... says why nothing was tried"
is "$(attempts | wc -l)" 0 "... no attempt"

# ---- source_ip -------------------------------------------------------------------

reset_log
send host=relay.test port=$R4 source_ip=127.0.0.2
is "$RC" 0 "source_ip = 127.0.0.2: delivered"
like "$(commands)" " CONNECT starttls from 127\.0\.0\.2$" "... the relay saw 127.0.0.2"
is "$(attempts | grep -c '::1')" 0 "... an IPv4 source: no IPv6 address tried"

send host=relay6.test port=$R6 source_ip=127.0.0.2 queue=no
is "$RC" 75 "IPv4 source_ip, IPv6-only relay: exit 75"
like "$ERR" "no IPv4 address \(source_ip 127\.0\.0\.2 is an IPv4 address, so only IPv4 addresses are tried\)" "... the error says why"

send host=relay.test port=$R4 source_ip=::1 ip_family=ipv4 queue=no
like "$ERR" "ip_family = ipv4 and source_ip ::1 \(IPv6\) exclude each other" "ip_family and source_ip in conflict: said so"

# ---- proxies ---------------------------------------------------------------------

# start_proxy NAME KIND [proxy.py args]: sets PX_NAME (port); log in $T/NAME.log
start_proxy() {
	local name=$1 kind=$2 f=$T/$1.port i; shift 2
	"$PYTHON3" "$PROXY_PY" --kind "$kind" --listen-port-file "$f" --log "$T/$name.log" "$@" \
		2>"$T/$name.err" </dev/null &
	_pids="$_pids $!"
	for i in $(seq 100); do [ -f "$f" ] && break; sleep 0.05; done
	[ -f "$f" ] || { echo "Bail out! proxy $name did not start: $(cat "$T/$name.err")"; exit 1; }
	printf -v "PX_$name" '%s' "$(cat "$f")"
}
start_proxy socks socks5
start_proxy socksauth socks5 --users bob:pr0xy-Secret
start_proxy http http
start_proxy httpauth http --users bob:pr0xy-Secret
start_proxy sref socks5 --fault refuse
start_proxy href http --fault refuse
start_proxy sgarb socks5 --fault garbage
start_proxy hgarb http --fault garbage
start_proxy sstall socks5 --fault stall
start_proxy hstall http --fault stall
PXPW=$T/proxy-pw; printf 'pr0xy-Secret\n' > "$PXPW"; chmod 600 "$PXPW"
BADPW=$T/proxy-bad; printf 'wrong-Pr0xy\n' > "$BADPW"; chmod 600 "$BADPW"

# source_ip 127.0.0.2 is for the hop to the proxy: the relay sees the proxy.
reset_log
send host=relay4.test port=$R4 proxy=socks5h://127.0.0.1:$PX_socks source_ip=127.0.0.2
is "$RC" 0 "SOCKS5: delivered"
is "$(cat "$T/socks.log")" "socks5 relay4.test $R4 atyp=domain user=-" "... the proxy got the relay's NAME (socks5h)"
like "$(commands)" " CONNECT starttls from 127\.0\.0\.1$" "... the relay saw the proxy's connection"
like "$ERR" "(?m)^--- connect proxy 127\.0\.0\.1 port $PX_socks: connected after [0-9]+ ms \(chosen\)$" "... -v: the attempt to the proxy"
like "$ERR" "(?m)^--- proxy 127\.0\.0\.1:$PX_socks: tunnel to relay4\.test:$R4 open \(SOCKS5\)$" "... -v: the tunnel"
facts; is "$J_tls" True "... TLS over the tunnel"

send host=relay4.test port=$R4 proxy=socks5h://bob@127.0.0.1:$PX_socksauth proxy_password_file=$PXPW
is "$RC" 0 "SOCKS5 with username/password: delivered"
is "$(tail -1 "$T/socksauth.log")" "socks5 relay4.test $R4 atyp=domain user=bob" "... authenticated as bob"
unlike "$ERR" "pr0xy-Secret" "... -v does not show the proxy password"

send host=relay4.test port=$R4 proxy=socks5h://bob@127.0.0.1:$PX_socksauth proxy_password_file=$BADPW queue=no
is "$RC" 77 "SOCKS5, wrong proxy password: exit 77"
like "$ERR" "relaymail: proxy 127\.0\.0\.1:$PX_socksauth: authentication failed \(user bob\)" "... names the proxy hop"

send host=relay4.test port=$R4 proxy=socks5h://127.0.0.1:$PX_socksauth queue=no
is "$RC" 77 "SOCKS5 wanting a password, none configured: exit 77"
like "$ERR" "proxy 127\.0\.0\.1:$PX_socksauth: authentication failed \(the proxy wants a user name and password" "... says so"

reset_log
send host=relay4.test port=$R4 proxy=http://127.0.0.1:$PX_http
is "$RC" 0 "HTTP CONNECT: delivered"
is "$(cat "$T/http.log")" "http relay4.test $R4 user=-" "... the proxy got the relay's name"
like "$ERR" "(?m)^<<< 220 relay\.test" "... the relay's greeting after the proxy's headers was not swallowed"
like "$(commands)" " CONNECT starttls from 127\.0\.0\.1$" "... the relay saw the proxy"

send host=relay4.test port=$R4 proxy=http://bob@127.0.0.1:$PX_httpauth "proxy_password_command=cat $PXPW"
is "$RC" 0 "HTTP CONNECT with Basic authentication (proxy_password_command): delivered"
is "$(tail -1 "$T/httpauth.log")" "http relay4.test $R4 user=bob" "... authenticated as bob"
unlike "$ERR" "pr0xy-Secret|cHIweHktU2VjcmV0|Ym9iOnByMHh5LVNlY3JldA" "... -v shows neither the password nor its base64"

send host=relay4.test port=$R4 proxy=http://bob@127.0.0.1:$PX_httpauth proxy_password_file=$BADPW queue=no
is "$RC" 77 "HTTP CONNECT, wrong proxy password: exit 77"
like "$ERR" "relaymail: proxy 127\.0\.0\.1:$PX_httpauth: authentication failed \(user bob\): \"HTTP/1\.1 407" "... names the proxy hop"

# Passwords longer than the proxy protocol carries are refused, not cut.
LONGPW=$T/proxy-long; head -c 1600 /dev/zero | tr '\0' 'p' > "$LONGPW"; chmod 600 "$LONGPW"
n_http=$(wc -l <"$T/httpauth.log")
send host=relay4.test port=$R4 proxy=http://bob@127.0.0.1:$PX_httpauth proxy_password_file=$LONGPW queue=no
is "$RC" 78 "HTTP CONNECT, a 1,600-byte proxy password: exit 78"
like "$ERR" "proxy 127\.0\.0\.1:$PX_httpauth: the proxy password is too long" "... says so, naming the hop"
is "$(wc -l <"$T/httpauth.log")" "$n_http" "... and no request reached the proxy"
send host=relay4.test port=$R4 proxy=socks5h://bob@127.0.0.1:$PX_socksauth proxy_password_file=$LONGPW queue=no
is "$RC" 78 "SOCKS5, a 1,600-byte proxy password: exit 78"
like "$ERR" "SOCKS5 allows a user name and a password of at most 255 bytes" "... says so"

# TLS is checked against the relay's name, not the proxy's: other.test
# reaches the same relay, whose certificate does not name it.
for p in "socks5h://127.0.0.1:$PX_socks" "http://127.0.0.1:$PX_http"; do
	send host=other.test port=$R4 proxy=$p queue=no
	is "$RC" 77 "${p%%:*}: a relay name the certificate lacks: exit 77 (TLS refused)"
	like "$ERR" "relaymail: relay other\.test:$R4 \(through proxy 127\.0\.0\.1:[0-9]+\): .*(certificate|name)" \
		"... the error names the relay hop and the proxy"
done

# Faults.
send host=relay4.test port=$R4 proxy=socks5h://127.0.0.1:$PX_sref queue=no
is "$RC" 75 "SOCKS5 refuses the relay: exit 75 (temporary)"
like "$ERR" "relaymail: proxy 127\.0\.0\.1:$PX_sref refused the connection to relay4\.test:$R4: SOCKS5 reply 5 \(connection refused\)" "... names both hops"
send host=relay4.test port=$R4 proxy=socks5h://127.0.0.1:$PX_sref
is "$RC" 0 "... with the queue on: queued (exit 0)"
like "$ERR" "queued" "... and says so"

send host=relay4.test port=$R4 proxy=http://127.0.0.1:$PX_href queue=no
is "$RC" 77 "HTTP proxy answers 403: exit 77 (its policy)"
like "$ERR" "relaymail: proxy 127\.0\.0\.1:$PX_href refused the connection to relay4\.test:$R4: \"HTTP/1\.1 403 Forbidden\"" "... names both hops"

send host=relay4.test port=$R4 proxy=socks5h://127.0.0.1:$PX_sgarb queue=no
is "$RC" 76 "SOCKS5 proxy answering garbage: exit 76"
like "$ERR" "relaymail: proxy 127\.0\.0\.1:$PX_sgarb: not a SOCKS5 proxy \(answered \"HTTP/1\.0 400 Bad Request" "... says what came"
send host=relay4.test port=$R4 proxy=http://127.0.0.1:$PX_hgarb queue=no
is "$RC" 76 "HTTP proxy answering garbage: exit 76"
like "$ERR" "relaymail: proxy 127\.0\.0\.1:$PX_hgarb: not an HTTP proxy \(answered \"hello garbage" "... says what came"

for px in sstall:socks5h hstall:http; do
	name=${px%%:*}; port_var=PX_$name
	send host=relay4.test port=$R4 proxy=${px#*:}://127.0.0.1:${!port_var} connect_timeout=1 timeout=30 queue=no
	is "$RC" 75 "${px#*:} proxy that stalls: exit 75"
	like "$ERR" "relaymail: proxy 127\.0\.0\.1:${!port_var}: no answer within 1 s \(connect_timeout\)" "... names the hop and the limit"
	[ "$MS" -lt 4000 ]; ok $? "... after connect_timeout (${MS} ms), not timeout = 30 s"
done

send host=relay4.test port=$R4 proxy=socks5h://127.0.0.1:1 queue=no
is "$RC" 75 "proxy not listening: exit 75"
like "$ERR" "relaymail: proxy 127\.0\.0\.1:1: Connection refused" "... names the proxy hop"

# Configuration.
for bad in "socks5h://bob:pw@127.0.0.1:1080|password does not belong in the URL: set proxy_password_file or proxy_password_command" \
	"socks5h://127.0.0.1|the port is required" "http://::1:3128|IPv6 address must be in brackets" \
	"http://[::1:3128|closing bracket" "socks5h://h:99999|from 1 to 65535" \
	"socks5h://bob%0Aroot@127.0.0.1:1080|the user name is empty, too long, badly percent-encoded" \
	"ftp://127.0.0.1:21|expected socks5h://\\[user@\\]host:port or http://" "http://h:3128/x|a proxy has no path"; do
	send host=relay4.test port=$R4 "proxy=${bad%%|*}"
	is "$RC" 78 "proxy = ${bad%%|*}: exit 78"
	like "$ERR" "invalid proxy .*${bad#*|}" "... says why"
done
send host=relay4.test port=$R4 proxy=socks5h://bob@127.0.0.1:$PX_socksauth queue=no
is "$RC" 78 "a proxy user without proxy_password_*: exit 78"
send host=relay4.test port=$R4 "proxy=http://[::1]:$PX_http" queue=no
is "$RC" 75 "proxy = http://[::1]:port accepted (nothing there: exit 75)"
like "$ERR" "proxy \[::1\]:$PX_http: Connection refused" "... shown in brackets"

# ---- --check -------------------------------------------------------------------

drop6 "$R4"
write_config "$CONF" host=relay.test port=$R4
RELAYMAIL_CHECK_PORTS=$R4 run_rm /dev/null --config "$CONF" --check
like "$OUT" "(?m)^PASS +connect 127\.0\.0\.1 port $R4: connected after [0-9]+ ms \(chosen\)$" "--check: the chosen address and its time"
like "$OUT" "(?m)^INFO +connect ::1 port $R4: cancelled \(another address answered first\) after [0-9]+ ms$" "--check: the IPv6 attempt"
undrop6 "$R4"
write_config "$CONF" host=relay.test port=$R4
RELAYMAIL_CHECK_PORTS=$R4 run_rm /dev/null --config "$CONF" --check
like "$OUT" "(?m)^WARN +connect ::1 port $R4: refused after [0-9]+ ms$" "--check: a failed address beside a working one is a warning"

write_config "$CONF" host=relay4.test port=$R4 proxy=socks5h://127.0.0.1:$PX_socks
run_rm /dev/null --config "$CONF" --check
like "$OUT" "(?m)^PASS +connect proxy 127\.0\.0\.1 port $PX_socks: connected after [0-9]+ ms \(chosen\)$" "--check through a proxy: the proxy attempt"
like "$OUT" "(?m)^PASS +TLS: .*certificate verified" "--check through a proxy: TLS verified"

done_testing
