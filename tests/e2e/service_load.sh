#!/bin/bash
# System mode under load and faults (issue 10, "Bad input and faults" and
# "Tests and numbers"): bursts of 100 and 200 concurrent clients through
# max_sessions = 3 (never more connections at the relay, each message
# delivered once), the relay down or refusing while clients submit (queued
# once, delivered once when it is back), the relay closing idle or warm
# sessions, 421/454 throttling, SIGKILL of the service during a burst,
# allowed_users, the event log's user=, and the round trips of a message on a
# warm session (PIPELINING: 2, CHUNKING: 1).
# Runs in a private mount namespace, like service.sh (system file bind-mounted
# on SYSCONFDIR).
if [ -z "${RM_IN_NAMESPACE:-}" ] && [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
	RM_IN_NAMESPACE=1 exec unshare -m bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

if [ -z "${RM_IN_NAMESPACE:-}" ]; then
	skip "system mode under load" "needs root and a private mount namespace (unshare -m)"
	done_testing; exit 0
fi
for tool in setpriv flock pgrep; do
	command -v "$tool" >/dev/null 2>&1 || { echo "Bail out! $tool is missing"; exit 1; }
done
SYSCONFDIR=${RELAYMAIL_SYSCONFDIR:-/usr/local/etc}
# RM_KEEP=DIR: keep the service's and the relay's directories there (debugging).
if [ -n "${RM_KEEP:-}" ]; then
	trap 'rm -rf "$RM_KEEP"; mkdir -p "$RM_KEEP"; cp -a "$T/svc" "$T/relay" "$T/service.err" "$RM_KEEP/" 2>/dev/null; cleanup' EXIT
fi
id relaymail >/dev/null 2>&1 ||
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin relaymail

start_relay
chmod 755 "$T" "$CERTS"; chmod 644 "$CERTS/ca.pem"
S=$T/svc; W=$T/www
mkdir -p "$S/run" "$W" "$T/etc" "$SYSCONFDIR"
printf '%s\n' "$PW" > "$S/pw"
chown -R relaymail: "$S"; chmod 711 "$S"; chmod 755 "$S/run"; chmod 600 "$S/pw"
chown -R www-data: "$W"
EVENTS=$S/events.log
MAX_SESSIONS=3

system_file() {  # [service key=value ...]: the system file for the relay's current port
	local kv k
	local -a keys=(socket max_sessions session_idle client_timeout service_idle)
	local -A val=([socket]=$S/run/submit [max_sessions]=$MAX_SESSIONS [session_idle]=3
		[client_timeout]=20 [service_idle]=0)
	for kv in "$@"; do
		k=${kv%%=*}
		case " ${keys[*]} " in *" $k "*) ;; *) keys+=("$k") ;; esac
		val[$k]=${kv#*=}
	done
	{
		printf '[defaults]\ndefault_account = sys\n\n[account sys]\n'
		printf 'host = localhost\nport = %s\ntls_ca_file = %s\nuser = alice\n' "$STARTTLS_PORT" "$CERTS/ca.pem"
		printf 'password_file = %s\nfrom = sender@example.com\ndomain = example.com\n' "$S/pw"
		printf 'timeout = 10\nqueue_dir = %s\nfailed_dir = %s\nlog_file = %s\n' \
			"$S/queue" "$S/failed" "$EVENTS"
		printf '\n[service]\n'
		for k in "${keys[@]}"; do printf '%s = %s\n' "$k" "${val[$k]}"; done
	} > "$T/etc/relaymail.conf"
	chmod 644 "$T/etc/relaymail.conf"
}
system_file
mount --bind "$T/etc" "$SYSCONFDIR" || { echo "Bail out! cannot bind-mount $SYSCONFDIR"; exit 1; }

