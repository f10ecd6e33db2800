#!/usr/bin/python3
"""Loopback SMTP relay for relaymail's tests (aiosmtpd).

Three listeners on 127.0.0.1 with ephemeral ports: "starttls" (STARTTLS
offered, AUTH only after it), "implicit" (TLS from the first byte) and
"plain" (neither).  When ready it writes DIR/ports (shell-sourceable) and
DIR/pid.  Every accepted message is written to DIR/messages/NNNN.eml (the
exact bytes after dot-unstuffing) and NNNN.json (envelope, TLS and AUTH
facts) before the 250 reply.  DIR/commands.log gets one line per command.

Faults: DIR/faults.json, read at each connection, is a list of rules
  {"step": greeting|ehlo|starttls|auth|mail|rcpt|data|data_mid|eod|quit,
   "action": reply|drop|delay|garbage|inject, "reply": "451 4.3.0 Later",
   "seconds": N, "match": "rcpt address", "times": N}
"times" limits a rule to the next N connections (the file is rewritten).
"""
import argparse
import asyncio
import base64
import json
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

STEPS = {"greeting", "ehlo", "starttls", "auth", "mail", "rcpt", "data",
         "data_mid", "eod", "quit"}


class State:
    def __init__(self, args):
        self.dir = args.dir
        self.users = dict(u.split(":", 1) for u in args.users.split(",") if u)
        self.counter = 0
        self.conn_counter = 0
        os.makedirs(os.path.join(self.dir, "messages"), exist_ok=True)
        self.log = open(os.path.join(self.dir, "commands.log"), "a", buffering=1)

    def write_atomic(self, name, data):
        path = os.path.join(self.dir, name)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, path)

    def take_faults(self):
        """The rules for a new connection; consumes "times"."""
        path = os.path.join(self.dir, "faults.json")
        try:
            with open(path) as f:
                rules = json.load(f)
        except (OSError, ValueError):
            return []
        active, keep = [], []
        for rule in rules:
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
        if not server.relay_no_pipelining:
            responses.insert(-1, "250-PIPELINING")
        responses.insert(-1, "250-ENHANCEDSTATUSCODES")
        if server.relay_dsn:
            responses.insert(-1, "250-DSN")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_DATA(self, server, session, envelope):
        rule = server.fault("eod")
        if rule is not None:
            result = await server.apply(rule)
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
        }
        st.write_atomic(os.path.join("messages", name + ".json"), json.dumps(facts).encode())
        return "250 2.0.0 Ok: queued as RELAY%s" % name


