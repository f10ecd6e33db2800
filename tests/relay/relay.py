#!/usr/bin/python3
"""Loopback SMTP relay for relaymail's tests (aiosmtpd; run with /usr/bin/python3).

Three listeners on 127.0.0.1 with ephemeral ports:
  starttls  plain greeting, STARTTLS offered, AUTH offered only after TLS
  implicit  TLS from the first byte, AUTH offered
  plain     no STARTTLS, no TLS, no AUTH
When all are ready it writes DIR/pid and then DIR/ports (shell-sourceable:
STARTTLS_PORT=n IMPLICIT_PORT=n PLAIN_PORT=n), each atomically.

Every accepted message is written, before the 250 reply to the end of data, to
DIR/messages/NNNN.eml (the exact bytes received after dot-unstuffing, CRLF kept,
nothing added) and then DIR/messages/NNNN.json (mail_from, rcpt_tos,
mail_options, rcpt_options, tls, tls_version, auth_mechanism, auth_user,
ehlo_name, listener, round_trips).  round_trips: how many times the relay
had to wait for the client after having replied, from the end of the previous
transaction on the connection (or its start) to the end of this one: an upper
bound of the client's round trips (2 for a pipelined MAIL/RCPT/DATA on a warm
session, 1 with BDAT; the first message of a connection adds EHLO, STARTTLS...).

DIR/max_connections holds the most connections open at once (all listeners,
refused ones included) and DIR/max_admitted the most that got past the
greeting at once; both are rewritten whenever the maximum grows.

DIR/commands.log gets one line per command: "<conn-id> <VERB> <args>" (AUTH:
only the mechanism), "<conn-id> CONNECT <listener>", "<conn-id> TLS <version>"
after a handshake ("TLSFAIL" when a STARTTLS handshake failed), and
"<conn-id> FAULT <step> <action>" when a fault was applied.

Faults: DIR/faults.json, read at the start of each connection, is a list of
  {"step": greeting|ehlo|starttls|auth|mail|rcpt|data|data_mid|eod|quit|idle,
   "action": reply|drop|delay|inject|garbage|close,   (default: reply)
   "reply": "451 4.3.0 Try again later",           (may hold several lines, \\n)
   "seconds": N,      (delay: wait, then the reply given or the normal one)
   "match": "addr",   (rcpt only: only this recipient)
   "times": N,        (only the next N connections; the file is rewritten)
   "after": N,        (only once N messages were accepted on the connection)
   "concurrent": N}   (only while N other connections hold a session, that is
                       got past the AUTH command: a relay limiting the sessions
                       of an account, e.g. 454 at AUTH)
"ehlo" rules also apply to HELO.  "drop" closes the connection without a
reply ("eod": after the data was received; "data_mid": after 354 and the
first bytes of content).  "inject" (starttls): "220 Ready to start TLS" and
"250 injected" in one write, then the TLS handshake as usual.  "trickle":
the reply one byte every "seconds".  "garbage": a
reply line that is not SMTP ("hello").  "endless": "250-" continuation lines
("reply" gives the code, default 250), as fast as the client reads them,
until it goes away.  "close": the reply (default "421 4.4.2 Closing
connection"), then the connection is closed.  "idle" applies "seconds" after
the last command (a relay closing an idle session): "reply" (default) sends the
reply (default 421 4.4.2 Idle timeout) and closes, "drop" closes silently.

Options: --users alice:s3cret[,bob:pw2]  --auth-mechs PLAIN,LOGIN (NONE: no AUTH)
--size N (0: "SIZE" without a limit)  --no-pipelining  --require-auth (530 to
MAIL before AUTH)  --dsn (advertise DSN; accept RET/ENVID/NOTIFY/ORCPT)
--chunking (advertise CHUNKING; accept BDAT)  --max-line N (accept commands and
lines up to N octets, for addresses of 998)  --max-concurrent K (a connection
beyond K admitted ones at once gets "421 4.7.0 Too many connections" at the
greeting, logged as "FAULT greeting throttle").
Stops on SIGTERM/SIGINT, or when the process that started it is gone.
"""
import argparse
import asyncio
import collections
import json
import logging
import os
import signal
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, TLSSetupException

