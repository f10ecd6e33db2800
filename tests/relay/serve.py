"""What the asyncio test servers in tests/relay share: announce the port,
then serve until SIGTERM/SIGINT or until the process that started them is
gone (a test that dies must not leave servers behind)."""
import asyncio
import os
import signal


async def serve_until_stopped(server, port_file):
    """Write server's port to port_file (atomically), then serve."""
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, port_file)
    parent = os.getppid()

    async def watch_parent():
        while not stop.is_set():
            await asyncio.sleep(1)
            if os.getppid() != parent:
                stop.set()

    watchdog = asyncio.ensure_future(watch_parent())
    await stop.wait()
    watchdog.cancel()
    server.close()
