"""
The load generator: many XMPP client sessions over loopback in one asyncio
event loop, written on raw sockets (no XML library, no XMPP library) so
that one process can keep 10,000 sessions and still saturate a server.

Each session logs in as a client does (RFC 6120/6121): stream header,
SASL SCRAM-SHA-1, stream restart, resource binding, the RFC 3921 session,
initial presence, and an XEP-0199 ping whose answer marks the login done.
Replies are recognised with small regular expressions on the byte stream,
which is enough for the handful of server answers a login needs; once
logged in, an idle session only watches for the end of its stream.

Messages go between pairs of sessions; the body carries the send time (a
monotonic nanosecond clock of this process), so the receiver knows each
message's latency.
"""

import asyncio
import base64
import hashlib
import hmac
import os
import re
import ssl
import time

from servers import DOMAIN, PASSWORD, username

NS_STREAM_HEADER = (
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' to='{domain}' "
    "version='1.0'>"
)
HEADER = NS_STREAM_HEADER.format(domain=DOMAIN).encode()
FOOTER = b"</stream:stream>"

FEATURES = re.compile(rb"</stream:features>|<stream:features\s*/>")
CHALLENGE = re.compile(rb"<challenge\b[^>]*>([^<]*)</challenge>")
PROCEED = re.compile(rb"<proceed\b[^>]*?(?:/>|>\s*</proceed>)")
SUCCESS = re.compile(rb"<success\b[^>]*?(?:/>|>([^<]*)</success>)")
IQ_BIND = re.compile(rb"<iq\b[^>]*\bid=['\"]bind['\"][^>]*>.*?</iq>", re.S)
IQ_PING = re.compile(rb"<iq\b[^>]*\bid=['\"]ping['\"][^>]*?(?:/>|>.*?</iq>)", re.S)
JID = re.compile(rb"<jid>([^<]*)</jid>")
# Anything that ends a login attempt.
FAILED = re.compile(
    rb"<failure\b.*?(?:/>|</failure>)|<stream:error>.*?</stream:error>|</stream:stream>"
    rb"|<iq\b[^>]*\btype=['\"]error['\"]",
    re.S,
)
ENDED = (b"</stream:stream>", b"<stream:error")
BODY = re.compile(rb"<body>([0-9]+)</body>")
# A server's XEP-0199 ping to the client (OpenMessenger checks quiet
# connections for dead peers); answered like any client does.
PING_IQ = re.compile(rb"<iq\b([^>]*)>\s*<ping\b")
ATTRIBUTE = re.compile(rb"\b(id|from)=(?:'([^']*)'|\"([^\"]*)\")")


class LoginFailed(Exception):
    pass


class Scram:
    """
    Client side of SCRAM-SHA-1 (RFC 5802).  The salted password is derived
    once per (salt, iteration count) and kept, as clients may do: every
    account here has the same password and salt, so the generator does not
    spend 4096 PBKDF2 rounds per login.  The server's work is unchanged.
    """

    _keys = {}

    def __init__(self, user, password=PASSWORD):
        self.password = password.encode()
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first = f"n={user},r={self.nonce}"

    def initial(self):
        return b"n,," + self.first.encode()

    def respond(self, serverFirst):
        text = serverFirst.decode()
        parts = dict(item.split("=", 1) for item in text.split(","))
        nonce, salt, count = parts["r"], base64.b64decode(parts["s"]), int(parts["i"])
        if not nonce.startswith(self.nonce):
            raise LoginFailed("server nonce does not extend ours")
        key = (self.password, salt, count)
        keys = self._keys.get(key)
        if keys is None:
            salted = hashlib.pbkdf2_hmac("sha1", self.password, salt, count)
            clientKey = hmac.new(salted, b"Client Key", "sha1").digest()
            keys = self._keys[key] = (
                clientKey,
                hashlib.sha1(clientKey).digest(),
                hmac.new(salted, b"Server Key", "sha1").digest(),
            )
        clientKey, storedKey, serverKey = keys
        without = f"c=biws,r={nonce}"
        message = f"{self.first},{text},{without}".encode()
        signature = hmac.new(storedKey, message, "sha1").digest()
        proof = bytes(a ^ b for a, b in zip(clientKey, signature))
        self.expected = b"v=" + base64.b64encode(
            hmac.new(serverKey, message, "sha1").digest()
        )
        return f"{without},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, serverFinal):
        if serverFinal.strip() != self.expected:
            raise LoginFailed("wrong server signature")


