#!/usr/bin/python3
"""Loopback DNS server for relaymail --check tests (python3-dnslib).

Answers TXT queries from DIR/zone.json ({"name.": ["txt", ...], ...}, read
at every query so a test can change it), and NXDOMAIN for anything else.
Listens on UDP 127.0.0.1 with an ephemeral port, written to DIR/port.
"""
import argparse
import json
import os
import signal
import time

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class ZoneResolver(BaseResolver):
    def __init__(self, path):
        self.path = path

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower()
        try:
            with open(self.path) as f:
                zone = {k.lower(): v for k, v in json.load(f).items()}
        except (OSError, ValueError):
            zone = {}
        if name not in zone:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if request.q.qtype in (QTYPE.TXT, QTYPE.ANY):
            for text in zone[name]:
                # Long records are split into 255-byte strings, as in real zones.
                parts = [text[i:i + 255] for i in range(0, len(text), 255)] or [""]
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(parts), ttl=60))
        return reply


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    server = DNSServer(ZoneResolver(os.path.join(args.dir, "zone.json")), port=0,
                       address="127.0.0.1",
                       logger=DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data"))
    server.start_thread()
    port = server.server.server_address[1]
    tmp = os.path.join(args.dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, os.path.join(args.dir, "port"))
    parent = os.getppid()
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    while not stop and os.getppid() == parent:
        time.sleep(0.2)
    server.stop()


if __name__ == "__main__":
    main()
