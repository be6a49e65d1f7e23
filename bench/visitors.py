#!/usr/bin/env python3
"""
Visitor chat under load: many website visitors chatting over HTTP (long
polling) with supporters logged in over XMPP, against the real twistd
daemon.

    .venv/bin/python bench/visitors.py            # 1,000 chats, ~2 minutes
    .venv/bin/python bench/visitors.py --quick    # 200 chats, ~40 seconds
    .venv/bin/python bench/visitors.py --help

The server runs pinned to one CPU (taskset), this process (the visitors'
browsers and the supporters' XMPP clients, one asyncio event loop on raw
sockets) to another.  See bench/README.md for the phases and what each
number means.
"""

import argparse
import asyncio
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import servers  # noqa: E402
from load import Load, Session, percentile  # noqa: E402
from run import Meter, Profiler, addMachineOptions, machine, prepareMachine, raiseFileLimit, settle, waitQuiet  # noqa: E402

VISITORS_DOMAIN = f"visitors.{servers.DOMAIN}"
#: The server allows this many chats per visitor address in its window
#: (VisitorChatService's chatsPerAddress, 10 per 10 minutes); stay below.
CHATS_PER_ADDRESS = 8


def sourceAddresses(count):
    """
    C{count} loopback addresses other than 127.0.0.1 (all of 127/8 is
    loopback on Linux): 127.0.0.2 .. 127.0.0.200, then 127.0.1.2 ...
    """
    addresses = []
    third = 0
    while len(addresses) < count:
        for last in range(2, 201):
            addresses.append(f"127.0.{third}.{last}")
            if len(addresses) == count:
                break
        third += 1
    return addresses


# HTTP/1.1 client, one request at a time per keep-alive connection


class HTTPError(Exception):
    pass