class RelaySMTP(SMTP):
    def __init__(self, handler, state, listener, args, **kw):
        super().__init__(handler, **kw)
        self.state = state
        self.listener = listener
        self.relay_no_pipelining = args.no_pipelining
        self.relay_dsn = args.dsn
        self.auth_mech = None
        self.auth_user = None
        self.faults = []
        state.conn_counter += 1
        self.conn_id = state.conn_counter

    def log(self, text):
        self.state.log.write("%d %s\n" % (self.conn_id, text))

    def tls_version(self):
        obj = self.transport.get_extra_info("ssl_object") if self.transport else None
        return obj.version() if obj else None

    def fault(self, step, rcpt=None):
        for rule in self.faults:
            if rule.get("step") != step:
                continue
            if rcpt is not None and rule.get("match") not in (None, rcpt):
                continue
            return rule
        return None

    async def apply(self, rule):
        """Carry out a rule: returns a reply string to send, None to go on
        normally, or "" when the connection was dropped."""
        action = rule.get("action", "reply")
        if action == "delay":
            await asyncio.sleep(float(rule.get("seconds", 1)))
            return rule.get("reply")
        if action == "drop":
            self.log("FAULT drop")
            self.transport.close()
            return ""
        if action == "garbage":
            return "hello there"
        return rule.get("reply", "451 4.3.0 Injected failure")

    async def step(self, step, rcpt=None):
        """True when a fault handled the command."""
        rule = self.fault(step, rcpt)
        if rule is None:
            return False
        result = await self.apply(rule)
        if result is None:
            return False
        if result != "":
            await self.push(result)
        return True

    async def _handle_client(self):
        self.faults = self.state.take_faults()
        self.log("CONNECT %s" % self.listener)
        if await self.step("greeting"):
            if self.transport is not None:
                await asyncio.sleep(0.2)
                self.transport.close()
            return
        await super()._handle_client()

    async def smtp_EHLO(self, arg):
        self.log("EHLO %s" % arg)
        if not await self.step("ehlo"):
            await super().smtp_EHLO(arg)

    async def smtp_HELO(self, arg):
        self.log("HELO %s" % arg)
        await super().smtp_HELO(arg)

    async def smtp_STARTTLS(self, arg):
        self.log("STARTTLS")
        rule = self.fault("starttls")
        if rule is not None and rule.get("action") == "inject":
            self._writer.write(b"220 2.0.0 Ready to start TLS\r\n250 injected\r\n")
            await asyncio.sleep(0.5)
            self.transport.close()
            return
        if not await self.step("starttls"):
            await super().smtp_STARTTLS(arg)
            self.log("TLS %s" % self.tls_version())

    async def smtp_AUTH(self, arg):
        mech = arg.split()[0].upper() if arg else ""
        self.log("AUTH %s" % mech)
        if await self.step("auth"):
            return
        self.auth_mech = mech
        await super().smtp_AUTH(arg)

    def split_dsn(self, arg, names):
        """aiosmtpd refuses DSN parameters (555): take them out when
        --dsn is on and hand them back to be recorded."""
        if not self.relay_dsn or not arg:
            return arg, []
        words = arg.split(" ")
        dsn = [w for w in words if w.split("=")[0].upper() in names]
        return " ".join(w for w in words if w not in dsn), dsn

    async def smtp_MAIL(self, arg):
        self.log("MAIL %s" % arg)
        if not await self.step("mail"):
            arg, dsn = self.split_dsn(arg, ("RET", "ENVID"))
            await super().smtp_MAIL(arg)
            if self.envelope.mail_from is not None:
                self.envelope.mail_options.extend(dsn)

    async def smtp_RCPT(self, arg):
        self.log("RCPT %s" % arg)
        addr = arg[3:].strip().split()[0].strip("<>") if arg else ""
        if not await self.step("rcpt", addr):
            arg, dsn = self.split_dsn(arg, ("NOTIFY", "ORCPT"))
            await super().smtp_RCPT(arg)
            if dsn and self.envelope.rcpt_options:
                self.envelope.rcpt_options[-1] = list(self.envelope.rcpt_options[-1]) + dsn

    async def smtp_DATA(self, arg):
        self.log("DATA")
        if await self.step("data"):
            return
        if self.fault("data_mid") is not None and self.envelope.rcpt_tos:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._reader.read(100)
            self.log("FAULT drop mid-data")
            self.transport.close()
            return
        await super().smtp_DATA(arg)

    async def smtp_RSET(self, arg):
        self.log("RSET")
        await super().smtp_RSET(arg)

    async def smtp_QUIT(self, arg):
        self.log("QUIT")
        if not await self.step("quit"):
            await super().smtp_QUIT(arg)


def make_authenticator(state):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and
              state.users.get(auth_data.login.decode()) == auth_data.password.decode())
        if ok:
            server.auth_user = auth_data.login.decode()
        return AuthResult(success=ok, handled=False)
    return authenticator


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--users", default="alice:s3cret")
    ap.add_argument("--auth-mechs", default="PLAIN,LOGIN")
    ap.add_argument("--size", type=int, default=200 * 1024 * 1024,
                    help="advertised SIZE limit (0: no SIZE extension)")
    ap.add_argument("--no-pipelining", action="store_true")
    ap.add_argument("--dsn", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    state = State(args)
    handler = Handler(state)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    offered = {m.strip().upper() for m in args.auth_mechs.split(",")}
    excluded = [m for m in ("PLAIN", "LOGIN") if m not in offered]
    loop = asyncio.get_running_loop()
    limit = args.size if args.size > 0 else None

    def factory(listener, tls_ctx, require_tls):
        def make():
            smtp = RelaySMTP(handler, state, listener, args, hostname="relay.test",
                             tls_context=tls_ctx, data_size_limit=limit,
                             enable_SMTPUTF8=True, auth_require_tls=require_tls,
                             auth_exclude_mechanism=excluded,
                             authenticator=make_authenticator(state), loop=loop)
            return smtp
        return make

    servers = {
        "STARTTLS": await loop.create_server(factory("starttls", ctx, True), "127.0.0.1", 0),
        "IMPLICIT": await loop.create_server(factory("implicit", None, False), "127.0.0.1", 0, ssl=ctx),
        "PLAIN": await loop.create_server(factory("plain", None, True), "127.0.0.1", 0),
    }
    ports = "".join("%s_PORT=%d\n" % (k, s.sockets[0].getsockname()[1]) for k, s in servers.items())
    state.write_atomic("pid", b"%d\n" % os.getpid())
    state.write_atomic("ports", ports.encode())
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    for s in servers.values():
        s.close()


if __name__ == "__main__":
    asyncio.run(main())
