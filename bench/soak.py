"""
Soak: many sessions that answer the server's dead-peer pings stay connected
for a long time while a few of them chatter, and the server's memory stays
flat.  Counts every session the server dropped and samples the server's RSS.

    .venv/bin/python bench/soak.py                        # 2,000 sessions, 30 minutes
    .venv/bin/python bench/soak.py --sessions 200 --minutes 3 --dead-peer-timeout 20

The dead-peer timeout is the server's (default 90 s); a shorter one makes
the watchdog ping each session more often, which is what this run tests.
Passes (exit status 0) when no session was dropped or got a stream error.
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import servers  # noqa: E402
from load import Load  # noqa: E402
from run import prepareMachine, raiseFileLimit  # noqa: E402
from servers import DOMAIN, username  # noqa: E402


def parseArguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=4, help="chat messages per second, between random sessions")
    parser.add_argument("--sample", type=float, default=30, help="seconds between RSS samples")
    parser.add_argument("--dead-peer-timeout", type=int, default=90)
    parser.add_argument("--port", type=int, default=15222)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--load-cpu", type=int, default=1)
    parser.add_argument("--json", help="write the figures and the RSS curve here")
    return parser.parse_args(argv)


async def soak(args, server, log):
    load = Load("127.0.0.1", args.port)
    login = await load.loginAll(args.sessions, 50, 600)
    log(f"  {login['logins']} sessions logged in ({login['failed']} failed) in {login['seconds']:.1f} s")
    if login["failed"]:
        raise RuntimeError(f"logins failed: {login['failures']}")
    sessions = load.sessions
    started = time.monotonic()
    end = started + args.minutes * 60
    nextSample = started
    curve = []
    sent = 0
    while (now := time.monotonic()) < end:
        if now >= nextSample:
            rss = servers.rssKiB(server.pid)
            curve.append((round(now - started), rss, load.dropped, load.pingsAnswered))
            log(f"  {now - started:6.0f} s  RSS {rss / 1024:7.1f} MiB  dropped {load.dropped}  "
                f"stream errors {load.streamErrors}  pings answered {load.pingsAnswered}  sent {sent}")
            nextSample += args.sample
        sender, receiver = random.sample(sessions, 2)
        sender.transport.write(
            f"<message type='chat' to='{username(receiver.index)}@{DOMAIN}'><body>soak {sent}</body></message>"
            .encode()
        )
        sent += 1
        await asyncio.sleep(1 / args.rate)
    rss = [point[1] for point in curve]
    return {
        "sessions": len(sessions),
        "minutes": args.minutes,
        "dead_peer_timeout": args.dead_peer_timeout,
        "messages_sent": sent,
        "dropped": load.dropped,
        "stream_errors": load.streamErrors,
        "errors": load.errors,
        "pings_answered": load.pingsAnswered,
        "rss_first_kib": rss[0],
        "rss_last_kib": rss[-1],
        "rss_max_kib": max(rss),
        "curve": curve,
    }


def main(argv=None):
    args = parseArguments(argv)
    log = lambda text: print(text, flush=True)  # noqa: E731
    hard = raiseFileLimit()
    if args.sessions + 100 > hard:
        raise SystemExit(f"{args.sessions} sessions need more than the file descriptor limit {hard}")
    prepareMachine(args)
    workdir = tempfile.mkdtemp(prefix="soak-")
    server = servers.OpenMessenger(workdir, args.port, args.server_cpu, args.sessions)
    server.c2s = f"dead_peer_timeout = {args.dead_peer_timeout}\n"
    try:
        log(f"soak: {args.sessions} sessions for {args.minutes:g} min, dead-peer timeout "
            f"{args.dead_peer_timeout} s, {args.rate:g} msgs/s; creating accounts in {workdir}")
        server.prepare()
        server.start()
        result = asyncio.run(soak(args, server, log))
        result["server_alive_at_end"] = server.alive()
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    log(f"dropped {result['dropped']}, stream errors {result['stream_errors']}, "
        f"RSS {result['rss_first_kib'] / 1024:.1f} -> {result['rss_last_kib'] / 1024:.1f} MiB "
        f"(max {result['rss_max_kib'] / 1024:.1f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    if result["dropped"] or result["stream_errors"] or not result["server_alive_at_end"]:
        raise SystemExit(1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as e:
        raise SystemExit(f"interrupted ({e}); server stopped")