class Session(asyncio.Protocol):
    """
    One client connection.  During login, C{expect} waits for a pattern in
    the received bytes; afterwards incoming data goes to C{onData}.
    """

    transport = None
    peer = None  # the pair partner during the message phases

    def __init__(self, load, index):
        self.load = load
        self.index = index
        self.user = username(index)
        self.bare = f"{self.user}@{DOMAIN}"
        self.buffer = b""
        self.waiting = None  # (pattern, future) during login
        self.loggedIn = False
        self.closing = False
        self.lost = asyncio.get_running_loop().create_future()
        self.onData = self.loginData
        self.sent = 0
        self.received = 0
        self.answered = set()

    # asyncio.Protocol

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.onData(data)

    def connection_lost(self, exc):
        if self.waiting is not None and not self.waiting[1].done():
            self.waiting[1].set_exception(LoginFailed("connection closed"))
        if self.loggedIn and not self.closing:
            self.load.dropped += 1
        if not self.lost.done():
            self.lost.set_result(None)

    # Login

    def loginData(self, data):
        self.buffer += data
        self.check()

    def check(self):
        if self.waiting is None:
            return
        pattern, future = self.waiting
        match = pattern.search(self.buffer)
        if match is not None:
            self.buffer = self.buffer[match.end():]
            self.waiting = None
            future.set_result(match)
            return
        failure = FAILED.search(self.buffer)
        if failure is not None:
            self.waiting = None
            future.set_exception(LoginFailed(failure.group(0)[:300].decode(errors="replace")))

    async def expect(self, pattern):
        future = asyncio.get_running_loop().create_future()
        self.waiting = (pattern, future)
        self.check()
        return await future

    async def login(self, host, port, tls=None, resource="bench"):
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: self, host, port)
        write = self.transport.write
        write(HEADER)
        await self.expect(FEATURES)
        if tls is not None:
            write(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            await self.expect(PROCEED)
            self.buffer = b""
            self.transport = await loop.start_tls(
                self.transport, self, tls, server_hostname=DOMAIN
            )
            write = self.transport.write
            write(HEADER)
            await self.expect(FEATURES)
        scram = Scram(self.user)
        write(
            b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>"
            + base64.b64encode(scram.initial())
            + b"</auth>"
        )
        match = await self.expect(CHALLENGE)
        response = scram.respond(base64.b64decode(match.group(1)))
        write(
            b"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
            + base64.b64encode(response)
            + b"</response>"
        )
        match = await self.expect(SUCCESS)
        scram.verify(base64.b64decode(match.group(1) or b""))
        self.buffer = b""
        write(HEADER)
        await self.expect(FEATURES)
        write(
            b"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
            b"<resource>" + resource.encode() + b"</resource></bind></iq>"
        )
        match = await self.expect(IQ_BIND)
        jid = JID.search(match.group(0))
        if jid is None or b"type='result'" not in match.group(0) and b'type="result"' not in match.group(0):
            raise LoginFailed("bind failed: " + match.group(0)[:300].decode(errors="replace"))
        self.full = jid.group(1).decode()
        write(
            b"<iq type='set' id='sess'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
            b"<presence/>"
            b"<iq type='get' id='ping' to='" + DOMAIN.encode() + b"'>"
            b"<ping xmlns='urn:xmpp:ping'/></iq>"
        )
        match = await self.expect(IQ_PING)
        if b"result" not in match.group(0):
            raise LoginFailed("ping failed: " + match.group(0)[:300].decode(errors="replace"))
        self.loggedIn = True
        self.buffer = b""
        self.onData = self.idleData

    # Logged in

    def idleData(self, data):
        # Whatever an idle session receives (presence of its own resource,
        # say) is dropped, except pings (answered) and the end of the stream.
        tail = self.buffer + data
        self.buffer = tail[-512:]
        if b"urn:xmpp:ping" in tail:
            self.answerPings(tail)
        if ENDED[0] in tail or ENDED[1] in tail:
            if not self.closing:
                self.load.streamErrors += 1
                self.load.noteError(tail[-300:])
            self.buffer = b""

    def answerPings(self, data):
        for match in PING_IQ.finditer(data):
            attributes = {k: a or b for k, a, b in ATTRIBUTE.findall(match.group(1))}
            if b"get" not in match.group(1) or b"id" not in attributes:
                continue
            if attributes[b"id"] in self.answered:
                continue  # seen in the kept tail already
            self.answered.add(attributes[b"id"])
            to = attributes.get(b"from", DOMAIN.encode())
            self.transport.write(
                b"<iq type='result' id='" + attributes[b"id"] + b"' to='" + to + b"'/>"
            )
            self.load.pingsAnswered += 1

    def messageData(self, data):
        buffer = self.buffer + data if self.buffer else data
        if b"urn:xmpp:ping" in data:
            self.answerPings(buffer)
        end = buffer.rfind(b"</message>")
        if end < 0:
            self.buffer = buffer if len(buffer) < 1 << 20 else b""
            return
        end += 10
        chunk = buffer[:end]
        self.buffer = buffer[end:]
        now = time.perf_counter_ns()
        stamps = BODY.findall(chunk)
        if b"'error'" in chunk or b'"error"' in chunk:
            self.load.messageErrors += chunk.count(b"</message>") - len(stamps) or 1
            self.load.noteError(chunk[:300])
        count = len(stamps)
        if not count:
            return
        self.received += count
        latencies = self.load.latencies
        for stamp in stamps:
            latencies.append(now - int(stamp))
        if self.load.closedLoop:
            self.peer.sendMessages(count)

    def prepareMessages(self, address):
        to = self.peer.bare if address == "bare" else self.peer.full
        self.messagePrefix = (
            f"<message type='chat' to='{to}' id='".encode()
        )
        self.messageId = 0

    def sendMessages(self, count):
        """
        Send C{count} chat messages to the pair partner in one write.
        """
        stamp = b"'><body>%d</body></message>" % time.perf_counter_ns()
        prefix = self.messagePrefix
        first = self.messageId
        self.messageId = first + count
        self.sent += count
        self.transport.write(
            b"".join(prefix + b"%d" % n + stamp for n in range(first, first + count))
        )

    def close(self):
        self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(FOOTER)


def percentile(values, fraction):
    if not values:
        return None
    values = sorted(values)
    index = min(len(values) - 1, max(0, int(round(fraction * (len(values) - 1)))))
    return values[index]


class Load:
    """
    The sessions against one server, and the phases run on them.  Each
    phase returns a dict of figures; C{probe} is called around phases to
    read the server's CPU time and RSS.
    """

    def __init__(self, host, port, serverCPU=lambda: 0.0, tls=False):
        """
        @param serverCPU: returns the server's CPU seconds so far, so that
            message phases can relate messages to the server's CPU time in
            exactly their measured window.
        """
        self.host = host
        self.port = port
        self.serverCPU = serverCPU
        self.tls = None
        if tls:
            # STARTTLS; the servers' certificates are self-signed.
            self.tls = ssl.create_default_context()
            self.tls.check_hostname = False
            self.tls.verify_mode = ssl.CERT_NONE
        self.sessions = []
        self.dropped = 0
        self.streamErrors = 0
        self.messageErrors = 0
        self.pingsAnswered = 0
        self.errors = []
        self.latencies = []
        self.closedLoop = False

    def noteError(self, text):
        if len(self.errors) < 5:
            self.errors.append(bytes(text).decode(errors="replace"))

    async def loginAll(self, count, concurrency, timeout):
        """
        Log C{count} sessions in, at most C{concurrency} at a time.
        """
        next_ = iter(range(1, count + 1))
        times = []
        failures = []
        deadline = time.monotonic() + timeout

        async def worker():
            for index in next_:
                if time.monotonic() > deadline:
                    failures.append("phase timeout")
                    return
                session = Session(self, index)
                started = time.perf_counter()
                try:
                    await asyncio.wait_for(session.login(self.host, self.port, self.tls), 60)
                except (LoginFailed, OSError, asyncio.TimeoutError) as e:
                    failures.append(f"{session.user}: {type(e).__name__}: {e}")
                    if session.transport is not None:
                        session.transport.abort()
                    continue
                times.append(time.perf_counter() - started)
                self.sessions.append(session)

        started = time.perf_counter()
        cpu0 = self.serverCPU()
        await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
        elapsed = time.perf_counter() - started
        cpu = self.serverCPU() - cpu0
        self.sessions.sort(key=lambda s: s.index)
        return {
            "logins": len(times),
            "failed": len(failures),
            "failures": failures[:5],
            "seconds": elapsed,
            "per_second": len(times) / elapsed if elapsed else 0.0,
            "per_server_cpu_second": len(times) / cpu if cpu else 0.0,
            "login_p50_ms": 1000 * (percentile(times, 0.5) or 0),
            "login_p99_ms": 1000 * (percentile(times, 0.99) or 0),
        }

    def pairUp(self, pairs, address):
        if len(self.sessions) < 2 * pairs:
            raise RuntimeError(f"{pairs} pairs need {2 * pairs} sessions; {len(self.sessions)} logged in")
        active = self.sessions[: 2 * pairs]
        for a, b in zip(active[0::2], active[1::2]):
            a.peer, b.peer = b, a
        for session in active:
            session.prepareMessages(address)
            session.buffer = b""
            session.onData = session.messageData
        return active

    def unpair(self, active):
        for session in active:
            session.onData = session.idleData
            session.buffer = b""

    async def drain(self, active, timeout):
        """
        Wait until every message sent has arrived, or C{timeout}.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(s.sent for s in active) <= sum(s.received for s in active):
                return
            await asyncio.sleep(0.05)

    def _messageFigures(self, active, received0, elapsed, cpu):
        received = sum(s.received for s in active) - received0
        latencies = self.latencies
        return {
            "messages": received,
            "seconds": elapsed,
            "per_second": received / elapsed if elapsed else 0.0,
            "window_server_cpu_s": cpu,
            "per_server_cpu_second": received / cpu if cpu else 0.0,
            "p50_ms": (percentile(latencies, 0.5) or 0) / 1e6,
            "p99_ms": (percentile(latencies, 0.99) or 0) / 1e6,
            "max_ms": (max(latencies) if latencies else 0) / 1e6,
            "errors": self.messageErrors,
        }

    async def saturate(self, pairs, window, duration, address, warmup=1.0):
        """
        Closed loop: each session keeps C{window} messages in flight to its
        partner, a new one sent for each that arrives.  Figures count the
        C{duration} seconds after a C{warmup}.
        """
        active = self.pairUp(pairs, address)
        self.messageErrors = 0
        self.closedLoop = True
        for session in active:
            session.sendMessages(window)
        await asyncio.sleep(warmup)
        self.latencies = []
        received0 = sum(s.received for s in active)
        cpu0 = self.serverCPU()
        started = time.perf_counter()
        await asyncio.sleep(duration)
        elapsed = time.perf_counter() - started
        cpu = self.serverCPU() - cpu0
        figures = self._messageFigures(active, received0, elapsed, cpu)
        self.closedLoop = False
        await self.drain(active, 10)
        figures["lost"] = sum(s.sent for s in active) - sum(s.received for s in active)
        figures["in_flight"] = window * len(active)
        self.unpair(active)
        return figures

    async def fixedRate(self, pairs, rate, duration, address):
        """
        Open loop: C{rate} messages per second in total, spread over the
        pairs' sessions in turn, sent in ticks of 5 ms.
        """
        active = self.pairUp(pairs, address)
        self.messageErrors = 0
        self.closedLoop = False
        self.latencies = []
        received0 = sum(s.received for s in active)
        cpu0 = self.serverCPU()
        tick = 0.005
        owed = 0.0
        turn = 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        end = started + duration
        nextTick = started
        while True:
            now = loop.time()
            if now >= end:
                break
            owed += rate * tick
            whole = int(owed)
            owed -= whole
            # Round robin: one message each to as many sessions as owed.
            while whole > 0:
                n = min(whole, len(active))
                for i in range(n):
                    active[(turn + i) % len(active)].sendMessages(1)
                turn = (turn + n) % len(active)
                whole -= n
            nextTick += tick
            await asyncio.sleep(max(0.0, nextTick - loop.time()))
        await self.drain(active, 10)
        elapsed = loop.time() - started
        figures = self._messageFigures(active, received0, duration, self.serverCPU() - cpu0)
        figures["offered_per_second"] = rate
        figures["lost"] = sum(s.sent for s in active) - sum(s.received for s in active)
        figures["drain_seconds"] = elapsed - duration
        self.unpair(active)
        return figures

    async def logoutAll(self, timeout):
        """
        Close every stream (client sends its stream end, the server answers
        and closes the connection); figures until the last connection ended.
        """
        started = time.perf_counter()
        for session in self.sessions:
            session.close()
        pending = [s.lost for s in self.sessions]
        done, notDone = await asyncio.wait(pending, timeout=timeout) if pending else ((), ())
        elapsed = time.perf_counter() - started
        for session in self.sessions:
            if session.transport is not None and not session.transport.is_closing():
                session.transport.abort()
        return {"closed": len(done), "open_after_timeout": len(notDone), "seconds": elapsed}

    def abortAll(self):
        for session in self.sessions:
            session.closing = True
            if session.transport is not None:
                session.transport.abort()
