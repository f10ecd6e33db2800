#!/usr/bin/python3
"""Loopback SMTP relay for relaymail's tests (aiosmtpd; run with /usr/bin/python3).

Three listeners on 127.0.0.1 (or --bind ADDR) with ephemeral ports:
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
only the mechanism), "<conn-id> CONNECT <listener> from <peer address>", "<conn-id> TLS <version>"
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
--chunking (advertise CHUNKING; accept BDAT)  --no-smtputf8 (do not advertise
SMTPUTF8, as Amazon SES)  --max-line N (accept commands and
lines up to N octets, for addresses of 998)  --max-concurrent K (a connection
beyond K admitted ones at once gets "421 4.7.0 Too many connections" at the
greeting, logged as "FAULT greeting throttle").
Stops on SIGTERM/SIGINT, or when the process that started it is gone.

SASL beyond PLAIN and LOGIN (--auth-mechs lists what EHLO offers, in that
order; names not implemented here are offered too and answered 504):
  XOAUTH2, OAUTHBEARER (RFC 7628)  with --oauth-dir DIR: the bearer token must
      be in DIR/tokens.json (written by oauth_server.py), unexpired, and for
      the user named (XOAUTH2 user=, OAUTHBEARER a=); tokens of user "app"
      (client_credentials) are good for any user.  OAUTHBEARER must also carry
      host= (localhost, 127.0.0.1 or ::1) and port= (the port connected to),
      else 501.  A bad token gets the error challenge (334 base64 JSON:
      XOAUTH2 {"status":"401","schemes":"bearer","scope":"https://mail.google.com/"},
      OAUTHBEARER {"status":"invalid_token","schemes":"bearer",
      "scope":"https://mail.example/smtp"}); the client's dummy response
      (XOAUTH2: an empty line, OAUTHBEARER: "AQ==") is checked and answered
      "535 5.7.8 Username and Password not accepted" ("*": 501).
      --oauth-no-challenge: "535 5.7.3 Authentication unsuccessful" at once
      (Microsoft 365).  AUTH lines up to 16384 octets are accepted then.
  SCRAM-SHA-256, SCRAM-SHA-256-PLUS (RFC 5802, 7677; tls-exporter channel
      binding, RFC 9266, taken from the live TLS session) against --users,
      random salt per user, --scram-iterations N (4096).  server-final "v=" is
      a 334 challenge; the client answers with an empty line, then 235.
      --scram-fake-signature: a wrong v= (the client should answer "*": 501);
      --scram-server-error: "e=other-error" instead of v=.
  CRAM-MD5 (RFC 2195) against --users.
A failed AUTH can be followed by another on the same connection.

Each AUTH outcome adds "<conn-id> AUTH-RESULT <MECH> <outcome> [words]
[key=value...]" to commands.log after the "<conn-id> AUTH <MECH>" line:
  ok user=U                         (SCRAM: cb=tls-exporter|none;
                                     OAUTHBEARER: hostport=ok)
  bad-credentials [user=U]          PLAIN, LOGIN, CRAM-MD5 (unknown-user too)
  invalid-token reason=R challenge=sent|none [hostport=ok]
        R: unknown-token expired wrong-user no-store no-oauth-dir
  dummy-response ok|bad|aborted     (after challenge=sent)
  malformed [hostport=missing|bad]  bad-base64  aborted  too-long
  SCRAM: bad-proof user=U, unknown-user user=U, bad-nonce, bad-cb (c= not
        the expected binding), cb-type (p= other than tls-exporter),
        cb-missing (-PLUS without p=), cb-not-plus (p= with plain SCRAM),
        downgrade ("y" while -PLUS is offered), mandatory-extension,
        bad-final-response, aborted-after-final,
        fake-signature-sent / server-error-sent user=U cb=..., then
        client-answer aborted|empty|other (a client that answers the fake
        signature with an empty line gets 235: the test sees it)
"""
import argparse
import asyncio
import base64
import binascii
import collections
import ctypes
import hashlib
import hmac
import json
import logging
import os
import signal
import ssl
import sys
import time
import warnings