warnings.filterwarnings("ignore", category=DeprecationWarning)
logging.getLogger("mail.log").addFilter(lambda r: "login_data" not in r.getMessage())

STEPS = {"greeting", "ehlo", "starttls", "auth", "mail", "rcpt", "data",
         "data_mid", "eod", "quit", "idle"}
GARBAGE = "hello"


class State:
    """What all connections of all listeners share."""

    def __init__(self, args):
        self.dir = args.dir
        self.users = dict(u.split(":", 1) for u in args.users.split(",") if u)
        self.counter = 0
        self.conn_counter = 0
        self.open = 0               # connections open now
        self.max_open = 0
        self.admitted = 0           # of those, past the greeting
        self.max_admitted = 0
        self.sessions = 0           # of those, past the AUTH command
        os.makedirs(os.path.join(self.dir, "messages"), exist_ok=True)
        self.log = open(os.path.join(self.dir, "commands.log"), "a", buffering=1)

    def write(self, conn_id, text):
        self.log.write("%d %s\n" % (conn_id, text))
        self.log.flush()

    def write_atomic(self, name, data):
        path = os.path.join(self.dir, name)
        tmp = os.path.join(os.path.dirname(path), ".tmp." + os.path.basename(path))
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, path)

    def count(self, field, delta):
        """Track a gauge and record its maximum in DIR/max_<name>."""
        value = getattr(self, field) + delta
        setattr(self, field, value)
        top = "max_" + field
        if value > getattr(self, top):
            setattr(self, top, value)
            name = "max_connections" if field == "open" else top
            self.write_atomic(name, b"%d\n" % value)

    def take_faults(self):
        """The rules for a new connection; consumes "times"."""
        path = os.path.join(self.dir, "faults.json")
        try:
            with open(path) as f:
                rules = json.load(f)
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as e:
            print("relay: ignoring %s: %s" % (path, e), file=sys.stderr)
            return []
        if isinstance(rules, dict):
            rules = [rules]
        active, keep = [], []
        for rule in rules:
            if rule.get("step") not in STEPS:
                print("relay: unknown step in %r" % (rule,), file=sys.stderr)
            times = rule.get("times")
            if times is None:
                active.append(rule)
                keep.append(rule)
            elif times > 0:
                active.append(rule)
                if times > 1:
                    keep.append(dict(rule, times=times - 1))
        if keep != rules:
            self.write_atomic("faults.json", json.dumps(keep).encode())
        return active


class Handler:
    def __init__(self, state):
        self.state = state

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        out = []
        for r in responses:
            if r.startswith("250-AUTH") and not r[len("250-AUTH"):].strip():
                continue  # no mechanism left to offer
            out.append(r)
        extra = []
        if server.relay_args.size == 0:
            extra.append("250-SIZE")
        if not server.relay_args.no_pipelining:
            extra.append("250-PIPELINING")
        extra.append("250-ENHANCEDSTATUSCODES")
        if server.relay_args.dsn:
            extra.append("250-DSN")
        if server.relay_args.chunking:
            extra.append("250-CHUNKING")
        return out[:-1] + extra + out[-1:]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if server.relay_args.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        rule = server.fault("eod")
        if rule is not None:
            result = await server.apply(rule, "eod")
            if result == "":
                raise ConnectionResetError("fault: dropped at the end of data")
            if result is not None:
                return result
        st = self.state
        st.counter += 1
        name = "%04d" % st.counter
        st.write_atomic(os.path.join("messages", name + ".eml"), envelope.original_content)
        version = server.tls_version()
        facts = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "rcpt_options": envelope.rcpt_options,
            "tls": version is not None,
            "tls_version": version,
            "auth_mechanism": server.auth_mech,
            "auth_user": server.auth_user,
            "ehlo_name": session.host_name,
            "listener": server.listener,
            "round_trips": server.round_trips,
        }
        server.round_trips = 0
        server.accepted += 1
        st.write_atomic(os.path.join("messages", name + ".json"),
                        json.dumps(facts, indent=1).encode())
        return "250 2.0.0 Ok: queued as RELAY%s" % name


