#!/usr/bin/python3
"""SOCKS5 (RFC 1928, with RFC 1929 username/password) and HTTP CONNECT proxy
for relaymail's tests, on 127.0.0.1 (or --bind) with an ephemeral port.

  proxy.py --kind socks5|http --listen-port-file F --log FILE
           [--users user:pw[,user:pw]] [--fault refuse|garbage|stall|auth-fail]
           [--bind ADDR]

With --users the proxy requires authentication (SOCKS5 method 2, HTTP
Proxy-Authorization: Basic); without it, none is accepted (SOCKS5 method 0).
The target each client asks for is resolved here (socks5h: the name is sent
to the proxy) and logged to FILE, one line per request:
  socks5 HOST PORT atyp=domain|ipv4|ipv6 user=USER|-
  http HOST PORT user=USER|-
and "auth-fail user=USER", "connect-fail HOST PORT ERROR" when those happen.
Faults: refuse (SOCKS5 reply 5, HTTP 403), garbage (an answer that is not the
protocol: "HTTP/1.0 400 Bad Request" to SOCKS5, "hello garbage" to HTTP),
stall (reads the request, never answers), auth-fail (every password is
wrong).  Writes its port to F (atomically) when it accepts connections.
Stops on SIGTERM/SIGINT, or when the process that started it is gone.
"""
import argparse
import asyncio
import base64
import ipaddress
import socket

from serve import serve_until_stopped


def nodelay(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class Proxy:
    def __init__(self, args):
        self.args = args
        self.users = {}
        for pair in filter(None, (args.users or "").split(",")):
            u, _, p = pair.partition(":")
            self.users[u] = p
        self.logf = open(args.log, "a", buffering=1)

    def log(self, line):
        self.logf.write(line + "\n")

    def auth_ok(self, user, password):
        ok = self.args.fault != "auth-fail" and self.users.get(user) == password
        if not ok:
            self.log("auth-fail user=%s" % user)
        return ok

    async def pipe(self, reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.close()
            except OSError:
                pass

    async def tunnel(self, creader, cwriter, host, port):
        """Connect to the target; None (logged) when it cannot be reached."""
        try:
            sreader, swriter = await asyncio.open_connection(host, port)
        except OSError as e:
            self.log("connect-fail %s %d %s" % (host, port, e.__class__.__name__))
            return None
        nodelay(swriter)
        return sreader, swriter

    async def splice(self, creader, cwriter, sreader, swriter):
        await asyncio.gather(self.pipe(creader, swriter), self.pipe(sreader, cwriter))

    # ---- SOCKS5 ----------------------------------------------------------

    async def socks5(self, reader, writer):
        ver, n = await reader.readexactly(2)
        methods = await reader.readexactly(n)
        if self.args.fault == "garbage":
            writer.write(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            return
        if self.args.fault == "stall":
            await asyncio.sleep(3600)
            return
        want = 2 if self.users else 0
        if ver != 5 or want not in methods:
            writer.write(b"\x05\xff")
            return
        writer.write(bytes([5, want]))
        user = "-"
        if want == 2:
            _v, ulen = await reader.readexactly(2)
            user = (await reader.readexactly(ulen)).decode("utf-8", "replace")
            plen = (await reader.readexactly(1))[0]
            password = (await reader.readexactly(plen)).decode("utf-8", "replace")
            if not self.auth_ok(user, password):
                writer.write(b"\x01\x01")
                return
            writer.write(b"\x01\x00")
        _v, cmd, _r, atyp = await reader.readexactly(4)
        if atyp == 1:
            host, kind = str(ipaddress.IPv4Address(await reader.readexactly(4))), "ipv4"
        elif atyp == 4:
            host, kind = str(ipaddress.IPv6Address(await reader.readexactly(16))), "ipv6"
        else:
            ln = (await reader.readexactly(1))[0]
            host, kind = (await reader.readexactly(ln)).decode("utf-8", "replace"), "domain"
        port = int.from_bytes(await reader.readexactly(2), "big")
        self.log("socks5 %s %d atyp=%s user=%s" % (host, port, kind, user))
        fail = b"\x05%c\x00\x01\x00\x00\x00\x00\x00\x00"
        if self.args.fault == "refuse" or cmd != 1:
            writer.write(fail % (5 if cmd == 1 else 7))
            return
        conn = await self.tunnel(reader, writer, host, port)
        if conn is None:
            writer.write(fail % 4)
            return
        # A bound address of the domain type, so the client must parse it.
        writer.write(b"\x05\x00\x00\x03\x09proxy.bnd\x00\x00")
        await self.splice(reader, writer, *conn)

    # ---- HTTP CONNECT ----------------------------------------------------

    async def http(self, reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        if self.args.fault == "stall":
            await asyncio.sleep(3600)
            return
        if self.args.fault == "garbage":
            writer.write(b"hello garbage\r\n\r\n")
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = (lines[0].split(" ") + ["", "", ""])[:3]
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
        user = "-"
        if self.users:
            auth = headers.get("proxy-authorization", "")
            if not auth.startswith("Basic "):
                self.log("auth-fail user=-")
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                             b"Proxy-Authenticate: Basic realm=\"test\"\r\n\r\n")
                return
            user, _, password = base64.b64decode(auth[6:]).decode("utf-8", "replace").partition(":")
            if not self.auth_ok(user, password):
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                             b"Proxy-Authenticate: Basic realm=\"test\"\r\n\r\n")
                return
        self.log("http %s %s user=%s" % (host, port, user))
        if method != "CONNECT" or not port.isdigit():
            writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            return
        if self.args.fault == "refuse":
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        conn = await self.tunnel(reader, writer, host, int(port))
        if conn is None:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\nVia: 1.1 test-proxy\r\n\r\n")
        await self.splice(reader, writer, *conn)

    async def handle(self, reader, writer):
        nodelay(writer)
        try:
            if self.args.kind == "socks5":
                await self.socks5(reader, writer)
            else:
                await self.http(reader, writer)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError,
                ValueError):
            pass
        finally:
            try:
                writer.close()
            except OSError:
                pass


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kind", choices=("socks5", "http"), required=True)
    ap.add_argument("--listen-port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--users", default="")
    ap.add_argument("--fault", choices=("none", "refuse", "garbage", "stall", "auth-fail"),
                    default="none")
    ap.add_argument("--bind", default="127.0.0.1")
    args = ap.parse_args()
    proxy = Proxy(args)
    server = await asyncio.start_server(proxy.handle, args.bind, 0)
    await serve_until_stopped(server, args.listen_port_file)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