from aiosmtpd.smtp import (SMTP, AuthResult, LoginPassword, TLSSetupException,
                           auth_mechanism)

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
        # SCRAM: a random salt per user, keys derived once (RFC 5802 3).
        self.scram = {}
        if any(m.startswith("SCRAM-") for m in args.mech_list):
            for user, password in self.users.items():
                salt = os.urandom(16)
                self.scram[user] = (salt,) + scram_keys(password, salt, args.scram_iterations)
        self.exporter = TlsExporter() if "SCRAM-SHA-256-PLUS" in args.mech_list else None
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
            if r.startswith("250-AUTH"):
                # In the order of --auth-mechs (aiosmtpd sorts them).
                mechs = server.offered_mechs()
                if not mechs:
                    continue  # no mechanism left to offer
                r = "250-AUTH " + " ".join(mechs)
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


# ---- SASL mechanisms beyond aiosmtpd's PLAIN and LOGIN -------------------------

OAUTH_MECHS = ("XOAUTH2", "OAUTHBEARER")
KNOWN_MECHS = ("PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS") + OAUTH_MECHS
# RFC 7628 3.2.2 error challenges: Google's for XOAUTH2, the RFC's for OAUTHBEARER.
OAUTH_ERRORS = {
    "XOAUTH2": {"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"},
    "OAUTHBEARER": {"status": "invalid_token", "schemes": "bearer",
                    "scope": "https://mail.example/smtp"},
}
# RFC 4954 4: an AUTH command line may be up to 12288 octets; room for a
# Microsoft-sized token (~1500 characters, base64 of more) with margin.
AUTH_LINE_LIMIT = 16384
CB_LABEL = b"EXPORTER-Channel-Binding"  # RFC 9266


class TlsExporter:
    """RFC 9266 tls-exporter of a live ssl.SSLObject/SSLSocket: Python's ssl
    module hides SSL_export_keying_material, so call libssl (the library _ssl
    itself is linked with, already in the process) on the object's SSL*."""

    def __init__(self):
        self.lib = ctypes.CDLL("libssl.so.3")
        f = self.lib.SSL_export_keying_material
        f.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                      ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
        f.restype = ctypes.c_int
        self.lib.SSL_get_version.argtypes = [ctypes.c_void_p]
        self.lib.SSL_get_version.restype = ctypes.c_char_p

    def __call__(self, obj):
        # CPython's PySSLSocket: PyObject_HEAD (2 pointers), Socket, then SSL *ssl.
        inner = obj._sslobj
        ptr = ctypes.c_void_p.from_address(id(inner) + 3 * ctypes.sizeof(ctypes.c_void_p)).value
        if not ptr or self.lib.SSL_get_version(ptr).decode() != obj.version():
            raise RuntimeError("cannot find the SSL* of the connection")
        out = ctypes.create_string_buffer(32)
        if self.lib.SSL_export_keying_material(ptr, out, 32, CB_LABEL, len(CB_LABEL),
                                               None, 0, 0) != 1:
            raise RuntimeError("SSL_export_keying_material failed")
        return out.raw


