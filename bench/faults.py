"""
Fault run: messages to offline users while the server is killed (SIGKILL)
at random moments, and through stream management resumptions; at the end
every message the server acknowledged must reach its recipient.

    .venv/bin/python bench/faults.py                      # 10,000 acknowledged messages
    .venv/bin/python bench/faults.py --messages 1000 --seed 7

One sender (stream management with resumption) sends numbered chat
messages to ten offline recipients in batches, each batch followed by
<r/>; the server's <a h/> says how many it handled, and those messages
count as acknowledged.  Another task kills the server every --kill-every
seconds on average and starts it again; every few batches the sender also
breaks its own connection and resumes the session.  A message that was
sent but not acknowledged is sent again (receivers may see it twice, as at
least once delivery allows).  Finally each recipient logs in and reads its
offline messages; an acknowledged message that never arrives is lost.
Exit status 0 when none is.
"""

import argparse
import asyncio
import base64
import os
import random
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import servers  # noqa: E402
from load import CHALLENGE, FEATURES, HEADER, SUCCESS, LoginFailed, Scram, Session  # noqa: E402
from run import raiseFileLimit  # noqa: E402
from servers import DOMAIN, username  # noqa: E402

RECIPIENTS = 10
ENABLED = re.compile(rb"<enabled\b[^>]*\bid=['\"]([^'\"]+)['\"]")
RESUMED = re.compile(rb"<resumed\b[^>]*\bh=['\"](\d+)['\"]|<failed\b[^>]*(?:/>|>.*?</failed>)", re.S)
ACK = re.compile(rb"<a\b[^>]*\bh=['\"](\d+)['\"]")
ERROR_ID = re.compile(rb"<message\b[^>]*\btype=['\"]error['\"][^>]*\bid=['\"]m(\d+)['\"]|"
                      rb"<message\b[^>]*\bid=['\"]m(\d+)['\"][^>]*\btype=['\"]error['\"]")
FAULT_BODY = re.compile(rb"<body>fault (\d+)</body>")


def parseArguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10000, help="acknowledged messages to reach")
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--kill-every", type=float, default=3, help="mean seconds between kills")
    parser.add_argument("--resume-every", type=int, default=7, help="break and resume after this many batches")
    parser.add_argument("--port", type=int, default=15322)
    parser.add_argument("--seed", type=int, default=None)
    return parser.parse_args(argv)