SVC_PID=
start_service() {  # own listener, as relaymail; its stderr collects in service.err
	stop_service
	setpriv --reuid=relaymail --regid=relaymail --clear-groups env -i PATH=/usr/bin:/bin \
		LSAN_OPTIONS="${LSAN_OPTIONS:-}" "$RELAYMAIL" --serve 2>>"$T/service.err" &
	SVC_PID=$!
	_pids="$_pids $SVC_PID"
	for _ in $(seq 200); do
		# The socket file of a killed service stays: wait for a listener.
		"$PYTHON3" -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' \
			"$S/run/submit" 2>/dev/null && return 0
		kill -0 "$SVC_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "# service did not start: $(tail -5 "$T/service.err")"
	return 1
}
stop_service() {
	[ -n "$SVC_PID" ] || return 0
	kill "$SVC_PID" 2>/dev/null; wait "$SVC_PID" 2>/dev/null
	SVC_PID=
}
restart_relay() {  # relay.py args...: a new relay (new ports), the system file, the service
	stop_service
	start_relay "$@"
	system_file "${SYSTEM_ARGS[@]}"
	start_service
}
SYSTEM_ARGS=()

as_user() {  # USER HOME ARGS...: relaymail as USER, stdin $INPUT; sets RC, ERR, OUT
	local user=$1 home=$2; shift 2
	RC=0
	ERR=$(setpriv --reuid="$user" --regid="$user" --init-groups env -i PATH=/usr/bin:/bin \
		HOME="$home" TMPDIR=/tmp LSAN_OPTIONS="${LSAN_OPTIONS:-}" \
		timeout 60 "$RELAYMAIL" "$@" <"${INPUT:-/dev/null}" 2>&1 >"$T/as_user.out") || RC=$?
	OUT=$(<"$T/as_user.out")
}

mkmsg() {  # TAG [TO]: a message file with Subject TAG, Message-ID <TAG@load.test>
	printf 'Subject: %s\nTo: %s\nMessage-ID: <%s@load.test>\n\nbody of %s\n' \
		"$1" "${2:-bob@example.org}" "$1" "$1" > "$T/msg.$1"
	chmod 644 "$T/msg.$1"
	echo "$T/msg.$1"
}
send_one() {  # TAG [TO]: one message as www-data
	INPUT=$(mkmsg "$@") as_user www-data "$W" -t -i
}