def scram_keys(password, salt, iterations):
    """RFC 5802 3: (StoredKey, ServerKey) of a password (ASCII: no SASLprep)."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest(), server_key


def scram_attrs(text):
    """"a=1,b=2" -> [("a", "1"), ("b", "2")], or None when malformed."""
    out = []
    for part in text.split(","):
        if len(part) < 2 or part[1] != "=" or not part[0].isalpha():
            return None
        out.append((part[0], part[2:]))
    return out


def saslname(text):
    """RFC 5802 saslname: =2C and =3D are the only escapes; None when bad."""
    if text is None:
        return None
    out, i = [], 0
    while i < len(text):
        if text[i] == ",":
            return None
        if text[i] == "=":
            esc = text[i:i + 3]
            if esc not in ("=2C", "=3D"):
                return None
            out.append("," if esc == "=2C" else "=")
            i += 3
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


class SaslMixin:
    """AUTH XOAUTH2, OAUTHBEARER, SCRAM-SHA-256(-PLUS) and CRAM-MD5 for RelaySMTP.
    Each outcome is logged as "AUTH-RESULT <MECH> <outcome> [key=value...]"."""

    def auth_log(self, mech, outcome, *words, **kv):
        self.log(" ".join(["AUTH-RESULT", mech, outcome] + list(words) +
                          ["%s=%s" % (k.replace("_", "-"), v) for k, v in kv.items()]))

    def auth_ok(self, mech, user, **kv):
        self.auth_log(mech, "ok", user=user, **kv)
        self.auth_mech = mech
        self.auth_user = user
        return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""),
                          message="235 2.7.0 Authentication successful")

    async def sasl_line(self):
        """The client's next line in an exchange: ("ok", bytes) or ("cancel" |
        "eof" | "too-long", None); the raw line is not decoded."""
        try:
            line = await self._reader.readline()
        except (ValueError, asyncio.LimitOverrunError):
            return "too-long", None
        if not line.endswith(b"\n"):
            return "eof", None
        line = line.rstrip(b"\r\n")
        if line == b"*":
            return "cancel", None
        return "ok", line

    async def sasl_response(self, mech, challenge):
        """Send "334 base64(challenge)", read the answer: its decoded bytes, or
        None when the exchange ended (the reply sent, the outcome logged)."""
        await self.push("334 " + base64.b64encode(challenge).decode())
        how, line = await self.sasl_line()
        if how == "ok":
            try:
                return base64.b64decode(line, validate=True)
            except binascii.Error:
                how = "bad-base64"
        self.auth_log(mech, how if how != "cancel" else "aborted")
        if how == "cancel":
            await self.push("501 5.7.0 Authentication aborted")
        elif how == "too-long":
            await self.push("500 5.5.6 Authentication exchange line too long")
        elif how == "bad-base64":
            await self.push("501 5.5.2 Cannot decode base64")
        return None

    async def initial(self, mech, args):
        """The initial response (RFC 4954: "=" is an empty one), or a 334
        empty challenge and the answer."""
        if len(args) > 1:
            if args[1] == "=":
                return b""
            try:
                return base64.b64decode(args[1], validate=True)
            except binascii.Error:
                self.auth_log(mech, "bad-base64")
                await self.push("501 5.5.2 Cannot decode base64")
                return None
        return await self.sasl_response(mech, b"")

    def failed(self):
        return AuthResult(success=False, handled=True)

    # ---- OAuth 2.0 bearer tokens -------------------------------------------------

    def check_token(self, user, token):
        """"ok" (and the token's user) or why the token is refused."""
        path = self.relay_args.oauth_dir
        if not path:
            return "no-oauth-dir", None
        try:
            with open(os.path.join(path, "tokens.json")) as f:
                store = json.load(f)
        except (OSError, ValueError):
            return "no-store", None
        entry = store.get(token)
        if not isinstance(entry, dict):
            return "unknown-token", None
        if entry.get("revoked") or float(entry.get("expires", 0)) <= time.time():
            return "expired", None
        owner = entry.get("user")
        if owner == "app":
            return "ok", user or "app"
        if user is not None and user != owner:
            return "wrong-user", None
        return "ok", owner

    def parse_xoauth2(self, data):
        """"user=U^Aauth=Bearer T^A^A" -> (user, token) or None."""
        if not data.endswith(b"\x01\x01"):
            return None
        fields = data[:-2].split(b"\x01")
        if len(fields) != 2 or not fields[0].startswith(b"user=") or \
                not fields[1].startswith(b"auth="):
            return None
        return self.bearer(fields[0][5:].decode("utf-8", "replace"), fields[1][5:])

    @staticmethod
    def bearer(user, auth):
        scheme, _, token = auth.partition(b" ")
        if scheme.lower() != b"bearer" or not token or b" " in token:
            return None
        return user, token.decode("ascii", "replace")

    def parse_oauthbearer(self, data):
        """RFC 7628 3.1 -> (user or None, token, hostport verdict) or None."""
        header, sep, rest = data.partition(b"\x01")
        parts = header.decode("utf-8", "replace").split(",")
        if not sep or len(parts) != 3 or parts[0] not in ("n", "y") or parts[2] != "" or \
                not rest.endswith(b"\x01\x01"):
            return None
        user = None
        if parts[1]:
            if not parts[1].startswith("a="):
                return None
            user = saslname(parts[1][2:])
            if not user:
                return None
        kv = {}
        for pair in rest[:-2].split(b"\x01"):
            key, eq, value = pair.partition(b"=")
            if not eq or not key.isalpha() or key.decode() in kv:
                return None
            kv[key.decode()] = value
        if "auth" not in kv:
            return None
        got = self.bearer(user, kv["auth"])
        if got is None:
            return None
        return got[0], got[1], self.hostport(kv)

    def hostport(self, kv):
        """"ok" when host= names this loopback relay and port= is the port the
        client connected to; "missing" or "bad" otherwise."""
        if "host" not in kv or "port" not in kv:
            return "missing"
        sock = self.transport.get_extra_info("sockname") if self.transport else None
        host = kv["host"].decode("ascii", "replace")
        if host not in ("localhost", "127.0.0.1", "::1", "[::1]") or \
                sock is None or kv["port"] != str(sock[1]).encode():
            return "bad"
        return "ok"

    async def oauth(self, mech, args):
        data = await self.initial(mech, args)
        if data is None:
            return self.failed()
        if mech == "XOAUTH2":
            got, hostport = self.parse_xoauth2(data), None
        else:
            parsed = self.parse_oauthbearer(data)
            got, hostport = (parsed[:2], parsed[2]) if parsed else (None, None)
        extra = {} if hostport is None else {"hostport": hostport}
        if got is None or hostport in ("missing", "bad"):
            self.auth_log(mech, "malformed", **extra)
            await self.push("501 5.5.2 Malformed %s response" % mech)
            return self.failed()
        verdict, user = self.check_token(*got)
        if verdict == "ok":
            return self.auth_ok(mech, user, **extra)
        if self.relay_args.oauth_no_challenge:
            self.auth_log(mech, "invalid-token", reason=verdict, challenge="none", **extra)
            await self.push("535 5.7.3 Authentication unsuccessful")
            return self.failed()
        # Logged now: a client that hangs up cancels this handler.
        self.auth_log(mech, "invalid-token", reason=verdict, challenge="sent", **extra)
        # RFC 7628 3.2.2: the error challenge; the client answers with a dummy
        # response (OAUTHBEARER: %x01; XOAUTH2, Google: an empty line).
        await self.push("334 " + base64.b64encode(
            json.dumps(OAUTH_ERRORS[mech], separators=(",", ":")).encode()).decode())
        how, line = await self.sasl_line()
        want = b"AQ==" if mech == "OAUTHBEARER" else b""
        dummy = "ok" if how == "ok" and line == want else (
            "aborted" if how == "cancel" else how if how != "ok" else "bad")
        self.auth_log(mech, "dummy-response", dummy)
        if how == "cancel":
            await self.push("501 5.7.0 Authentication aborted")
        elif how != "eof":
            await self.push("535 5.7.8 Username and Password not accepted")
        return self.failed()

    @auth_mechanism("XOAUTH2")
    async def auth_XOAUTH2(self, _, args):
        return await self.oauth("XOAUTH2", args)

    @auth_mechanism("OAUTHBEARER")
    async def auth_OAUTHBEARER(self, _, args):
        return await self.oauth("OAUTHBEARER", args)

    # ---- CRAM-MD5 (RFC 2195) ---------------------------------------------------

    @auth_mechanism("CRAM-MD5")
    async def auth_CRAM_MD5(self, _, args):
        mech = "CRAM-MD5"
        if len(args) > 1:
            self.auth_log(mech, "malformed", reason="initial-response")
            await self.push("501 5.5.2 CRAM-MD5 takes no initial response")
            return self.failed()
        challenge = ("<%d.%d@relay.test>" % (int.from_bytes(os.urandom(6), "big"),
                                              int(time.time()))).encode()
        data = await self.sasl_response(mech, challenge)
        if data is None:
            return self.failed()
        user, _, digest = data.decode("utf-8", "replace").rpartition(" ")
        password = self.state.users.get(user)
        if password is not None and hmac.compare_digest(
                digest, hmac.new(password.encode(), challenge, hashlib.md5).hexdigest()):
            return self.auth_ok(mech, user)
        self.auth_log(mech, "bad-credentials" if password is not None else "unknown-user",
                      user=user or "-")
        await self.push("535 5.7.8 Authentication credentials invalid")
        return self.failed()

    # ---- SCRAM-SHA-256 and -PLUS (RFC 5802, 7677, 9266) --------------------------

    @auth_mechanism("SCRAM-SHA-256")
    async def auth_SCRAM_SHA_256(self, _, args):
        return await self.scram("SCRAM-SHA-256", args, False)

    @auth_mechanism("SCRAM-SHA-256-PLUS")
    async def auth_SCRAM_SHA_256_PLUS(self, _, args):
        return await self.scram("SCRAM-SHA-256-PLUS", args, True)

    async def scram_refuse(self, mech, outcome, reply="535 5.7.8 Authentication credentials invalid",
                           **kv):
        self.auth_log(mech, outcome, **kv)
        await self.push(reply)
        return self.failed()

    def scram_first(self, mech, plus, data):
        """Checks client-first: (gs2 header, user, client nonce) or the outcome."""
        text = data.decode("utf-8", "replace")
        parts = text.split(",", 2)
        if len(parts) != 3:
            return "malformed"
        flag, authzid, bare = parts
        if authzid and not authzid.startswith("a="):
            return "malformed"
        attrs = scram_attrs(bare)
        if not attrs or len(attrs) < 2 or attrs[0][0] != "n" or attrs[1][0] != "r" or \
                not attrs[1][1]:
            return "malformed" if not (attrs and attrs[0][0] == "m") else "mandatory-extension"
        if plus:
            if flag != "p=tls-exporter":
                return "cb-type" if flag.startswith("p=") else "cb-missing"
        elif flag == "y":
            if "SCRAM-SHA-256-PLUS" in self.offered_mechs():
                return "downgrade"
        elif flag != "n":
            return "cb-not-plus" if flag.startswith("p=") else "malformed"
        user = saslname(attrs[0][1])
        if not user:
            return "malformed"
        return flag + "," + authzid + ",", user, attrs[1][1], bare

    def offered_mechs(self):
        """What EHLO advertises, in the order of --auth-mechs: names this relay
        does not implement are offered too (and answered 504)."""
        return [m for m in self.relay_args.mech_list
                if m in self._auth_methods or m not in KNOWN_MECHS]

    async def scram(self, mech, args, plus):
        data = await self.initial(mech, args)
        if data is None:
            return self.failed()
        first = self.scram_first(mech, plus, data)
        if isinstance(first, str):
            return await self.scram_refuse(mech, first)
        gs2, user, cnonce, bare = first
        cbind = gs2.encode()
        if plus:
            obj = self.transport.get_extra_info("ssl_object") if self.transport else None
            if obj is None:
                return await self.scram_refuse(mech, "no-tls")
            cbind += self.state.exporter(obj)
        creds = self.state.scram.get(user)
        salt, stored, server_key = creds if creds else (os.urandom(16), None, None)
        nonce = cnonce + base64.b64encode(os.urandom(18)).decode()
        server_first = "r=%s,s=%s,i=%d" % (nonce, base64.b64encode(salt).decode(),
                                           self.relay_args.scram_iterations)
        data = await self.sasl_response(mech, server_first.encode())
        if data is None:
            return self.failed()
        final = data.decode("utf-8", "replace")
        without_proof, sep, proof = final.rpartition(",p=")
        attrs = scram_attrs(without_proof) if sep else None
        if not attrs or len(attrs) < 2 or attrs[0][0] != "c" or attrs[1][0] != "r":
            return await self.scram_refuse(mech, "malformed")
        if attrs[1][1] != nonce:
            return await self.scram_refuse(mech, "bad-nonce")
        try:
            got_cb = base64.b64decode(attrs[0][1], validate=True)
            proof = base64.b64decode(proof, validate=True)
        except binascii.Error:
            return await self.scram_refuse(mech, "malformed")
        if not hmac.compare_digest(got_cb, cbind):
            return await self.scram_refuse(mech, "bad-cb")
        auth_message = ",".join((bare, server_first, without_proof)).encode()
        if stored is None:
            return await self.scram_refuse(mech, "unknown-user", user=user)
        signature = hmac.new(stored, auth_message, hashlib.sha256).digest()
        client_key = bytes(a ^ b for a, b in zip(proof, signature))
        if len(proof) != 32 or not hmac.compare_digest(
                hashlib.sha256(client_key).digest(), stored):
            return await self.scram_refuse(mech, "bad-proof", user=user)
        return await self.scram_final(mech, user, server_key, auth_message, plus)

    async def scram_final(self, mech, user, server_key, auth_message, plus):
        """server-final as a 334 challenge, then the client's empty response."""
        cb = "tls-exporter" if plus else "none"
        args = self.relay_args
        if args.scram_server_error:
            final, outcome = b"e=other-error", "server-error-sent"
        else:
            sig = hmac.new(server_key, auth_message, hashlib.sha256).digest()
            if args.scram_fake_signature:
                sig, outcome = bytes(b ^ 0x5a for b in sig), "fake-signature-sent"
            else:
                outcome = None
            final = b"v=" + base64.b64encode(sig)
        if outcome is not None:
            # Logged now: a client that hangs up cancels this handler.
            self.auth_log(mech, outcome, user=user, cb=cb)
        await self.push("334 " + base64.b64encode(final).decode())
        how, line = await self.sasl_line()
        if outcome is not None:
            # The client must give up: "*" (RFC 4954 4) is the right answer.
            client = "aborted" if how == "cancel" else (
                "empty" if how == "ok" and line == b"" else how if how != "ok" else "other")
            self.auth_log(mech, "client-answer", client)
            if how == "cancel":
                await self.push("501 5.7.0 Authentication aborted")
            elif how == "ok" and line == b"" and not args.scram_server_error:
                # A client that did not check v= : let it in, the test sees it.
                self.auth_mech, self.auth_user = mech, user
                return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""),
                                  message="235 2.7.0 Authentication successful")
            elif how != "eof":
                await self.push("535 5.7.8 Authentication failed")
            return self.failed()
        if how == "cancel":
            return await self.scram_refuse(mech, "aborted-after-final", "501 5.7.0 Authentication aborted",
                                           user=user, cb=cb)
        if how != "ok" or line != b"":
            return await self.scram_refuse(mech, "bad-final-response", user=user, cb=cb)
        return self.auth_ok(mech, user, cb=cb)