class LoggingMethods(dict):
    """aiosmtpd looks commands up with .get(): log unknown ones too."""

    def __init__(self, server, methods):
        super().__init__(methods)
        self.server = server

    def get(self, key, default=None):
        if key not in self:
            self.server.log("%s (unknown command)" % key)
        return super().get(key, default)


class RelaySMTP(SMTP):
    def __init__(self, handler, state, listener, args, **kw):
        if args.max_line:
            # Read before the base class makes its StreamReader.
            self.line_length_limit = args.max_line
        super().__init__(handler, **kw)
        if args.max_line:
            # The base class keeps these per class; ours are per connection.
            self.command_size_limit = args.max_line
            self.command_size_limits = collections.defaultdict(lambda: args.max_line)
        self.state = state
        self.listener = listener
        self.relay_args = args
        self.auth_mech = None
        self.auth_user = None
        self.faults = []
        self.inject_next_220 = False
        state.conn_counter += 1
        self.conn_id = state.conn_counter
        self._smtp_methods = LoggingMethods(self, self._smtp_methods)
        self.counted = False        # in state.open
        self.admitted = False       # in state.admitted
        self.in_session = False     # in state.sessions
        self.accepted = 0           # messages accepted on this connection
        self.idle_rule = None
        self.round_trips = 0
        self.replied = False        # a reply went out since the last wait

    def watch_reader(self):
        """Count the times the relay waits for input after having replied:
        each is (at most) one round trip of the client's."""
        reader = self._reader
        for name in ("readuntil", "readexactly", "readline", "read"):
            def wrapped(*a, _orig=getattr(reader, name), **kw):
                if self.replied and not reader._buffer:
                    self.round_trips += 1
                    self.replied = False
                return _orig(*a, **kw)
            setattr(reader, name, wrapped)

    def connection_made(self, transport):
        first = not self.counted    # not again for the TLS transport of STARTTLS
        if first:
            self.counted = True
            self.state.count("open", 1)
        super().connection_made(transport)
        if first:
            self.watch_reader()     # the reader exists from here on

    def connection_lost(self, error):
        if self.counted:
            self.counted = False
            self.state.count("open", -1)
        if self.admitted:
            self.admitted = False
            self.state.count("admitted", -1)
        if self.in_session:
            self.in_session = False
            self.state.sessions -= 1
        super().connection_lost(error)

    def _timeout_cb(self):
        rule = self.idle_rule
        if rule is not None and self.transport is not None:
            action = rule.get("action", "reply")
            self.log("FAULT idle %s" % action)
            if action != "drop":
                reply = rule.get("reply", "421 4.4.2 Idle timeout")
                self.transport.write(("\r\n".join(reply.split("\n")) + "\r\n").encode())
        super()._timeout_cb()

    def log(self, text):
        self.state.write(self.conn_id, text)

    def tls_version(self):
        obj = self.transport.get_extra_info("ssl_object") if self.transport else None
        return obj.version() if obj else None

    def fault(self, step, rcpt=None):
        steps = (step, "ehlo") if step == "helo" else (step,)
        for rule in self.faults:
            if rule.get("step") not in steps:
                continue
            if self.accepted < rule.get("after", 0):
                continue
            others = self.state.sessions - (1 if self.in_session else 0)
            if others < rule.get("concurrent", 0):
                continue
            if step == "rcpt" and rule.get("match") not in (None, rcpt):
                continue
            return rule
        return None

    async def apply(self, rule, step):
        """Carry out a rule: returns a reply to send, None to go on normally,
        or "" when the connection was dropped."""
        action = rule.get("action", "reply")
        self.log("FAULT %s %s" % (step, action))
        if action == "delay":
            await asyncio.sleep(float(rule.get("seconds", 1)))
            return rule.get("reply")
        if action == "drop":
            await self.drop()
            return ""
        if action == "garbage":
            return GARBAGE
        if action == "close":
            await self.push(rule.get("reply", "421 4.4.2 Closing connection"))
            await self.drop()
            return ""
        if action == "endless":
            # A reply that never ends: bounded only by the client's limits.
            code = (rule.get("reply") or "250")[:3]
            line = ("%s-%s\r\n" % (code, "x" * 70)).encode()
            try:
                while self.transport is not None and not self.transport.is_closing():
                    self._writer.write(line * 64)
                    await self._writer.drain()
            except ConnectionError:
                pass
            await self.drop()
            return ""
        if action == "trickle":
            # A slow relay: the reply one byte per "seconds" (default 1).
            text = (rule.get("reply") or "250 2.0.0 OK") + "\r\n"
            for ch in text.encode():
                if self.transport is None or self.transport.is_closing():
                    break
                self._writer.write(bytes([ch]))
                await asyncio.sleep(float(rule.get("seconds", 1)))
            await self.drop()
            return ""
        return rule.get("reply", "451 4.3.0 Injected failure")

    async def drop(self):
        """Close the connection without a reply.  Waits for connection_lost()
        to cancel this handler, so that nothing already received is read as
        commands afterwards."""
        if self.transport is not None:
            self.transport.close()
        await asyncio.sleep(60)

    async def push(self, status):
        self.replied = True
        if isinstance(status, str):
            if self.inject_next_220 and status.startswith("220"):
                # STARTTLS response injection: one write, then TLS as usual.
                self.inject_next_220 = False
                self._writer.write(b"220 Ready to start TLS\r\n250 injected\r\n")
                await self._writer.drain()
                return
            # A multi-line reply in the faults file uses \n between lines.
            status = "\r\n".join(status.replace("\r\n", "\n").split("\n"))
        await super().push(status)

    async def step(self, step, rcpt=None):
        """True when a fault took the place of the normal handling."""
        rule = self.fault(step, rcpt)
        if rule is None:
            return False
        result = await self.apply(rule, step)
        if result is None:
            return False
        if result != "":
            await self.push(result)
        return True

    async def _handle_client(self):
        self.faults = self.state.take_faults()
        self.log("CONNECT %s" % self.listener)
        if self.listener == "implicit":
            self.log("TLS %s" % self.tls_version())
        limit = self.relay_args.max_concurrent
        if limit and self.state.admitted >= limit:
            self.log("FAULT greeting throttle")
            await self.push("421 4.7.0 Too many connections, try again later")
            await self.after_refused_greeting()
            return
        if await self.step("greeting"):
            await self.after_refused_greeting()
            return
        self.admitted = True
        self.state.count("admitted", 1)
        self.idle_rule = self.fault("idle")
        if self.idle_rule is not None:
            # aiosmtpd closes a connection this long after its last command.
            self._timeout_duration = float(self.idle_rule.get("seconds", 1))
            self._reset_timeout()
        await super()._handle_client()

    async def after_refused_greeting(self):
        """RFC 5321 3.1: after a refusing greeting, wait for QUIT (answer 221),
        answer other commands with 503; close after a while or at EOF."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3
        try:
            while self.transport is not None and loop.time() < deadline:
                line = await asyncio.wait_for(self._reader.readline(), deadline - loop.time())
                if not line:
                    break
                verb = line.strip().split(b" ", 1)[0].decode("ascii", "replace").upper()
                self.log(verb + " (after the greeting fault)")
                if verb == "QUIT":
                    await super().push("221 2.0.0 Bye")
                    break
                await super().push("503 5.5.1 Bad sequence of commands")
        except (asyncio.TimeoutError, ConnectionError):
            pass
        if self.transport is not None:
            self.transport.close()

    async def smtp_EHLO(self, arg):
        self.log("EHLO %s" % (arg or ""))
        if not await self.step("ehlo"):
            await super().smtp_EHLO(arg)

    async def smtp_HELO(self, arg):
        self.log("HELO %s" % (arg or ""))
        if not await self.step("helo"):
            await super().smtp_HELO(arg)

    async def smtp_STARTTLS(self, arg):
        self.log("STARTTLS%s" % (" " + arg if arg else ""))
        rule = self.fault("starttls")
        if rule is not None and rule.get("action") == "inject":
            self.log("FAULT starttls inject")
            self.inject_next_220 = True
        elif await self.step("starttls"):
            return
        try:
            await super().smtp_STARTTLS(arg)
        except TLSSetupException:
            self.log("TLSFAIL handshake failed")
            raise
        if self.transport is not None:
            self.log("TLS %s" % self.tls_version())

    async def smtp_AUTH(self, arg):
        mech = arg.split()[0].upper() if arg else ""
        self.log("AUTH %s" % mech)
        if await self.step("auth"):
            return
        if not self.in_session:
            # Counted before any await: two connections cannot both pass
            # a "concurrent" rule as each other's first.
            self.in_session = True
            self.state.sessions += 1
        await super().smtp_AUTH(arg)

    def split_dsn(self, arg, names):
        """aiosmtpd refuses DSN parameters (555): with --dsn take them out
        and hand them back (case kept) to be recorded."""
        if not self.relay_args.dsn or not arg:
            return arg, []
        words = arg.split(" ")
        dsn = [w for w in words if w.split("=")[0].upper() in names]
        return " ".join(w for w in words if w not in dsn), dsn

    async def smtp_MAIL(self, arg):
        self.log("MAIL %s" % (arg or ""))
        if not await self.step("mail"):
            arg, dsn = self.split_dsn(arg, ("RET", "ENVID"))
            await super().smtp_MAIL(arg)
            if self.envelope.mail_from is not None:
                self.envelope.mail_options.extend(dsn)

    async def smtp_RCPT(self, arg):
        self.log("RCPT %s" % (arg or ""))
        addr = ""
        if arg and arg[:3].upper() == "TO:":
            rest = arg[3:].strip()
            addr = rest.split(">", 1)[0].lstrip("<") if rest.startswith("<") else rest.split(" ")[0]
        if not await self.step("rcpt", addr):
            arg, dsn = self.split_dsn(arg, ("NOTIFY", "ORCPT"))
            count = len(self.envelope.rcpt_tos)
            await super().smtp_RCPT(arg)
            if dsn and len(self.envelope.rcpt_tos) > count:
                self.envelope.rcpt_options[-1] = list(self.envelope.rcpt_options[-1]) + dsn

    async def smtp_DATA(self, arg):
        self.log("DATA%s" % (" " + arg if arg else ""))
        if await self.step("data"):
            return
        rule = self.fault("data_mid")
        if rule is not None and self.envelope.rcpt_tos and not arg:
            self.log("FAULT data_mid %s" % rule.get("action", "drop"))
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            try:
                await asyncio.wait_for(self._reader.read(100), 5)
            except asyncio.TimeoutError:
                pass
            await self.drop()
            return
        await super().smtp_DATA(arg)

    async def smtp_BDAT(self, arg):
        """RFC 3030: "BDAT <size> [LAST]" then exactly <size> octets.  The
        octets are read whatever happens, so the stream stays in step."""
        self.log("BDAT %s" % arg)
        words = (arg or "").split()
        if not words or not words[0].isdigit() or len(words) > 2 or \
                (len(words) == 2 and words[1].upper() != "LAST"):
            await self.push("501 5.5.4 Syntax: BDAT size [LAST]")
            return
        size, last = int(words[0]), len(words) == 2
        try:
            chunk = await self._reader.readexactly(size)
        except asyncio.IncompleteReadError:
            await self.drop()
            return
        if not self.relay_args.chunking:
            await self.push("502 5.5.1 BDAT not offered")
            return
        if not self.envelope.rcpt_tos:
            self.bdat = b""
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        self.bdat = getattr(self, "bdat", b"") + chunk
        if not last:
            await self.push("250 2.0.0 %d octets received" % size)
            return
        content, self.bdat = self.bdat, b""
        self.envelope.original_content = content
        self.envelope.content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        if status:
            await self.push(status)

    async def smtp_RSET(self, arg):
        self.log("RSET%s" % (" " + arg if arg else ""))
        await super().smtp_RSET(arg)

    async def smtp_NOOP(self, arg):
        self.log("NOOP%s" % (" " + arg if arg else ""))
        await super().smtp_NOOP(arg)

    async def smtp_VRFY(self, arg):
        self.log("VRFY %s" % (arg or ""))
        await super().smtp_VRFY(arg)

    async def smtp_EXPN(self, arg):
        self.log("EXPN %s" % (arg or ""))
        await super().smtp_EXPN(arg)

    async def smtp_HELP(self, arg):
        self.log("HELP %s" % (arg or ""))
        await super().smtp_HELP(arg)

    async def smtp_QUIT(self, arg):
        self.log("QUIT")
        rule = self.fault("quit")
        if rule is not None:
            result = await self.apply(rule, "quit")
            if result == "":
                return
            if result is not None:
                await self.push(result)
                self.transport.close()
                return
        await super().smtp_QUIT(arg)


def make_authenticator(state):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and
              state.users.get(auth_data.login.decode("utf-8", "replace")) ==
              auth_data.password.decode("utf-8", "replace"))
        if ok:
            server.auth_mech = mechanism
            server.auth_user = auth_data.login.decode("utf-8", "replace")
        return AuthResult(success=ok, handled=False)
    return authenticator


async def watch_parent(stop):
    """Exit when the process that started us is gone (a test killed hard)."""
    parent = os.getppid()
    while not stop.is_set():
        await asyncio.sleep(1)
        if os.getppid() != parent:
            stop.set()


async def main():
    ap = argparse.ArgumentParser(description="loopback SMTP relay for tests")
    ap.add_argument("--dir", required=True, help="state directory (created)")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--users", default="alice:s3cret", help="user:password[,user:password]")
    ap.add_argument("--auth-mechs", default="PLAIN,LOGIN",
                    help="AUTH mechanisms to offer (NONE: none)")
    ap.add_argument("--size", type=int, default=0,
                    help="advertised SIZE limit (0: SIZE without a limit)")
    ap.add_argument("--no-pipelining", action="store_true")
    ap.add_argument("--require-auth", action="store_true",
                    help="answer MAIL with 530 unless authenticated")
    ap.add_argument("--chunking", action="store_true",
                    help="also advertise CHUNKING and accept BDAT (RFC 3030)")
    ap.add_argument("--max-line", type=int, default=0,
                    help="longest command and line accepted (0: aiosmtpd's 512 and 1001)")
    ap.add_argument("--max-concurrent", type=int, default=0,
                    help="421 at the greeting beyond this many admitted connections (0: no limit)")
    ap.add_argument("--dsn", action="store_true",
                    help="also advertise DSN (and accept RET, ENVID, NOTIFY, ORCPT)")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    state = State(args)
    handler = Handler(state)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    offered = {m.strip().upper() for m in args.auth_mechs.split(",") if m.strip()}
    excluded = [m for m in ("PLAIN", "LOGIN") if m not in offered]
    loop = asyncio.get_running_loop()
    limit = args.size if args.size > 0 else None

    def factory(listener, starttls_ctx, require_tls):
        def make():
            return RelaySMTP(handler, state, listener, args, hostname="relay.test",
                             ident="relaymail test relay",
                             tls_context=starttls_ctx, data_size_limit=limit,
                             enable_SMTPUTF8=True, auth_require_tls=require_tls,
                             auth_exclude_mechanism=excluded,
                             authenticator=make_authenticator(state), loop=loop)
        return make

    servers = {
        "STARTTLS": await loop.create_server(factory("starttls", ctx, True), "127.0.0.1", 0),
        "IMPLICIT": await loop.create_server(factory("implicit", None, False),
                                             "127.0.0.1", 0, ssl=ctx),
        "PLAIN": await loop.create_server(factory("plain", None, True), "127.0.0.1", 0),
    }
    ports = "".join("%s_PORT=%d\n" % (k, s.sockets[0].getsockname()[1])
                    for k, s in servers.items())
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    state.write_atomic("pid", b"%d\n" % os.getpid())
    state.write_atomic("ports", ports.encode())
    watchdog = asyncio.ensure_future(watch_parent(stop))
    await stop.wait()
    watchdog.cancel()
    for s in servers.values():
        s.close()
    state.log.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