def parseChunked(buffer):
    """
    A complete chunked body at the start of C{buffer}: (body, bytes used),
    or C{None} if more is needed.
    """
    parts = []
    pos = 0
    while True:
        eol = buffer.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(buffer[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            # No trailers from the server: the body ends with an empty line.
            end = buffer.find(b"\r\n", pos)
            if end < 0:
                return None
            return b"".join(parts), end + 2
        if len(buffer) < pos + size + 2:
            return None
        parts.append(buffer[pos:pos + size])
        pos += size + 2


class HTTPConnection(asyncio.Protocol):
    """
    One keep-alive connection of a visitor's browser to the server.
    """

    transport = None

    def __init__(self):
        self.buffer = b""
        self.head = None
        self.future = None
        self.closed = False

    @classmethod
    async def open(cls, host, port, source):
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(cls, host, port, local_addr=(source, 0))
        return connection

    def connection_made(self, transport):
        self.transport = transport
        self.hostHeader = b"127.0.0.1"

    def connection_lost(self, exc):
        self.closed = True
        if self.future is not None and not self.future.done():
            self.future.set_exception(HTTPError("connection closed"))

    def data_received(self, data):
        self.buffer += data
        if self.future is None:
            return
        if self.head is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            self.buffer = self.buffer[end + 4:]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self.head = (int(lines[0].split()[1]), headers)
        status, headers = self.head
        if "content-length" in headers:
            length = int(headers["content-length"])
            if len(self.buffer) < length:
                return
            body, self.buffer = self.buffer[:length], self.buffer[length:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parsed = parseChunked(self.buffer)
            if parsed is None:
                return
            body, used = parsed
            self.buffer = self.buffer[used:]
        else:
            # Neither: the body ends with the connection (not used by Twisted
            # for these answers).
            return
        if headers.get("connection", "").lower() == "close":
            self.closed = True
        self.head = None
        future, self.future = self.future, None
        if not future.done():
            future.set_result((status, body))

    async def request(self, method, path, value=None):
        """
        Send one request; return (status, body).
        """
        if self.closed or self.transport.is_closing():
            raise HTTPError("connection closed")
        if self.future is not None:
            raise HTTPError("a request is already in progress on this connection")
        self.future = asyncio.get_running_loop().create_future()
        if value is None:
            self.transport.write(
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
            )
        else:
            body = json.dumps(value).encode()
            self.transport.write(
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
        return await self.future

    def close(self):
        if self.transport is not None:
            self.transport.abort()


# The visitors: a browser window each


class Visitor:
    """
    One visitor's chat window: C{/chat/start}, then a long poll kept open
    on one connection and what the visitor says on a second one (as a
    browser does).
    """

    token = None
    poll = None
    action = None
    pollTask = None

    def __init__(self, bench, index, source):
        self.bench = bench
        self.index = index
        self.source = source
        self.seq = 0
        self.ended = False
        self.stopping = False
        self.started = None  # perf_counter_ns before /chat/start
        self.greeted = None  # ... when the supporter's greeting arrived
        self.pending = 0  # messages said whose echo has not come back
        self.busy = False  # a say request is in progress
        self.actionLock = asyncio.Lock()  # one request at a time on the second connection

    async def connection(self, which):
        connection = getattr(self, which)
        if connection is None or connection.closed:
            if connection is not None:
                self.bench.reconnects += 1
            connection = await HTTPConnection.open(self.bench.host, self.bench.httpPort, self.source)
            setattr(self, which, connection)
        return connection

    async def start(self, company):
        self.started = time.perf_counter_ns()
        connection = await self.connection("action")
        status, body = await connection.request("POST", "/chat/start", {
            "company": company,
            "name": f"Visitor {self.index}",
            "parameters": [["URL", f"https://www.example.com/shop/{self.index}"],
                           ["Kundennummer", str(50000 + self.index)]],
        })
        answer = json.loads(body) if body else {}
        if status != 200:
            raise HTTPError(f"/chat/start answered {status}: {body[:200]!r}")
        if not answer.get("available"):
            raise HTTPError("/chat/start: nobody available")
        self.token = answer["token"]
        self.pollTask = asyncio.ensure_future(self.pollLoop())

    async def pollLoop(self):
        bench = self.bench
        while not self.stopping:
            try:
                connection = await self.connection("poll")
                status, body = await connection.request(
                    "GET", f"/chat/api/{self.token}/events?after={self.seq}&idle=0"
                )
            except (HTTPError, OSError) as e:
                bench.noteError(f"poll: {type(e).__name__}: {e}")
                bench.pollErrors += 1
                await asyncio.sleep(1)
                continue
            now = time.perf_counter_ns()
            bench.polls += 1
            if status != 200:
                bench.pollErrors += 1
                bench.noteError(f"poll answered {status}: {body[:200]!r}")
                await asyncio.sleep(1)
                continue
            answer = json.loads(body)
            events = answer["events"]
            if not events:
                bench.emptyPolls += 1
            for event in events:
                self.seq = max(self.seq, event["seq"])
                if event["kind"] == "message" and event["from"] == "supporter":
                    self.fromSupporter(event["text"], now)
            if answer["ended"]:
                self.ended = True
                bench.ended += 1
                return

    def fromSupporter(self, text, now):
        bench = self.bench
        if text.startswith("echo "):
            _, sent, received = text.split()
            sent, received = int(sent), int(received)
            self.pending -= 1
            bench.replies += 1
            bench.roundTrips.append(now - sent)
            bench.timeline.append((sent, now - sent))
            bench.toSupporter.append(received - sent)
            bench.toVisitor.append(now - received)
        elif text.startswith("hello") and self.greeted is None:
            self.greeted = now
            bench.greetings.append(now - self.started)

    def say(self):
        """
        Write one line (in a task of its own); the supporter echoes it with
        the times it carries.
        """
        self.busy = True
        self.pending += 1
        self.bench.said += 1
        return asyncio.ensure_future(self._say())

    async def _say(self):
        bench = self.bench
        try:
            async with self.actionLock:
                connection = await self.connection("action")
                sent = time.perf_counter_ns()
                status, body = await connection.request(
                    "POST", f"/chat/api/{self.token}/say", {"text": f"bench {sent}"}
                )
            bench.sayTimes.append(time.perf_counter_ns() - sent)
            if status != 200:
                bench.sayErrors += 1
                bench.noteError(f"say answered {status}: {body[:200]!r}")
        except (HTTPError, OSError) as e:
            bench.sayErrors += 1
            bench.noteError(f"say: {type(e).__name__}: {e}")
        finally:
            self.busy = False

    async def close(self):
        try:
            async with self.actionLock:
                connection = await self.connection("action")
                status, body = await connection.request("POST", f"/chat/api/{self.token}/close", {})
            if status != 200:
                self.bench.noteError(f"close answered {status}: {body[:200]!r}")
        except (HTTPError, OSError) as e:
            self.bench.noteError(f"close: {type(e).__name__}: {e}")

    def abort(self):
        self.stopping = True
        if self.pollTask is not None and not self.pollTask.done():
            self.pollTask.cancel()
        for connection in (self.poll, self.action):
            if connection is not None:
                connection.close()


# The supporters: XMPP clients that answer every visitor


STANZA_START = re.compile(rb"<([A-Za-z][\w:.-]*)\b[^>]*?(/?)>")
FROM = re.compile(rb"\bfrom=['\"]([^'\"]+)['\"]")
ID = re.compile(rb"\bid=['\"]([^'\"]+)['\"]")
TYPE = re.compile(rb"\btype=['\"]([^'\"]+)['\"]")
MESSAGE_BODY = re.compile(rb"<body>([^<]*)</body>")


def splitStanzas(buffer):
    """
    The complete top-level elements at the start of C{buffer}, and what is
    left.  Enough for what the server sends a client: messages, presences
    and IQs, none of which contains an element of its own name.
    """
    stanzas = []
    pos = 0
    while True:
        start = buffer.find(b"<", pos)
        if start < 0:
            return stanzas, b""
        if buffer.startswith(b"</", start):
            stanzas.append(buffer[start:])  # </stream:stream>
            return stanzas, b""
        match = STANZA_START.match(buffer, start)
        if match is None:
            return stanzas, buffer[start:]
        if match.group(2):
            stanzas.append(buffer[start:match.end()])
            pos = match.end()
            continue
        closing = b"</" + match.group(1) + b">"
        end = buffer.find(closing, match.end())
        if end < 0:
            return stanzas, buffer[start:]
        pos = end + len(closing)
        stanzas.append(buffer[start:pos])


class Supporter(Session):
    """
    A supporter's XMPP client (the login of bench/load.py), which fetches
    its roster like Psi does, answers roster pushes and pings, greets each
    new visitor (after the parameters message) and echoes every line a
    visitor writes, with the time it arrived.
    """

    def __init__(self, load, index, bench):
        Session.__init__(self, load, index)
        self.bench = bench
        self.chats = 0
        self.rosterLoaded = None

    def startSupporting(self):
        self.buffer = b""
        self.onData = self.supporterData
        self.rosterLoaded = asyncio.get_running_loop().create_future()
        self.transport.write(b"<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>")
        return self.rosterLoaded

    def supporterData(self, data):
        now = time.perf_counter_ns()
        stanzas, self.buffer = splitStanzas(self.buffer + data if self.buffer else data)
        out = []
        bench = self.bench
        for stanza in stanzas:
            if stanza.startswith(b"<message"):
                kind = TYPE.search(stanza[:stanza.find(b">")])
                if kind is not None and kind.group(1) == b"error":
                    bench.xmppErrors += 1
                    bench.noteError(stanza[:300].decode(errors="replace"))
                    continue
                body = MESSAGE_BODY.search(stanza)
                if body is None:
                    continue  # chat states
                sender = FROM.search(stanza).group(1)
                text = body.group(1)
                if text.startswith(b"bench "):
                    bench.received += 1
                    out.append(b"<message type='chat' to='%s'><body>echo %s %d</body>"
                               b"<active xmlns='http://jabber.org/protocol/chatstates'/></message>"
                               % (sender, text[6:], now))
                elif text.startswith(b"Visitor: "):
                    # The parameters, before the visitor's first line: a new chat.
                    self.chats += 1
                    out.append(b"<message type='chat' to='%s'><body>hello</body></message>" % sender)
            elif stanza.startswith(b"<iq"):
                head = stanza[:stanza.find(b">")]
                kind = TYPE.search(head)
                kind = kind.group(1) if kind else b""
                ident = ID.search(head)
                ident = ident.group(1) if ident else b""
                if kind in (b"get", b"set"):
                    # Roster pushes and the server's pings: acknowledge.
                    if b"jabber:iq:roster" in stanza:
                        bench.rosterPushes += 1
                    sender = FROM.search(head)
                    to = b" to='%s'" % sender.group(1) if sender else b""
                    out.append(b"<iq type='result' id='%s'%s/>" % (ident, to))
                elif ident.startswith(b"probe-"):
                    bench.probeAnswered(ident, now)
                elif ident == b"roster" and not self.rosterLoaded.done():
                    self.rosterLoaded.set_result(kind)
            elif stanza.startswith(b"<presence"):
                bench.presences += 1
            elif stanza.startswith((b"</stream:stream", b"<stream:error")) and not self.closing:
                bench.streamErrors += 1
                bench.noteError(stanza[:300].decode(errors="replace"))
        if out:
            self.transport.write(b"".join(out))


# Measuring


def stalls(samples, threshold_ms, gap=0.5):
    """
    Group the slow ones of C{samples} ((seconds into the phase, latency in
    ms)) into stretches: messages slower than C{threshold_ms} sent less
    than C{gap} s apart.  Returns [start s, end s, count, worst ms] each.
    """
    groups = []
    for at, latency in sorted(samples):
        if latency < threshold_ms:
            continue
        if groups and at - groups[-1][1] < gap:
            group = groups[-1]
            group[1] = at
            group[2] += 1
            group[3] = max(group[3], latency)
        else:
            groups.append([at, at, 1, latency])
    return [[round(a, 2), round(b, 2), n, round(w, 1)] for a, b, n, w in groups]


def ms(values, fraction):
    value = percentile(values, fraction)
    return None if value is None else value / 1e6


def establishedTo(port):
    """
    Established TCP connections to 127.0.0.1:C{port}, from the server's
    side (ss), as a check that every chat's long poll is really open.
    """
    try:
        out = subprocess.run(
            ["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return sum(1 for line in out.splitlines() if line.strip())


class Bench:
    def __init__(self, args, server, company, log):
        self.args = args
        self.server = server
        self.company = company
        self.log = log
        self.host = "127.0.0.1"
        self.httpPort = args.http_port
        self.meter = Meter(server.pid)
        self.visitors = []
        self.errors = []
        self.errorCount = 0
        for name in ("reconnects", "polls", "emptyPolls", "pollErrors", "ended", "said",
                     "sayErrors", "replies", "received", "xmppErrors", "rosterPushes",
                     "presences", "streamErrors"):
            setattr(self, name, 0)
        self.resetLatencies()

    def resetLatencies(self):
        self.roundTrips = []
        self.toSupporter = []
        self.toVisitor = []
        self.sayTimes = []
        self.greetings = []
        self.timeline = []
        self.probes = []
        self.phaseStarted = time.perf_counter_ns()

    # The probe: an XMPP ping to the server every few ms, whose answer time
    # shows when the server's reactor was busy, whatever with.

    probePaused = False

    async def probeLoop(self, supporter, interval):
        self.probesSent = {}
        n = 0
        while True:
            if self.probePaused:
                await asyncio.sleep(interval)
                continue
            n += 1
            ident = b"probe-%d" % n
            self.probesSent[ident] = time.perf_counter_ns()
            supporter.transport.write(
                b"<iq type='get' id='%s' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>"
                % (ident, servers.DOMAIN.encode())
            )
            await asyncio.sleep(interval)

    def probeAnswered(self, ident, now):
        sent = self.probesSent.pop(ident, None)
        if sent is not None:
            self.probes.append((sent, now - sent))

    def latencyFigures(self, prefix, samples, threshold_ms):
        """
        p50/p99/max of (sent ns, latency ns) C{samples}, and the stretches of
        the phase in which they were slower than C{threshold_ms}.
        """
        values = [latency for _, latency in samples]
        return {
            f"{prefix}_p50_ms": ms(values, 0.5),
            f"{prefix}_p99_ms": ms(values, 0.99),
            f"{prefix}_max_ms": max(values) / 1e6 if values else None,
            f"{prefix}_stalls": stalls([((sent - self.phaseStarted) / 1e9, latency / 1e6)
                                        for sent, latency in samples], threshold_ms),
        }

    def noteError(self, text):
        self.errorCount += 1
        if len(self.errors) < 8:
            self.errors.append(text)

    def counters(self):
        return {name: getattr(self, name) for name in (
            "polls", "emptyPolls", "pollErrors", "said", "sayErrors", "replies", "received",
            "reconnects", "xmppErrors", "rosterPushes", "presences", "streamErrors", "errorCount")}

    def record(self, phases, name, figures, before):
        after = self.meter.read()
        figures.update(Meter.delta(before, after))
        if self.args.probe_interval > 0 and not self.probePaused:
            figures.update(self.latencyFigures("probe", self.probes, self.args.probe_stall_ms))
        phases[name] = figures
        self.log(f"  {name}: {summarise(name, figures)}")
        return after

    def openChats(self):
        return sum(1 for v in self.visitors if v.token and not v.ended and v.poll is not None
                   and not v.poll.closed)

    async def run(self):
        args = self.args
        results = {"version": self.server.version()}
        phases = results["phases"] = {}
        load = Load("127.0.0.1", args.port, lambda: servers.cpuSeconds(self.server.pid))
        supporters = []
        probe = None
        try:
            # Supporters log in and load their rosters.
            before = self.meter.read()
            started = time.perf_counter()
            for index in range(1, args.supporters + 1):
                supporter = Supporter(load, index, self)
                await asyncio.wait_for(supporter.login("127.0.0.1", args.port), 60)
                await asyncio.wait_for(supporter.startSupporting(), 30)
                supporters.append(supporter)
                load.sessions.append(supporter)
            self.log(f"  {len(supporters)} supporters logged in over XMPP in "
                     f"{time.perf_counter() - started:.1f} s")
            if args.probe_interval > 0:
                probe = asyncio.ensure_future(self.probeLoop(supporters[0], args.probe_interval))
            await asyncio.sleep(2)
            before = self.meter.read()
            results["rss_before_kib"] = before["rss_kib"]
            self.resetLatencies()

            # Chats start, --concurrency at a time.
            addresses = sourceAddresses(-(-args.chats // CHATS_PER_ADDRESS))
            results["source_addresses"] = len(addresses)
            self.visitors = [Visitor(self, i, addresses[i % len(addresses)])
                             for i in range(args.chats)]
            starts = []
            failures = []
            queue = iter(self.visitors)
            # The server's CPU time at every tenth of the chats started: what
            # one start costs with few and with many chats open.
            tenth = max(1, args.chats // 10)
            marks = [(0, servers.cpuSeconds(self.server.pid))]

            async def worker():
                for visitor in queue:
                    began = time.perf_counter_ns()
                    try:
                        await asyncio.wait_for(visitor.start(self.company), 60)
                    except (HTTPError, OSError, TimeoutError, ValueError) as e:
                        failures.append(f"{visitor.index}: {type(e).__name__}: {e}")
                        continue
                    starts.append((time.perf_counter_ns(), time.perf_counter_ns() - began))
                    if len(starts) % tenth == 0:
                        marks.append((len(starts), servers.cpuSeconds(self.server.pid)))

            with Profiler(args, self.server, "start", self.log):
                t0 = time.perf_counter_ns()
                await asyncio.gather(*(worker() for _ in range(args.concurrency)))
                elapsed = (time.perf_counter_ns() - t0) / 1e9
            figures = {
                "chats": len(starts), "failed": len(failures), "failures": failures[:5],
                "per_second": len(starts) / elapsed if elapsed else 0.0,
                "start_p50_ms": ms([s[1] for s in starts], 0.5),
                "start_p99_ms": ms([s[1] for s in starts], 0.99),
            }
            figures["cpu_ms_per_start_by_tenth"] = [
                round(1000 * (c1 - c0) / (n1 - n0), 2)
                for (n0, c0), (n1, c1) in zip(marks, marks[1:])
            ]
            # The rate at the beginning and the end: does a start cost more
            # with more chats open?
            starts.sort()
            tenth = max(2, len(starts) // 10)
            if len(starts) >= 2 * tenth:
                for key, part in (("first_tenth_per_second", starts[:tenth]),
                                  ("last_tenth_per_second", starts[-tenth:])):
                    span = (part[-1][0] - part[0][0]) / 1e9
                    figures[key] = (len(part) - 1) / span if span else None
            before = self.record(phases, "start", figures, before)
            figures["per_server_cpu_second"] = (figures["chats"] / figures["server_cpu_s"]
                                                if figures["server_cpu_s"] else 0.0)
            if failures:
                self.log(f"    start failures, first ones: {failures[:5]}")

            # Every supporter greets its new visitors; wait for the greetings.
            deadline = time.monotonic() + 30
            opened = [v for v in self.visitors if v.token]
            while time.monotonic() < deadline and any(v.greeted is None for v in opened):
                await asyncio.sleep(0.2)
            greeted = [v for v in opened if v.greeted is not None]
            figures["greeted"] = len(greeted)
            figures["greeting_p50_ms"] = ms(self.greetings, 0.5)
            figures["greeting_p99_ms"] = ms(self.greetings, 0.99)
            spread = [s.chats for s in supporters]
            figures["chats_per_supporter_min"] = min(spread)
            figures["chats_per_supporter_max"] = max(spread)
            self.log(f"    {len(greeted)} of {len(opened)} visitors got the greeting "
                     f"(start → greeting p50 {fmt(figures['greeting_p50_ms'])} ms, "
                     f"p99 {fmt(figures['greeting_p99_ms'])} ms); chats per supporter "
                     f"{min(spread)}..{max(spread)}")

            # Idle: every chat keeps its long poll open.
            await asyncio.sleep(2)
            before = self.meter.read()
            self.resetLatencies()
            polls0, empty0 = self.polls, self.emptyPolls
            # No probe here: its pings would be most of the server's work.
            self.probePaused = True
            with Profiler(args, self.server, "idle", self.log):
                await asyncio.sleep(args.idle)
            idle = {"open_chats": self.openChats(),
                    "server_connections": establishedTo(args.http_port),
                    "polls_answered": self.polls - polls0,
                    "empty_polls": self.emptyPolls - empty0}
            before = self.record(phases, "idle", idle, before)
            self.probePaused = False
            idle["rss_per_chat_kib"] = ((idle["rss_kib"] - results["rss_before_kib"])
                                        / max(1, idle["open_chats"]))
            self.log(f"    RSS {results['rss_before_kib'] / 1024:.1f} MiB with the supporters, "
                     f"{idle['rss_kib'] / 1024:.1f} MiB with {idle['open_chats']} open chats: "
                     f"{idle['rss_per_chat_kib']:.1f} KiB per chat; "
                     f"{idle['server_connections']} HTTP connections established at the server")

            # Messages at fixed rates.
            for rate in args.rates:
                name = f"rate_{rate:g}"
                with Profiler(args, self.server, name, self.log):
                    figures = await self.fixedRate(rate, args.duration)
                before = self.record(phases, name, figures, before)
                await asyncio.sleep(1)
                before = self.meter.read()

            # The visitors end their chats.
            ended0 = self.ended
            self.resetLatencies()
            open_ = [v for v in self.visitors if v.token and not v.ended]
            started = time.perf_counter()
            closing = asyncio.Semaphore(args.concurrency)
            await asyncio.gather(*(self.limited(v.close(), closing) for v in open_))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.ended - ended0 < len(open_):
                await asyncio.sleep(0.1)
            close = {"closed": self.ended - ended0, "open_before": len(open_),
                     "wall_seconds": time.perf_counter() - started}
            close["settle_seconds"] = await settle(self.server.pid, limit=30)
            before = self.record(phases, "close", close, before)

            results["counters"] = self.counters()
            results["supporters_dropped"] = load.dropped
            if self.errors:
                self.log(f"    errors ({self.errorCount}), first ones: {self.errors}")
        finally:
            if probe is not None:
                probe.cancel()
            for visitor in self.visitors:
                visitor.abort()
            await load.logoutAll(timeout=10)
            load.abortAll()
        results["errors"] = self.errors
        results["other_cpu_max_pct"] = max(p["other_cpu_pct"] for p in phases.values())
        results["wait_max_pct"] = max(max(p["server_wait_pct"], p["load_wait_pct"])
                                      for p in phases.values())
        if results["wait_max_pct"] > 5:
            self.log(f"    WARNING: other processes kept the server or the generator from its CPU "
                     f"up to {results['wait_max_pct']:.0f}% of a phase; these figures are disturbed")
        return results

    @staticmethod
    async def limited(coroutine, semaphore):
        async with semaphore:
            return await coroutine

    async def fixedRate(self, rate, duration):
        """
        Open loop: C{rate} lines per second in total, from the open chats in
        turn (ticks of 5 ms); a visitor whose previous line is not echoed
        yet is skipped.  Then wait (at most 10 s) for the echoes.
        """
        self.resetLatencies()
        said0, replies0, sayErrors0 = self.said, self.replies, self.sayErrors
        polls0 = self.polls
        cpu0 = servers.cpuSeconds(self.server.pid)
        active = [v for v in self.visitors if v.token and not v.ended]
        tick = 0.005
        owed = 0.0
        turn = 0
        skipped = 0
        tasks = set()
        loop = asyncio.get_running_loop()
        started = loop.time()
        end = started + duration
        nextTick = started
        while loop.time() < end:
            owed += rate * tick
            whole = int(owed)
            owed -= whole
            for _ in range(whole):
                for _ in range(len(active)):
                    visitor = active[turn]
                    turn = (turn + 1) % len(active)
                    if not visitor.busy and visitor.pending <= 0 and not visitor.ended:
                        task = visitor.say()
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                        break
                else:
                    skipped += 1
            nextTick += tick
            await asyncio.sleep(max(0.0, nextTick - loop.time()))
        cpu = servers.cpuSeconds(self.server.pid) - cpu0
        measured = loop.time() - started
        said = self.said - said0
        deadline = loop.time() + 10
        while loop.time() < deadline and self.replies - replies0 < said - (self.sayErrors - sayErrors0):
            await asyncio.sleep(0.05)
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        replies = self.replies - replies0
        return {
            "rtt_stalls": self.latencyFigures("rtt", self.timeline, 50)["rtt_stalls"],
            "offered_per_second": rate,
            "said": said,
            "per_second": said / measured if measured else 0.0,
            "echoed": replies,
            "lost": said - replies,
            "skipped": skipped,
            "say_errors": self.sayErrors - sayErrors0,
            "polls_answered": self.polls - polls0,
            "window_server_cpu_s": cpu,
            "window_server_cpu_pct": 100 * cpu / measured if measured else 0.0,
            "per_server_cpu_second": said / cpu if cpu else 0.0,
            "rtt_p50_ms": ms(self.roundTrips, 0.5),
            "rtt_p99_ms": ms(self.roundTrips, 0.99),
            "rtt_max_ms": (max(self.roundTrips) / 1e6) if self.roundTrips else None,
            "to_supporter_p50_ms": ms(self.toSupporter, 0.5),
            "to_supporter_p99_ms": ms(self.toSupporter, 0.99),
            "to_visitor_p50_ms": ms(self.toVisitor, 0.5),
            "to_visitor_p99_ms": ms(self.toVisitor, 0.99),
            "say_p50_ms": ms(self.sayTimes, 0.5),
            "say_p99_ms": ms(self.sayTimes, 0.99),
        }


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, int) or abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def summarise(name, f):
    probe = ""
    if f.get("probe_p50_ms") is not None:
        probe = (f"; server ping p50 {fmt(f['probe_p50_ms'])} ms, p99 {fmt(f['probe_p99_ms'])} ms, "
                 f"max {fmt(f['probe_max_ms'])} ms, stalls (s into the phase: from, to, "
                 f"pings, worst ms) {f['probe_stalls'][:6]}")
    cpu = (f"server {f['server_cpu_s']:.2f} CPU s ({f['server_cpu_pct']:.0f}%, "
           f"reactor thread {f['server_main_cpu_pct']:.0f}%), "
           f"generator {f['load_cpu_pct']:.0f}%, other {f['other_cpu_pct']:.0f}%; "
           f"waiting for a CPU: server {f['server_wait_pct']:.0f}%, "
           f"generator {f['load_wait_pct']:.0f}%{probe}")
    if name == "start":
        return (f"{f['chats']} chats in {f['seconds']:.1f} s = {f['per_second']:.0f}/s "
                f"(first tenth {fmt(f.get('first_tenth_per_second'))}/s, last tenth "
                f"{fmt(f.get('last_tenth_per_second'))}/s), start p50 {fmt(f['start_p50_ms'])} ms, "
                f"p99 {fmt(f['start_p99_ms'])} ms, {f['failed']} failed; server CPU ms per start "
                f"by tenth {f.get('cpu_ms_per_start_by_tenth')}; {cpu}")
    if name == "idle":
        return (f"{f['open_chats']} open chats for {f['seconds']:.0f} s, "
                f"{f['polls_answered']} polls answered ({f['empty_polls']} empty); {cpu}")
    if name.startswith("rate"):
        return (f"{f['per_second']:.0f} lines/s (offered {f['offered_per_second']:g}, "
                f"{f['skipped']} skipped), round trip p50 {fmt(f['rtt_p50_ms'])} ms, p99 "
                f"{fmt(f['rtt_p99_ms'])} ms, max {fmt(f['rtt_max_ms'])} ms "
                f"(visitor→supporter p50 {fmt(f['to_supporter_p50_ms'])} / p99 "
                f"{fmt(f['to_supporter_p99_ms'])} ms, supporter→visitor p50 "
                f"{fmt(f['to_visitor_p50_ms'])} / p99 {fmt(f['to_visitor_p99_ms'])} ms), "
                f"{f['lost']} lost, {f['say_errors']} errors; server "
                f"{f['window_server_cpu_pct']:.0f}% in the window; {cpu}")
    if name == "close":
        return (f"{f['closed']} of {f['open_before']} chats ended in {f['wall_seconds']:.1f} s, "
                f"server idle again {f['settle_seconds']:.1f} s later; {cpu}")
    return str(f)


def table(result, args):
    p = result["phases"]
    rows = []

    def row(label, value, unit=""):
        rows.append(f"{label + (' (' + unit + ')' if unit else ''):46}{fmt(value):>14}")

    s = p.get("start", {})
    row("chats opened", s.get("chats"))
    row("  failed to open", s.get("failed"))
    row("  answered by a supporter (greeting seen)", s.get("greeted"))
    row("chats started per second", s.get("per_second"), "/s")
    row("  over the first tenth", s.get("first_tenth_per_second"), "/s")
    row("  over the last tenth", s.get("last_tenth_per_second"), "/s")
    row("  chats per server CPU second", s.get("per_server_cpu_second"))
    byTenth = s.get("cpu_ms_per_start_by_tenth") or [None]
    row("  server CPU per start, first tenth", byTenth[0], "ms")
    row("  server CPU per start, last tenth", byTenth[-1], "ms")
    row("  /chat/start latency p50", s.get("start_p50_ms"), "ms")
    row("  /chat/start latency p99", s.get("start_p99_ms"), "ms")
    row("  start → greeting at the visitor p50", s.get("greeting_p50_ms"), "ms")
    row("  start → greeting at the visitor p99", s.get("greeting_p99_ms"), "ms")
    row("  server CPU (reactor thread)", s.get("server_cpu_pct"), "%")
    rows[-1] += f" ({fmt(s.get('server_main_cpu_pct'))})"
    i = p.get("idle", {})
    row("open chats, long polls kept open", i.get("open_chats"))
    row("  HTTP connections at the server", i.get("server_connections"))
    row("  server RSS with the supporters only", result.get("rss_before_kib", 0) / 1024, "MiB")
    row("  server RSS with all chats open", i.get("rss_kib", 0) / 1024, "MiB")
    row("  RSS per open chat", i.get("rss_per_chat_kib"), "KiB")
    row("  server CPU while idle", i.get("server_cpu_pct"), "%")
    row("  polls answered while idle (25 s timeouts)", i.get("polls_answered"))
    for rate in args.rates:
        r = p.get(f"rate_{rate:g}")
        if not r:
            continue
        row(f"lines at {rate:g}/s offered: sent", r.get("per_second"), "/s")
        row("  echoed / lost / errors", None)
        rows[-1] = rows[-1][:46] + f"{r['echoed']:>6} /{r['lost']:>3} /{r['say_errors']:>3}"
        row("  round trip p50", r.get("rtt_p50_ms"), "ms")
        row("  round trip p99", r.get("rtt_p99_ms"), "ms")
        row("  round trip max", r.get("rtt_max_ms"), "ms")
        row("  visitor → supporter p50", r.get("to_supporter_p50_ms"), "ms")
        row("  visitor → supporter p99", r.get("to_supporter_p99_ms"), "ms")
        row("  supporter → visitor p50", r.get("to_visitor_p50_ms"), "ms")
        row("  supporter → visitor p99", r.get("to_visitor_p99_ms"), "ms")
        row("  server CPU (reactor thread)", r.get("window_server_cpu_pct"), "%")
        rows[-1] += f" ({fmt(r.get('server_main_cpu_pct'))})"
        row("  server ping p50", r.get("probe_p50_ms"), "ms")
        row("  server ping p99", r.get("probe_p99_ms"), "ms")
        row("  server ping max", r.get("probe_max_ms"), "ms")
        row("  lines per server CPU second", r.get("per_server_cpu_second"))
        row("  generator CPU", r.get("load_cpu_pct"), "%")
    c = p.get("close", {})
    row("chats ended by the visitor", c.get("closed"))
    row("  server CPU for the ends", c.get("server_cpu_s"), "s")
    row("other processes' CPU, worst phase", result.get("other_cpu_max_pct"), "%")
    row("time kept from its CPU, worst phase", result.get("wait_max_pct"), "%")
    return "\n".join(rows)


def parseArguments(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="small run: 200 chats, 5 supporters, 10 s idle, 5 s at 50 lines/s (unless given)")
    p.add_argument("--chats", type=int, help="visitor chats to open (default 1000; quick 200)")
    p.add_argument("--supporters", type=int, help="supporters logged in over XMPP (default 20; quick 5)")
    p.add_argument("--concurrency", type=int, default=20,
                   help="chat starts in progress at once (default %(default)s)")
    p.add_argument("--idle", type=float,
                   help="seconds all chats sit idle, long-polling (default 30, above the server's "
                        "25 s poll timeout; quick 10)")
    p.add_argument("--rates", help="visitor lines per second in total, one phase each "
                                   "(default 50,200; quick 50)")
    p.add_argument("--duration", type=float, help="seconds per rate (default 20; quick 5)")
    p.add_argument("--probe-interval", type=float, default=0.02,
                   help="seconds between the XMPP pings that probe the server's responsiveness; "
                        "0: none (default %(default)s)")
    p.add_argument("--probe-stall-ms", type=float, default=20.0,
                   help="a probe slower than this counts towards a stall (default %(default)s)")
    p.add_argument("--port", type=int, default=15322, help="XMPP port of the server (default %(default)s)")
    p.add_argument("--http-port", type=int, default=15380,
                   help="HTTP port of the server (default %(default)s)")
    p.add_argument("--settle", type=float, default=60.0,
                   help="first wait up to this many seconds for the machine to be quiet (default %(default)s)")
    addMachineOptions(p, "visitors", "the phases")
    args = p.parse_args(argv)
    for name, full, small in [("chats", 1000, 200), ("supporters", 20, 5), ("idle", 30.0, 10.0),
                              ("rates", "50,200", "50"), ("duration", 20.0, 5.0)]:
        if getattr(args, name) is None:
            setattr(args, name, small if args.quick else full)
    args.rates = [float(r) for r in str(args.rates).split(",") if r.strip()]
    if args.supporters < 1 or args.chats < 1:
        p.error("--chats and --supporters must be at least 1")
    # The server refuses a visitor's lines beyond RATE_MESSAGES per
    # RATE_WINDOW seconds; the visitors take turns, so each writes at most
    # rate / chats lines per second.
    from openmessenger.visitorchat import service

    limit = getattr(service, "RATE_MESSAGES", 0) / getattr(service, "RATE_WINDOW", 1) or float("inf")
    for rate in args.rates:
        if rate / args.chats > 0.9 * limit:
            p.error(f"{rate:g} lines/s over {args.chats} chats is {rate / args.chats:.2f} per chat and "
                    f"second, too close to the server's limit of {limit:.2f}: use more --chats")
    for port in (args.port, args.http_port):
        if not 1024 <= port < 32767:
            p.error("ports must be within 1024..32766 (below the ephemeral range)")
    return args


def main(argv=None):
    args = parseArguments(argv)
    log = lambda text: print(text, flush=True)

    hard = raiseFileLimit()
    if 2 * args.chats + args.supporters + 100 > hard:
        raise SystemExit(f"{args.chats} chats need two connections each; the file descriptor "
                         f"limit is {hard}")
    prepareMachine(args)

    when = datetime.datetime.now(datetime.timezone.utc)
    log(f"Visitor chat benchmark {when:%Y-%m-%d %H:%M} UTC on {machine()}")
    log(f"{args.chats} chats ({args.concurrency} starts at a time), {args.supporters} supporters, "
        f"{args.idle:g} s idle, lines at {', '.join(f'{r:g}' for r in args.rates)}/s for "
        f"{args.duration:g} s each; server on CPU {args.server_cpu}, generator on CPU {args.load_cpu}")
    waitQuiet(args.settle, log)
    workdir = tempfile.mkdtemp(prefix="bench-visitors-")
    server = servers.OpenMessenger(workdir, args.port, args.server_cpu, args.supporters,
                                   http_port=args.http_port)
    result = None
    try:
        if not servers.portFree(args.http_port):
            raise SystemExit(f"port {args.http_port} is in use; choose another with --http-port")
        server.prepare()
        company = None
        for index in range(1, args.supporters + 1):
            company, _ = server.addSupporter(index)
        log(f"  {args.supporters} accounts made support staff of company {company!r} in {workdir}")
        server.start()
        for _ in range(100):
            if servers.listening(args.http_port):
                break
            time.sleep(0.1)
        log(f"  {server.version()} running as pid {server.pid}")
        result = asyncio.run(Bench(args, server, company, log).run())
        result["server_alive_at_end"] = server.alive()
        if not server.alive():
            log(f"  the server died during the run; see {server.logfile}")
    finally:
        server.stop()
        for port in (5222, 5280):
            problems = servers.wildcardListeners(port)
            if problems:
                log(f"  WARNING: something listens on port {port} on all interfaces: {problems}")
        for port in (args.port, args.http_port):
            if not servers.portFree(port):
                log(f"  WARNING: port {port} is still in use after the server stopped")
        if args.keep:
            log(f"  kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    log("\n" + table(result, args))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"date": when.isoformat(), "machine": machine(), "arguments": vars(args),
                       "result": result}, f, indent=2)
        log(f"\nfigures written to {args.json}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as e:
        raise SystemExit(f"interrupted ({e}); server stopped")