class Sender(Session):
    """
    The sending session: stream management on; what the server has
    acknowledged is counted from its <a h/>.
    """

    def __init__(self, run):
        Session.__init__(self, Quiet(), 1)
        self.run = run

    def data(self, data):
        self.buffer += data
        self.check()
        for match in ERROR_ID.finditer(data):
            self.run.refused.add(int(match.group(1) or match.group(2)))

    async def fresh(self, host, port):
        """
        Log in and enable stream management with resumption.
        """
        self.run.fresh()
        await self.login(host, port)
        self.onData = self.data
        self.transport.write(b"<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
        self.run.previd = (await self.expect(ENABLED)).group(1).decode()

    async def resume(self, host, port):
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: self, host, port)
        self.transport.write(HEADER)
        await self.expect(FEATURES)
        scram = Scram(self.user)
        self.transport.write(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>"
                             + base64.b64encode(scram.initial()) + b"</auth>")
        challenge = await self.expect(CHALLENGE)
        response = scram.respond(base64.b64decode(challenge.group(1)))
        self.transport.write(b"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                             + base64.b64encode(response) + b"</response>")
        await self.expect(SUCCESS)
        self.buffer = b""
        self.transport.write(HEADER)
        await self.expect(FEATURES)
        self.onData = self.data
        self.transport.write(f"<resume xmlns='urn:xmpp:sm:3' h='0' previd='{self.run.previd}'/>".encode())
        match = await self.expect(RESUMED)
        if match.group(1) is None:
            self.run.previd = None
            return False
        self.run.resumed += 1
        self.run.resumedAt(int(match.group(1)))
        return True

    async def batch(self, size):
        numbers = self.run.nextNumbers(size)
        self.transport.write(b"".join(
            f"<message type='chat' id='m{n}' to='{username(2 + n % RECIPIENTS)}@{DOMAIN}'>"
            f"<body>fault {n}</body></message>".encode() for n in numbers
        ) + b"<r xmlns='urn:xmpp:sm:3'/>")
        self.run.unacknowledged += numbers
        self.run.acknowledge(int((await self.expect(ACK)).group(1)))


class FaultRun:
    def __init__(self, args):
        self.args = args
        self.next = 0
        self.acked = set()
        self.refused = set()
        #: Numbers sent on the current stream-management session, in order:
        #: an <a h='N'/> acknowledges the first N.
        self.unacknowledged = []
        self.previd = None
        self.kills = 0
        self.resumed = 0
        self.retried = []
        #: Messages sent in all, re-sent ones included.
        self.sends = 0

    def nextNumbers(self, size):
        """
        What to send next: messages sent before but never acknowledged
        first, then new ones.
        """
        numbers, self.retried = self.retried[:size], self.retried[size:]
        while len(numbers) < size:
            numbers.append(self.next)
            self.next += 1
        self.sends += len(numbers)
        return numbers

    def acknowledge(self, handled):
        self.acked.update(self.unacknowledged[:handled])

    def resumedAt(self, handled):
        """
        The session was resumed, the server having handled C{handled} of
        its stanzas: those after are sent again.
        """
        self.acknowledge(handled)
        self.retried = self.unacknowledged[handled:] + self.retried
        del self.unacknowledged[handled:]

    def fresh(self):
        """
        A new session: whatever the old one sent and did not get
        acknowledged is sent again.
        """
        self.retried = [n for n in self.unacknowledged if n not in self.acked] + self.retried
        self.unacknowledged = []


async def killer(run, server, stop, log):
    while not stop.is_set():
        await asyncio.sleep(random.expovariate(1 / run.args.kill_every))
        if stop.is_set():
            break
        os.killpg(server.process.pid, 9)
        server.process.wait()
        server.output.close()
        run.kills += 1
        run.previd = None  # the server's memory is gone
        await asyncio.get_running_loop().run_in_executor(None, server.start)


async def send(run, server, log):
    args = run.args
    stop = asyncio.Event()
    kill = asyncio.ensure_future(killer(run, server, stop, log))
    batches = 0
    started = time.monotonic()
    try:
        while len(run.acked - run.refused) < args.messages:
            sender = None
            try:
                if run.previd is not None:
                    sender = Sender(run)
                    if not await asyncio.wait_for(sender.resume("127.0.0.1", args.port), 30):
                        sender.transport.abort()
                        sender = None
                if sender is None:
                    sender = Sender(run)
                    await asyncio.wait_for(sender.fresh("127.0.0.1", args.port), 30)
                while len(run.acked - run.refused) < args.messages:
                    await asyncio.wait_for(sender.batch(args.batch), 30)
                    batches += 1
                    if batches % args.resume_every == 0:
                        break  # break the connection, resume on the next round
            except (OSError, LoginFailed, asyncio.TimeoutError, ConnectionError):
                pass
            finally:
                if sender is not None and sender.transport is not None:
                    sender.transport.abort()
            if time.monotonic() - started > 1800:
                raise RuntimeError("no progress within 30 minutes")
            log(f"  acknowledged {len(run.acked)}, kills {run.kills}, resumptions {run.resumed}")
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await kill
    if not server.alive():
        server.start()


class Collector(Session):
    """
    A recipient reading its offline messages (they come at its initial
    presence, during the login).
    """

    def __init__(self, load, index):
        Session.__init__(self, load, index)
        self.bodies = set()
        self.tail = b""

    def scan(self, data):
        tail = self.tail + data
        self.bodies.update(int(n) for n in FAULT_BODY.findall(tail))
        self.tail = tail[-100:]

    def loginData(self, data):
        self.scan(data)
        Session.loginData(self, data)

    def collect(self, data):
        self.scan(data)
        if b"urn:xmpp:ping" in data:
            self.answerPings(data)


class Quiet:
    """What L{Session} reports to: nothing is counted here."""
    dropped = streamErrors = pingsAnswered = 0

    def noteError(self, text):
        pass


async def collect(run, port, log):
    received = set()
    for index in range(2, 2 + RECIPIENTS):
        collector = Collector(Quiet(), index)
        await collector.login("127.0.0.1", port)
        collector.onData = collector.collect
        expected = {n for n in run.acked if 2 + n % RECIPIENTS == index}
        deadline = time.monotonic() + 60
        while not expected <= collector.bodies and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        received |= collector.bodies
        collector.close()
    return received


def main(argv=None):
    args = parseArguments(argv)
    if args.seed is not None:
        random.seed(args.seed)
    log = lambda text: print(text, flush=True)  # noqa: E731
    raiseFileLimit()
    workdir = tempfile.mkdtemp(prefix="faults-")
    server = servers.OpenMessenger(workdir, args.port, 0, 1 + RECIPIENTS)
    # Room for every message in the recipients' offline storage.
    server.sections = f"[offline]\nmax_messages = {2 * args.messages}\n"
    run = FaultRun(args)
    try:
        server.prepare()
        server.start()
        asyncio.run(send(run, server, log))
        received = asyncio.run(collect(run, args.port, log))
    finally:
        server.stop()
        if os.environ.get("KEEP"):
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    acknowledged = run.acked - run.refused
    lost = sorted(acknowledged - received)
    log(f"{len(acknowledged)} messages acknowledged ({run.next} different ones sent {run.sends} times, "
        f"{len(run.refused)} refused with an error), {run.kills} kills, {run.resumed} resumptions; "
        f"{len(received & acknowledged)} received; lost: {len(lost)} {lost[:20]}")
    if lost:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