# burst TAG N [TO-ODD]: N clients as www-data started at once (they wait on a
# shared lock the test holds until all are there).  Client i sends Subject
# TAG-i (to TO-ODD when i is odd, if given); its exit status, stdout and
# stderr are left in $T/TAG/i.rc, i.out, i.err.  BURST_HOOK, if set, runs
# once the clients are released (and before they are waited for).
burst() {
	local tag=$1 n=$2 odd=${3:-} d=$T/$1 i to pids="" lock=$T/$1.go
	mkdir -p "$d"
	: > "$lock"; chmod 644 "$lock"
	exec 9>"$lock"
	flock -x 9
	for i in $(seq "$n"); do
		to=bob@example.org
		[ -n "$odd" ] && [ $((i % 2)) -eq 1 ] && to=$odd
		mkmsg "$tag-$i" "$to" >/dev/null
		( setpriv --reuid=www-data --regid=www-data --init-groups env -i PATH=/usr/bin:/bin \
			HOME="$W" TMPDIR=/tmp LSAN_OPTIONS="${LSAN_OPTIONS:-}" \
			flock -s "$lock" timeout 150 "$RELAYMAIL" -t -i \
			<"$T/msg.$tag-$i" >"$d/$i.out" 2>"$d/$i.err"
		  echo $? > "$d/$i.rc" ) &
		pids="$pids $!"
	done
	for _ in $(seq 600); do
		[ "$(pgrep -cf "^flock -s $lock")" -ge "$n" ] && break
		sleep 0.05
	done
	flock -u 9; exec 9>&-
	[ -n "${BURST_HOOK:-}" ] && $BURST_HOOK
	# shellcheck disable=SC2086
	wait $pids
}
# rcs TAG: "<status> <count>" per exit status, e.g. "0 100" or "0 12,75 28"
rcs() { cat "$T/$1"/*.rc | sort -n | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? "," : ""), $2, $1 }'; }
# errs TAG: the clients' stderr, with the client number
errs() { grep -H . "$T/$1"/*.err 2>/dev/null | sed "s|^$T/$1/||" | head -20; }

# tally TAG N: "once missing dup": how many of TAG-1..TAG-N the relay got
# once, not at all, more than once.  Also writes $T/TAG.count (one line per
# message: i count).
tally() {
	"$PYTHON3" - "$RELAY/messages" "$1" "$2" "$T/$1.count" <<'PY'
import collections, glob, re, sys
d, tag, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
seen = collections.Counter()
for f in glob.glob(d + "/*.eml"):
    for m in re.finditer(rb"^Subject: (\S+)\r$", open(f, "rb").read().split(b"\r\n\r\n")[0], re.M):
        seen[m.group(1).decode()] += 1
counts = [seen["%s-%d" % (tag, i)] for i in range(1, n + 1)]
with open(out, "w") as f:
    for i, c in enumerate(counts, 1):
        f.write("%d %d\n" % (i, c))
print(sum(c == 1 for c in counts), sum(c == 0 for c in counts), sum(c > 1 for c in counts))
PY
}
# queued_subjects: the Subjects of the entries in the system queue, one a line
queued_subjects() {
	local e
	for e in "$S/queue"/*.env; do
		[ -e "$e" ] || continue
		sed -n 's/^Subject: \([^[:space:]]*\).*/\1/p;/^\r\?$/q' "${e%.env}.msg"
	done
}
is_d() {  # GOT WANT NAME DIAG: is, with a diagnosis of its own when it fails
	if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3" "got:  $1
want: $2
${4:-}"; fi
}
# missing TAG: for the messages of TAG the relay did not get (after tally),
# what the event log and the failed-mail store say (a failure's diagnosis)
missing() {
	local i
	for i in $(awk '$2 == 0 { print $1 }' "$T/$1.count" | head -5); do
		echo "$1-$i: $(grep "msgid=<$1-$i@" "$EVENTS" | cut -d' ' -f3- | cut -c1-200)"
	done
	ls "$S/failed" | head -5
	tail -5 "$T/service.err"
}
# (find, not a glob tested on its first name: the flush removes entries
# while we look, and the first name gone is not an empty queue; and not
# the .tmp-*.env a kill leaves half-written: no entry, as for the queue)
queue_entries() { find "$S/queue" -maxdepth 1 -name '*.env' ! -name '.*' 2>/dev/null | wc -l; }
wait_queue_empty() {  # up to 60 s (40 entries one by one on a loaded CI machine)
	for _ in $(seq 600); do [ "$(queue_entries)" -eq 0 ] && return 0; sleep 0.1; done
	return 1
}
max_connections() { cat "$RELAY/max_connections" 2>/dev/null || echo 0; }
relay_sockets() {  # the service's open TCP connections (to the relay)
	local n=0 f
	for f in /proc/"$SVC_PID"/fd/*; do
		case "$(readlink "$f")" in socket:*) n=$((n + 1)) ;; esac
	done
	echo $((n - BASE_SOCKETS))
}
threads() { ls /proc/"$SVC_PID"/task 2>/dev/null | wc -l; }
wait_sessions_closed() {  # the pool reaps idle sessions after session_idle (3 s)
	for _ in $(seq 100); do [ "$(relay_sockets)" -le 0 ] && return 0; sleep 0.1; done
	return 1
}

T0=$(now_ms)
section() { diag "---- $* (at $(( ($(now_ms) - T0) / 1000 )) s)"; }
start_service || { echo "Bail out! the service does not start"; exit 1; }
BASE_SOCKETS=0; BASE_SOCKETS=$(relay_sockets)   # the listener (and syslog)
BASE_FDS=$(ls /proc/"$SVC_PID"/fd | wc -l)

# ---- 1. 100 concurrent submissions, max_sessions = 3 --------------------------------------
section "1. 100 concurrent submissions, max_sessions = 3"
burst L100 100
is_d "$(rcs L100)" "0 100" "100 concurrent clients as www-data: every one exits 0" "$(errs L100)"
is "$(cat "$T"/L100/*.err)" "" "... none has anything on stderr"
is "$(tally L100 100)" "100 0 0" "... all 100 delivered exactly once (once missing dup)"
is "$(max_connections)" "$MAX_SESSIONS" "... never more than max_sessions = 3 connections at the relay (and the pool used them)"
conns=$(commands | grep -c ' CONNECT ')
ok $((conns <= MAX_SESSIONS ? 0 : 1)) "... over warm sessions: $conns connections for 100 messages"
# The event log names the local user for each message.
sent_www=$(grep -c ' sent user=www-data msgid=<L100-[0-9]*@load.test>' "$EVENTS")
is "$sent_www" 100 "event log: a 'sent user=www-data' line for each of the 100 messages"
is "$(grep -o 'msgid=<L100-[0-9]*@' "$EVENTS" | sort -u | wc -l)" 100 "... one per distinct message"

# ---- 2. 200 clients at once -----------------------------------------------------------------
section "2. 200 clients at once"
burst L200 200
is_d "$(rcs L200)" "0 200" "200 clients at once: every one exits 0" "$(errs L200)"
is "$(cat "$T"/L200/*.err)" "" "... none has anything on stderr"
is "$(tally L200 200)" "200 0 0" "... all 200 delivered exactly once"
is "$(max_connections)" "$MAX_SESSIONS" "... still never more than 3 connections at the relay"
kill -0 "$SVC_PID" 2>/dev/null; ok $? "... the service is still running"
send_one H-1
is "$RC/$ERR" "0/" "... and still serves: the next message exits 0"
is "$(tally H 1)" "1 0 0" "... and is delivered once"
for _ in $(seq 50); do [ "$(threads)" -le 1 ] && break; sleep 0.1; done
is "$(threads)" 1 "... every client thread has ended"
wait_sessions_closed; ok $? "... the idle sessions are closed after session_idle"
is "$(ls /proc/"$SVC_PID"/fd | wc -l)" "$BASE_FDS" "... no descriptor leaked"

# ---- 3. the relay down, or refusing, while clients submit -----------------------------------
section "3. the relay down, or refusing, while clients submit"
faults '[{"step": "greeting", "reply": "421 4.3.2 down for maintenance"}]'
n0=$(msg_count); e0=$(wc -l <"$T/service.err")
burst D 20
is_d "$(rcs D)" "0 20" "relay down (421 at the greeting): 20 concurrent clients exit 0" "$(errs D)"
# Refused while none of its sessions is open: down, not throttling (the
# pool would shrink to one session for POOL_REGROW_S after it comes back).
is "$(tail -n +$((e0 + 1)) "$T/service.err" | grep -c 'refused another connection')" 0 \
	"... the service does not take a relay that is down for one that throttles"
is "$(grep -l 'queued as' "$T"/D/*.err | wc -l)" 20 "... each told its message is queued"
is "$(msg_count)" "$n0" "... the relay got none"
is "$(queued_subjects | grep -c '^D-')" 20 "... 20 entries in the system queue"
is "$(queued_subjects | sort | uniq -d)" "" "... each message queued once"
is "$(grep -c ' queued user=www-data .*msgid=<D-' "$EVENTS")" 20 "... each 'queued' event names user=www-data"
faults ''
INPUT=/dev/null as_user root /root --flush-all
is "$RC/$ERR" "0/" "relay back: relaymail --flush-all as root has the service flush the queue"
wait_queue_empty; ok $? "... the system queue empties"
is_d "$(tally D 20)" "20 0 0" "... every queued message delivered exactly once" "$(missing D)"
is "$(grep -c ' delivered user=www-data .*msgid=<D-' "$EVENTS")" 20 "... and logged as delivered, by user=www-data"

# Refusing (451 at MAIL) on the warm sessions: the pool's sessions see the
# rule for as long as they live; after them the relay takes mail again.
start_service       # a new pool: its sessions get the rule
faults '[{"step": "mail", "reply": "451 4.3.0 try later"}]'
n0=$(msg_count)
reset_log
burst R 20
is_d "$(rcs R)" "0 20" "relay answering 451 to MAIL: 20 concurrent clients exit 0" "$(errs R)"
is "$(commands | grep -c ' MAIL ')" 20 "... each tried once (the relay's answer is not retried on another session)"
is "$(msg_count)" "$n0" "... the relay got none"
is "$(queued_subjects | grep -c '^R-')" 20 "... each queued"
is "$(queued_subjects | sort | uniq -d)" "" "... once"
conns=$(commands | grep -c ' CONNECT ')
faults ''
wait_sessions_closed        # the refusing sessions go after session_idle
send_one R0
is "$RC/$ERR" "0/" "relay accepting again: the next submission exits 0"
wait_queue_empty; ok $? "... and the service flushes the queue after that success"
is_d "$(tally R 20)" "20 0 0" "... every queued message delivered exactly once" "$(missing R)"

# ---- 4. the relay closes warm sessions ------------------------------------------------------
section "4. the relay closes warm sessions"
for action in reply drop; do
	faults "[{\"step\": \"idle\", \"seconds\": 1, \"action\": \"$action\"}]"
	start_service       # a new pool: its sessions get the rule
	reset_log
	send_one "I$action-1"
	sleep 1.3   # the relay closes the session after 1 s, the pool would after 2-3 s
	send_one "I$action-2"
	is "$RC/$ERR" "0/" "relay closed the idle warm session ($action): the next submission exits 0, nothing on stderr"
	is "$(tally "I$action" 2)" "2 0 0" "... both messages delivered once"
	is "$(commands | grep -c " FAULT idle $action")" 1 "... (the relay did close it)"
	is "$(commands | grep -c ' CONNECT ')" 2 "... the next message went over a new session"
done
# Closed at the next MAIL (a relay's limit of messages per connection): the
# pool cannot see it coming; the message goes over a new session.
for action in close drop; do
	faults "[{\"step\": \"mail\", \"action\": \"$action\", \"after\": 1}]"
	start_service
	reset_log
	for i in 1 2 3; do
		send_one "M$action-$i"
		is "$RC/$ERR" "0/" "relay closing a warm session at MAIL ($action), message $i: exit 0, nothing on stderr"
	done
	is "$(tally "M$action" 3)" "3 0 0" "... all three delivered once"
	is "$(commands | grep -c " FAULT mail $action")" 2 "... (the relay closed the warm session twice)"
	is "$(queue_entries)" 0 "... nothing queued"
done
faults ''

# ---- 5. 421/454 throttling -------------------------------------------------------------------
section "5. 421/454 throttling"
# 454 at AUTH while another session is open (Microsoft 365's way).
faults '[{"step": "auth", "reply": "454 4.7.0 Temporary authentication failure: too many sessions", "concurrent": 1}]'
start_service
reset_log
burst TA 30
is_d "$(rcs TA)" "0 30" "relay throttling with 454 at AUTH beyond 1 session: 30 concurrent clients exit 0" "$(errs TA)"
is "$(cat "$T"/TA/*.err)" "" "... none reported as an error or a warning"
is "$(tally TA 30)" "30 0 0" "... all delivered once"
is "$(queue_entries)" 0 "... nothing queued"
refused=$(commands | grep -c ' FAULT auth ')
ok $((refused >= 1 && refused <= MAX_SESSIONS - 1 ? 0 : 1)) \
	"... the pool shrank instead of retrying: $refused refused session(s) (1 to $((MAX_SESSIONS - 1)))"
faults ''
# 421 at the greeting beyond 1 connection.
restart_relay --max-concurrent 1
burst TG 30
is_d "$(rcs TG)" "0 30" "relay throttling with 421 at the greeting beyond 1 connection: 30 clients exit 0" "$(errs TG)"
is "$(cat "$T"/TG/*.err)" "" "... none reported as an error or a warning"
is "$(tally TG 30)" "30 0 0" "... all delivered once"
is "$(queue_entries)" 0 "... nothing queued"
refused=$(commands | grep -c ' FAULT greeting throttle')
ok $((refused >= 1 && refused <= MAX_SESSIONS - 1 ? 0 : 1)) \
	"... the pool shrank instead of retrying: $refused refused connection(s) (1 to $((MAX_SESSIONS - 1)))"
is "$(cat "$RELAY/max_admitted")" 1 "... (the relay served one session at a time)"

# ---- 6. SIGKILL of the service during a burst ---------------------------------------------
section "6. SIGKILL of the service during a burst"
restart_relay
# Odd clients' messages are refused for now (queued), even ones are sent,
# each after 0.2 s at the end of data: the kill finds work in progress.
faults '[{"step": "rcpt", "match": "later@example.org", "reply": "451 4.2.1 mailbox busy"},
	 {"step": "eod", "action": "delay", "seconds": 0.2}]'
# The kill: once 4 clients have their answer, after a random 0 to 0.3 s more.
KILL_AFTER=${KILL_AFTER:-0.$((RANDOM % 4))}
kill_service() {
	for _ in $(seq 2000); do
		[ "$(find "$T/K" -name '*.rc' | wc -l)" -ge 4 ] && break
		sleep 0.01
	done
	sleep "$KILL_AFTER"
	kill -KILL "$SVC_PID"
}
BURST_HOOK=kill_service burst K 40 later@example.org
wait "$SVC_PID" 2>/dev/null; SVC_PID=
diag "the service was killed ${KILL_AFTER}s after the 4th answer (KILL_AFTER): exit statuses $(rcs K)"
is_d "$(cat "$T"/K/*.rc | grep -cvE '^(0|75)$')" 0 "SIGKILL during a burst: every client exits 0 or 75" "$(rcs K)"
acked=$(grep -lx 0 "$T"/K/*.rc | sed 's|.*/||; s|\.rc$||' | sort -n)
unacked=$(grep -lx 75 "$T"/K/*.rc | sed 's|.*/||; s|\.rc$||' | sort -n)
ok $([ -n "$acked" ] && [ -n "$unacked" ]; echo $?) "... some answered before the kill, some not"
tally K 40 >/dev/null
lost=
for i in $acked; do
	grep -qx "$i [1-9][0-9]*" "$T/K.count" || queued_subjects | grep -qx "K-$i" || lost="$lost $i"
done
is "$lost" "" "... every acknowledged message is at the relay or in the system queue"
bad=
for i in $unacked; do
	grep -qE 'relaymail service .*(cannot be reached|without an answer|closed the connection)' "$T/K/$i.err" ||
		bad="$bad $i"
done
is "$bad" "" "... every unanswered client says it could not hand over its message"
# What a kill in the middle of queueing leaves: .tmp-* files and .msg files
# without their .env, never an entry (the flush removes them after an hour).
strays() {
	local f
	for f in $(ls -A "$S/queue"); do
		case $f in
		.lock) ;;
		.tmp-*) echo "stray $f" ;;
		*.msg) [ -e "$S/queue/${f%.msg}.env" ] && echo "entry $f" || echo "stray $f" ;;
		*.env) echo "entry $f" ;;
		*) echo "other $f" ;;
		esac
	done
}
faults ''
start_service
ok $? "the service starts again after SIGKILL (stale socket replaced)"
# Its first queue run (due entries only) must be over: a FLUSH while another
# run holds the queue's lock returns at once without flushing (reported).
sleep 0.3
for _ in $(seq 100); do [ "$(threads)" -le 1 ] && break; sleep 0.1; done
INPUT=/dev/null as_user root /root --flush-all
is "$RC/$ERR" "0/" "... relaymail --flush-all as root: the service flushes"
wait_queue_empty; ok $? "... the system queue empties"
tally K 40 >/dev/null
missing= dup=
for i in $acked; do
	c=$(sed -n "s/^$i //p" "$T/K.count")
	[ "$c" -ge 1 ] || missing="$missing $i"
	[ "$c" -le 1 ] || dup="$dup $i"
