#!/usr/bin/python3
"""TCP proxy on 127.0.0.1 that delays every chunk by D ms in each direction,
which gives a round-trip time of 2*D ms over loopback (tc netem is not
available).  Chunks keep their order; a slow chunk does not hold back the
delay of the ones behind it (they are timed from their arrival).

  delay_proxy.py --listen-port-file F --target-port N --delay-ms D [--listen-port P]

Writes its port number to F (atomically) when it accepts connections.  Stops on
SIGTERM/SIGINT, or when the process that started it is gone.
"""
import argparse
import asyncio
import socket

from serve import serve_until_stopped


def nodelay(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


async def pump(reader, writer, delay):
    """Copy reader to writer, each chunk delayed by `delay` seconds."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def sender():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                try:
                    if writer.can_write_eof():
                        writer.write_eof()
                except OSError:
                    pass
                return
            writer.write(data)
            await writer.drain()

    task = asyncio.ensure_future(sender())
    try:
        while True:
            data = await reader.read(65536)
            queue.put_nowait((loop.time() + delay, data or None))
            if not data:
                break
        await task
    except (ConnectionError, OSError):
        pass
    finally:
        if not task.done():
            task.cancel()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen-port-file", required=True)
    ap.add_argument("--target-port", type=int, required=True)
    ap.add_argument("--target-host", default="127.0.0.1")
    ap.add_argument("--delay-ms", type=float, required=True)
    ap.add_argument("--listen-port", type=int, default=0)
    args = ap.parse_args()
    delay = args.delay_ms / 1000.0

    async def handle(creader, cwriter):
        try:
            sreader, swriter = await asyncio.open_connection(args.target_host, args.target_port)
        except OSError:
            cwriter.close()
            return
        nodelay(cwriter)
        nodelay(swriter)
        try:
            await asyncio.gather(pump(creader, swriter, delay), pump(sreader, cwriter, delay))
        finally:
            for w in (cwriter, swriter):
                try:
                    w.close()
                except OSError:
                    pass

    server = await asyncio.start_server(handle, "127.0.0.1", args.listen_port)
    await serve_until_stopped(server, args.listen_port_file)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