class RelaySMTP(SaslMixin, SMTP):
    def __init__(self, handler, state, listener, args, **kw):
        if args.max_line:
            # Read before the base class makes its StreamReader.
            self.line_length_limit = args.max_line
        super().__init__(handler, **kw)
        if args.max_line:
            # The base class keeps these per class; ours are per connection.
            self.command_size_limit = args.max_line
            self.command_size_limits = collections.defaultdict(lambda: args.max_line)
        if any(m in args.mech_list for m in OAUTH_MECHS):
            # Room for bearer tokens in AUTH (the reader's limit is raised in
            # connection_made); other commands keep theirs.
            if not args.max_line:
                self.command_size_limits = collections.defaultdict(
                    lambda: SMTP.command_size_limit)
            self.command_size_limits["AUTH"] = AUTH_LINE_LIMIT
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
            if any(m in self.relay_args.mech_list for m in OAUTH_MECHS):
                # Bearer tokens in AUTH and its responses: DATA lines keep
                # their limit (checked separately against line_length_limit).
                self._reader._limit = max(self._reader._limit, AUTH_LINE_LIMIT)

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
        peer = self.transport.get_extra_info("peername") if self.transport else None
        self.log("CONNECT %s from %s" % (self.listener, peer[0] if peer else "?"))
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
        user = auth_data.login.decode("utf-8", "replace") if ok else None
        if ok:
            server.auth_mech = mechanism
            server.auth_user = user
            server.auth_log(mechanism, "ok", user=user)
        else:
            server.auth_log(mechanism, "bad-credentials")
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
                    help="AUTH mechanisms to offer, in this order (NONE: none); "
                    "known: " + ",".join(KNOWN_MECHS) + "; other names are offered "
                    "and answered 504")
    ap.add_argument("--oauth-dir", default=None,
                    help="directory with oauth_server.py's tokens.json (XOAUTH2, OAUTHBEARER)")
    ap.add_argument("--oauth-no-challenge", action="store_true",
                    help="refuse bad tokens like Microsoft 365: 535 5.7.3, no error challenge")
    ap.add_argument("--scram-iterations", type=int, default=4096)
    ap.add_argument("--scram-fake-signature", action="store_true",
                    help="SCRAM: send a wrong server signature (v=)")
    ap.add_argument("--scram-server-error", action="store_true",
                    help="SCRAM: send server-final e=other-error after a good proof")
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
    ap.add_argument("--bind", default="127.0.0.1",
                    help="address of the three listeners (::1 for IPv6 only)")
    ap.add_argument("--no-smtputf8", action="store_true",
                    help="do not advertise SMTPUTF8 (as Amazon SES)")
    args = ap.parse_args()
    args.mech_list = []
    for m in args.auth_mechs.split(","):
        m = m.strip().upper()
        if m and m != "NONE" and m not in args.mech_list:
            args.mech_list.append(m)
    os.makedirs(args.dir, exist_ok=True)
    state = State(args)
    handler = Handler(state)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    excluded = [m for m in KNOWN_MECHS if m not in args.mech_list]
    loop = asyncio.get_running_loop()
    limit = args.size if args.size > 0 else None

    def factory(listener, starttls_ctx, require_tls):
        def make():
            return RelaySMTP(handler, state, listener, args, hostname="relay.test",
                             ident="relaymail test relay",
                             tls_context=starttls_ctx, data_size_limit=limit,
                             enable_SMTPUTF8=not args.no_smtputf8,
                             auth_require_tls=require_tls,
                             auth_exclude_mechanism=excluded,
                             authenticator=make_authenticator(state), loop=loop)
        return make

    servers = {
        "STARTTLS": await loop.create_server(factory("starttls", ctx, True), args.bind, 0),
        "IMPLICIT": await loop.create_server(factory("implicit", None, False),
                                             args.bind, 0, ssl=ctx),
        "PLAIN": await loop.create_server(factory("plain", None, True), args.bind, 0),
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