done
is_d "$missing" "" "... every acknowledged message delivered" "$(missing K)"
is "$dup" "" "... none of them twice"
is "$(strays | grep -v '^stray ')" "" "... no entry left behind in the queue (only $(strays | grep -c '^stray ') stray file(s) of the kill)"

# ---- 7. allowed_users ----------------------------------------------------------------------
section "7. allowed_users"
SYSTEM_ARGS=(allowed_users=root,carol)
system_file "${SYSTEM_ARGS[@]}"
start_service
n0=$(msg_count); q0=$(queue_entries)
send_one A1
isnt "$RC" 0 "allowed_users = root,carol: www-data is refused (exit $RC)"
is "$RC" 77 "... with exit 77 (EX_NOPERM)"
like "$ERR" "may not submit" "... saying it may not submit"
unlike "$ERR" "NOPERM" "... in words (no protocol token)"
is "$(msg_count)" "$n0" "... nothing sent"
is "$(queue_entries)" "$q0" "... nothing queued"
INPUT=$(mkmsg A2) as_user root /root -t -i
is "$RC/$ERR" "0/" "... root still sends"

# ---- 10. session_idle counts whole seconds -------------------------------------------------
section "10. session_idle counts whole seconds"
SYSTEM_ARGS=(session_idle=1)
restart_relay
for i in $(seq 9); do
	send_one "SI-$i"
	sleep 0.25
done
is "$(tally SI 9)" "9 0 0" "session_idle = 1, a message every ~0.3 s: all delivered once"
is "$(commands | grep -c ' CONNECT ')" 1 "... over one session (never closed after less than 1 s idle)"
c0=$(commands | grep -c ' CONNECT ')
sleep 2.2
send_one SI-11
is "$(commands | grep -c ' CONNECT ')" $((c0 + 1)) "... and closed after 1 s idle: the next message opens a new one"

# ---- 9. round trips on a warm session --------------------------------------------------------
section "9. round trips on a warm session"
# The relay counts, per message, the times it waited for the client after
# replying (an upper bound of the client's round trips).
rt_check() {  # NAME VERBS ROUND-TRIPS: 5 sequential messages, the last 4 on the warm session
	local name=$1 verbs=$2 want=$3 i f seq
	for i in 1 2 3 4 5; do send_one "RT$name-$i"; done
	seq=$(commands | awk '$2 != "TLS" { printf "%s%s", sep, $2; sep = " " }')
	like "$seq" " MAIL RCPT $verbs MAIL RCPT $verbs MAIL RCPT $verbs MAIL RCPT $verbs\$" \
		"$name: messages 2-5 on the warm session: only MAIL RCPT $verbs (no CONNECT, EHLO, AUTH, RSET)"
	is "$(commands | grep -c ' CONNECT ')" 1 "$name: one connection for 5 messages"
	for i in 2 3 4 5; do
		f=$(grep -l "^Subject: RT$name-$i" "$RELAY"/messages/*.eml)
		json_field "${f%.eml}.json" round_trips
	done | sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? "," : ""), $2, $1 }' >"$T/rt"
	is "$(cat "$T/rt")" "$want x4" "$name: $want round trip(s) for each message on the warm session"
}
SYSTEM_ARGS=()
restart_relay
rt_check PIPELINING DATA 2
restart_relay --chunking
rt_check CHUNKING BDAT 1

section "end"
stop_service
! grep -E "AddressSanitizer|LeakSanitizer|runtime error|ThreadSanitizer" "$T/service.err"
ok $? "the service ran clean (no sanitizer report)" "$(grep -A5 -E 'Sanitizer|runtime error' "$T/service.err" | head -20)"
! grep -lE "AddressSanitizer|LeakSanitizer|runtime error" "$T"/*/*.err >/dev/null 2>&1
ok $? "the clients ran clean (no sanitizer report)"

done_testing
