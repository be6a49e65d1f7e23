"""
Tests that drive real desktop XMPP clients (Psi, Profanity) against the real
daemon.  Run them with C{make test-clients}.

This module holds the helpers they share: waiting for a condition, reading
the daemon's C{--verbose} traffic log back into stanzas, a scripted contact
(slixmpp in a thread of its own), a website visitor (the visitor chat's JSON
API), a terminal client in tmux, an X server for Psi, Psi's profile and
screenshots.
"""

import ast
import asyncio
import base64
import ctypes
import json
import os
import re
import select
import shutil
import signal
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import pytest

#: How long any one thing a client does may take, in seconds.
DEADLINE = 60

#: The longest a waiting test goes without checking its condition again, in
#: seconds, when nothing it watches changes (what a window shows on the X
#: server has no event it could wait for).
RECHECK = 1.0

STREAMS = "http://etherx.jabber.org/streams"
CLIENT = "jabber:client"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
BIND = "urn:ietf:params:xml:ns:xmpp-bind"
ROSTER = "jabber:iq:roster"
VCARD = "vcard-temp"


def requireTools(*names, hint="apt-get install psi profanity xvfb tmux xdotool imagemagick"):
    """
    Skip the test when one of the programs C{names} is not installed, or
    fail it under C{CI=true}, where the clients must be there.
    """
    missing = [name for name in names if shutil.which(name) is None]
    if not missing:
        return
    reason = f"not installed: {', '.join(missing)} ({hint})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


class Changes:
    """
    What a waiting test wakes up for: a file written in a watched directory
    (the daemon's traffic log, via inotify) or a L{poke} from a helper
    thread (the visitor's events, the scripted contact's messages).
    """

    IN_MODIFY, IN_CREATE, IN_MOVED_TO = 0x2, 0x100, 0x80

    def __init__(self):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.inotify = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.inotify < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.wakeRead, self.wakeWrite = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def watch(self, directory):
        mask = self.IN_MODIFY | self.IN_CREATE | self.IN_MOVED_TO
        if self.libc.inotify_add_watch(self.inotify, os.fsencode(directory), mask) < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {directory}")

    def poke(self):
        try:
            os.write(self.wakeWrite, b"!")
        except BlockingIOError:
            pass  # a wake-up is pending already

    def wait(self, timeout):
        """
        Return when something changed, or after C{timeout} seconds.
        """
        readable, _, _ = select.select([self.inotify, self.wakeRead], [], [], timeout)
        for fd in readable:
            try:
                while os.read(fd, 65536):
                    pass
            except BlockingIOError:
                pass


CHANGES = Changes()


def waitFor(condition, what, timeout=DEADLINE, diagnose=None):
    """
    Check C{condition} whenever something changes (L{CHANGES}), at least
    every L{RECHECK} seconds, until it returns something true, and return
    that.

    @param what: what is awaited, for the failure message.
    @param diagnose: a callable giving more text for the failure message.
    @raise AssertionError: when C{timeout} seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        left = deadline - time.monotonic()
        if left <= 0:
            detail = f"\n{diagnose()}" if diagnose is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        CHANGES.wait(min(left, RECHECK))


def uniqueText(prefix):
    """
    A message body that no earlier run of the test could have produced.
    """
    return f"{prefix} {uuid.uuid4().hex[:8]}"


# The daemon's traffic log.

_TRAFFIC = re.compile(r"port=(\d+)\) (RECV|SEND) (b(['\"]).*\4)\s*$")
_HEADER = re.compile(r"(?:<\?xml[^>]*\?>\s*)?(?=<stream:stream[\s>])")


def parseStream(data):
    """
    The top-level elements (stanzas, nonzas) of one direction of a client
    connection, across its stream restarts (STARTTLS, SASL).

    @param data: the bytes, as the daemon logged them after TLS.
    @return: a list of L{ET.Element}, tags in Clark notation.
    """
    elements = []
    pieces = [p for p in _HEADER.split(data.decode("utf-8", "replace")) if p.startswith("<stream:stream")]
    for number, piece in enumerate(pieces, 1):
        parser = ET.XMLPullParser(events=("start", "end"))
        depth = 0
        try:
            parser.feed(piece)
            for event, element in parser.read_events():
                if event == "start":
                    depth += 1
                else:
                    depth -= 1
                    if depth == 1:
                        elements.append(element)
        except ET.ParseError:
            # Only the newest stream may end in the middle of a write;
            # anything else would hide what came after it from the checks.
            if number != len(pieces):
                raise
    return elements


def stanzasNamed(elements, name, attributes):
    """
    The elements called C{name} in jabber:client whose attributes include
    C{attributes}.
    """
    return [
        e for e in elements
        if e.tag == f"{{{CLIENT}}}{name}" and all(e.get(k) == v for k, v in attributes.items())
    ]


class Connection:
    """
    One client connection as the daemon saw it.

    @ivar port: the client's TCP port.
    @ivar incoming: the bytes the client sent (after TLS).
    @ivar outgoing: the bytes the daemon sent to the client (before TLS).
    @ivar received: the elements the client sent.
    @ivar sent: the elements the daemon sent to the client.
    """

    def __init__(self, port, incoming, outgoing):
        self.port = port
        self.incoming = incoming
        self.outgoing = outgoing
        self.received = parseStream(incoming)
        self.sent = parseStream(outgoing)

    @property
    def jid(self):
        """
        The full JID the daemon bound, or C{None} before that.
        """
        for element in self.sent:
            if element.tag == f"{{{CLIENT}}}iq" and element.get("type") == "result":
                bound = element.find(f"{{{BIND}}}bind/{{{BIND}}}jid")
                if bound is not None:
                    return bound.text
        return None

    def requests(self):
        """
        The iq get/set requests the client sent.
        """
        return [
            e for e in self.received
            if e.tag == f"{{{CLIENT}}}iq" and e.get("type") in ("get", "set")
        ]

    def answer(self, request):
        """
        The daemon's (or the addressee's) result or error for C{request},
        or C{None}.
        """
        for e in self.sent:
            if (e.tag == f"{{{CLIENT}}}iq" and e.get("id") == request.get("id")
                    and e.get("type") in ("result", "error")):
                return e
        return None

    def unanswered(self):
        """
        The client's iq requests that got no answer (yet).
        """
        return [r for r in self.requests() if self.answer(r) is None]

    def sentStanzas(self, name, **attributes):
        """
        The elements called C{name} in jabber:client the daemon sent, whose
        attributes include C{attributes}.
        """
        return stanzasNamed(self.sent, name, attributes)

    def receivedStanzas(self, name, **attributes):
        """
        The same of what the client sent.
        """
        return stanzasNamed(self.received, name, attributes)

    def rosterResult(self):
        """
        The daemon's answer to the client's roster get, or C{None}.
        """
        for request in self.requests():
            if request.get("type") == "get" and request.find(f"{{{ROSTER}}}query") is not None:
                return self.answer(request)
        return None

    def initialPresence(self):
        """
        The client's first available presence to the server, or C{None}.
        """
        for e in self.receivedStanzas("presence"):
            if e.get("type") is None and e.get("to") is None:
                return e
        return None

    def messagesSent(self, body):
        """
        The messages with C{body} the daemon delivered to this client.
        """
        return [e for e in self.sentStanzas("message") if e.findtext(f"{{{CLIENT}}}body") == body]

    def messagesReceived(self, body):
        """
        The messages with C{body} this client sent.
        """
        return [e for e in self.receivedStanzas("message") if e.findtext(f"{{{CLIENT}}}body") == body]

    def problems(self, unimplemented):
        """
        What the daemon sent this client that a user would see as a fault:
        stream errors, SASL/TLS failures, and stanza errors other than
        C{service-unavailable} for an iq in one of the C{unimplemented}
        namespaces.

        @return: a list of text lines, empty if all is well.
        """
        requests = {r.get("id"): r for r in self.requests()}
        found = []
        for e in self.sent:
            text = ET.tostring(e, encoding="unicode")
            if e.tag == f"{{{STREAMS}}}error" or e.tag.endswith("}failure"):
                found.append(text)
            elif e.get("type") == "error":
                request = requests.get(e.get("id"))
                payload = list(request) if request is not None else []
                namespace = payload[0].tag[1:].partition("}")[0] if payload else None
                unavailable = e.find(f"{{{CLIENT}}}error/{{{STANZAS}}}service-unavailable")
                if not (e.tag == f"{{{CLIENT}}}iq" and unavailable is not None
                        and namespace in unimplemented):
                    found.append(text)
        return found

    def transcript(self, limit=60):
        """
        The last stanzas both ways, for failure messages.
        """
        lines = [f"C: {ET.tostring(e, encoding='unicode')}" for e in self.received]
        lines += [f"S: {ET.tostring(e, encoding='unicode')}" for e in self.sent]
        return "\n".join(lines[-limit:])


class Traffic:
    """
    All client connections in a daemon's C{--verbose} log.
    """

    def __init__(self, log):
        incoming, outgoing, order = {}, {}, []
        for line in log.splitlines():
            match = _TRAFFIC.search(line)
            if match is None:
                continue
            port, direction, data = match.group(1), match.group(2), ast.literal_eval(match.group(3))
            if port not in incoming:
                order.append(port)
                incoming[port], outgoing[port] = b"", b""
            if direction == "RECV":
                incoming[port] += data
            else:
                outgoing[port] += data
        self.connections = [Connection(p, incoming[p], outgoing[p]) for p in order]

    def of(self, fullJID):
        """
        The connection on which C{fullJID} was bound, or C{None}.
        """
        for connection in self.connections:
            if connection.jid == fullJID:
                return connection
        return None


#: What the daemon's log says when something went wrong inside it.
_FAILURES = ("Unhandled Error", "Traceback (most recent call last)", "#error]", "#critical]")


def serverFailures(daemon):
    """
    The lines of the daemon's log that report an error inside it (an
    unhandled exception, a logged failure).
    """
    return [line for line in daemon.log().splitlines() if any(m in line for m in _FAILURES)]


def traffic(daemon):
    """
    The traffic so far of a daemon started with C{verbose=True}.
    """
    return Traffic(daemon.log())


# A scripted contact.


class Contact:
    """
    An XMPP account driven by slixmpp in a thread (with its own asyncio loop)
    so that synchronous tests can use it while a real client runs.

    @ivar messages: the C{(from, body)} of every chat message received.
    """

    def __init__(self, jid, password, port, certificate):
        import slixmpp

        self.jid = jid
        self.messages = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=f"contact {jid}", daemon=True)
        self.thread.start()
        self.sessionStarted = threading.Event()
        context = ssl.create_default_context(cafile=str(certificate))

        def build():
            client = slixmpp.ClientXMPP(jid, password, loop=self.loop, ssl_context=context)
            # The port is the STARTTLS one: no direct TLS attempt first.
            client.enable_direct_tls = False
            client.auto_authorize = True
            # befriend() subscribes back itself, one step at a time.
            client.auto_subscribe = False
            client.add_event_handler("session_start", self._sessionStart)
            client.add_event_handler("message", self._message)
            client.connect("127.0.0.1", port)
            return client

        self.client = self.call(build)
        if not self.sessionStarted.wait(DEADLINE):
            self.close()
            raise AssertionError(f"{jid} could not log in within {DEADLINE}s")

    async def _sessionStart(self, event):
        await self.client.get_roster()
        self.client.send_presence()
        self.sessionStarted.set()

    def _message(self, message):
        if message["type"] in ("chat", "normal") and message["body"]:
            self.messages.append((str(message["from"]), message["body"]))
            CHANGES.poke()

    def call(self, function, *args):
        """
        Run C{function(*args)} in the contact's loop and return its result.
        """

        async def run():
            return function(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(DEADLINE)

    @property
    def fullJID(self):
        return self.call(lambda: str(self.client.boundjid.full))

    def subscription(self, jid):
        """
        The subscription state with C{jid} in this contact's roster.
        """
        return self.call(lambda: self.client.client_roster[jid]["subscription"])

    def resources(self, jid):
        """
        The resources of C{jid} that this contact sees available, sorted.
        """
        return self.call(lambda: sorted(self.client.client_roster[jid].resources))

    def befriend(self, other):
        """
        Exchange presence subscriptions with the L{Contact} C{other} (both
        accept requests automatically), one direction after the other so
        that every step is awaited, and wait until both rosters say
        C{both}.
        """
        self.call(lambda: self.client.send_presence_subscription(pto=other.jid))
        waitFor(
            lambda: self.subscription(other.jid) == "to" and other.subscription(self.jid) == "from",
            f"{self.jid} to be subscribed to {other.jid}",
        )
        other.call(lambda: other.client.send_presence_subscription(pto=self.jid))
        waitFor(
            lambda: self.subscription(other.jid) == "both" and other.subscription(self.jid) == "both",
            f"{self.jid} and {other.jid} to be subscribed to each other",
        )

    def send(self, to, body):
        """
        Send a chat message.
        """
        self.call(lambda: self.client.send_message(mto=to, mbody=body, mtype="chat"))

    def received(self, body):
        """
        The sender of the first received message with C{body}, or C{None}.
        """
        for sender, text in list(self.messages):
            if text == body:
                return sender
        return None

    def vCard(self, jid):
        """
        Ask for C{jid}'s vCard (XEP-0054) and return the C{vcard-temp}
        C{vCard} element of the result.

        @raise AssertionError: when the answer is an error or none comes
            within L{DEADLINE} seconds.
        """
        import slixmpp.exceptions

        async def ask():
            iq = self.client.make_iq_get(ito=jid)
            iq.append(ET.Element(f"{{{VCARD}}}vCard"))
            try:
                result = await iq.send(timeout=DEADLINE)
            except slixmpp.exceptions.IqError as e:
                raise AssertionError(f"{jid}'s vCard: {e.iq}") from None
            except slixmpp.exceptions.IqTimeout:
                raise AssertionError(f"{jid}'s vCard: no answer within {DEADLINE}s") from None
            return result.xml.find(f"{{{VCARD}}}vCard")

        return asyncio.run_coroutine_threadsafe(ask(), self.loop).result(DEADLINE + 5)

    def close(self):
        """
        Log out (waiting briefly for the server's stream close), finish the
        client's tasks and stop the thread.
        """
        async def shutdown():
            client = getattr(self, "client", None)
            if client is not None and client.transport is not None:
                try:
                    await asyncio.wait_for(client.disconnect(wait=2), 5)
                except Exception:
                    client.abort()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        if self.loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(15)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(15)
        if not self.thread.is_alive():
            self.loop.close()


# A website visitor.


class WebVisitor:
    """
    A visitor of the web chat without a browser: the visitor chat's JSON API
    (C{/chat/start}, C{/chat/api/<token>/...}) over urllib, with a thread
    that fetches the chat's events the way the page does (long polling), so
    the server sees the visitor's page open.

    @ivar events: every event of the chat so far, in order.
    @ivar ended: set once the server says the chat has ended.
    """

    def __init__(self, httpPort):
        self.base = f"http://127.0.0.1:{httpPort}"
        self.token = None
        self.events = []
        self.ended = threading.Event()
        self.errors = []
        self.thread = None

    def post(self, path, body):
        """
        POST C{body} as JSON; return the status and the decoded answer.
        """
        request = urllib.request.Request(
            self.base + path, json.dumps(body).encode("utf-8"), {"content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=DEADLINE) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def start(self, company, name, parameters=(), email=""):
        """
        Start a chat (the name form); fail unless a supporter takes it.
        """
        status, answer = self.post("/chat/start", {
            "company": company, "name": name, "email": email,
            "parameters": [list(pair) for pair in parameters],
        })
        assert status == 200 and answer.get("available") and answer.get("token"), (status, answer)
        self.token = answer["token"]
        self.thread = threading.Thread(target=self._poll, name=f"visitor {name}", daemon=True)
        self.thread.start()

    def _poll(self):
        after = 0
        while not self.ended.is_set():
            url = f"{self.base}/chat/api/{self.token}/events?after={after}"
            try:
                # The server answers within 25 seconds, with or without news.
                with urllib.request.urlopen(url, timeout=DEADLINE) as response:
                    answer = json.load(response)
            except (OSError, ValueError) as e:
                self.errors.append(repr(e))
                # Like the page: try again a little later, unless stopped.
                self.ended.wait(1)
                continue
            for event in answer["events"]:
                self.events.append(event)
                after = event["seq"]
            if answer["ended"]:
                self.ended.set()
            CHANGES.poke()

    def act(self, action, body):
        status, answer = self.post(f"/chat/api/{self.token}/{action}", body)
        assert status == 200 and answer.get("ok"), (action, status, answer)

    def say(self, text):
        self.act("say", {"text": text})

    def typing(self, composing=True):
        self.act("typing", {"composing": composing})

    def close(self):
        """
        "End chat".
        """
        self.act("close", {})

    def fromSupporter(self, kind="message"):
        """
        The texts of the supporter's events of C{kind} (C{message},
        C{typing}) so far.
        """
        return [e["text"] for e in list(self.events) if e["kind"] == kind and e["from"] == "supporter"]

    def stop(self):
        """
        End the chat if it still runs, and stop fetching events.
        """
        if self.token is not None and not self.ended.is_set():
            try:
                self.post(f"/chat/api/{self.token}/close", {})
            except OSError:
                pass
        self.ended.set()
        if self.thread is not None:
            self.thread.join(DEADLINE)


# Terminal clients.


class Tmux:
    """
    A program in a detached tmux session on a private tmux server (its own
    socket, no user configuration), read with C{capture-pane} and driven
    with C{send-keys}.  The program gets C{env} and nothing else as its
    environment.
    """

    def __init__(self, directory, command, env, width=160, height=45):
        self.socket = os.path.join(str(directory), "tmux.sock")
        self.session = "client"
        environment = [f"{key}={value}" for key, value in sorted(env.items())]
        self.tmux(
            "new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height),
            "env", "-i", *environment, *command,
        )

    def tmux(self, *args):
        result = subprocess.run(
            ["tmux", "-f", "/dev/null", "-S", self.socket, *args],
            capture_output=True, text=True, timeout=30,
        )
        if result.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def screen(self):
        """
        The visible text of the pane.
        """
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def type(self, text, enter=True):
        """
        Type C{text} literally, then Enter.
        """
        self.tmux("send-keys", "-t", self.session, "-l", text)
        if enter:
            self.tmux("send-keys", "-t", self.session, "Enter")

    def waitForText(self, text, timeout=DEADLINE):
        """
        Wait until C{text} (a string or a compiled regular expression) is on
        the screen; return the screen.
        """
        def found():
            screen = self.screen()
            hit = text.search(screen) if isinstance(text, re.Pattern) else text in screen
            return screen if hit else None

        return waitFor(found, f"{text!r} on the screen", timeout, diagnose=self.screen)

    def close(self):
        """
        Kill this private tmux server and the program in it.
        """
        subprocess.run(
            ["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=30
        )


# X11 for Psi.


class XServer:
    """
    An Xvfb on a display number it picks itself (C{-displayfd}), so that
    parallel runs and a desktop do not collide.
    """

    def __init__(self, width=1024, height=700):
        read, write = os.pipe()
        try:
            self.process = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24",
                 "-nolisten", "tcp", "-noreset"],
                pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        finally:
            os.close(write)
        number = b""
        with os.fdopen(read, "rb") as pipe:
            # Xvfb writes the display number and a newline once it is ready.
            number = pipe.readline().strip()
        if not number:
            error = self.process.stderr.read().decode(errors="replace")
            self.close()
            raise RuntimeError(f"Xvfb did not start: {error}")
        self.display = f":{number.decode()}"

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stderr.close()


def stopProcess(process, timeout=15):
    """
    Stop a child process (SIGTERM, then SIGKILL) and wait for it.
    """
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def xdotool(display, *args):
    """
    Run xdotool on C{display}; return its output.
    """
    result = subprocess.run(
        ["xdotool", *args], capture_output=True, text=True, timeout=30,
        env={**os.environ, "DISPLAY": display},
    )
    return result.stdout


def visibleWindows(display):
    """
    The titles of the visible, named windows on C{display}, by window id.
    """
    windows = {}
    for window in xdotool(display, "search", "--onlyvisible", "--name", "").split():
        name = xdotool(display, "getwindowname", window).strip()
        if name:
            windows[window] = name
    return windows


# Psi's profile.


def _encodePassword(password, jid):
    # Psi keeps account passwords XOR-ed with the JID, four hex digits a
    # character (Psi's own encodePassword() in common.cpp).
    return "".join(f"{ord(c) ^ ord(jid[i % len(jid)]):04x}" for i, c in enumerate(password))


def _option(parent, name, kind, value):
    element = ET.SubElement(parent, name, type=kind)
    if kind == "QStringList":
        for item in value:
            ET.SubElement(element, "item").text = item
    elif kind == "QRect":
        for key, number in zip(("x", "y", "width", "height"), value):
            ET.SubElement(element, key).text = str(number)
    else:
        element.text = value
    return element


def _optionsFile(path, rootName, options):
    root = ET.Element(rootName, version="1.5", xmlns="http://psi-im.org/options")
    for dotted, kind, value in options:
        node = root
        *branches, leaf = dotted.split(".")
        for branch in branches:
            child = node.find(branch)
            node = child if child is not None else ET.SubElement(node, branch)
        _option(node, leaf, kind, value)
    ET.indent(root)
    with open(path, "wb") as f:
        f.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE psi>\n')
        f.write(ET.tostring(root, encoding="utf-8"))


def writePsiProfile(home, jid, password, port, certificate, resource):
    """
    Make Psi 1.5's C{default} profile under C{home} ($HOME) with one account
    that logs in automatically over STARTTLS to 127.0.0.1:C{port} and trusts
    the daemon's self-signed C{certificate} (the account's
    C{tls.override-certificate}, what the "Trust this certificate" button
    stores).  It also creates the data and cache folders (or Psi opens its
    import wizard), keeps Psi from listening for file transfer (port 8010)
    and from playing sounds, and lets an incoming chat open its window.

    Psi queries the own vCard at login, as it does by default
    (C{options.vcard.query-own-vcard-on-login}); it would open the vCard
    editor for an empty one, but the daemon gives every account a vCard with
    its name.
    """
    home = str(home)
    profile = os.path.join(home, ".config", "psi", "profiles", "default")
    for folder in (
        profile,
        os.path.join(home, ".local", "share", "psi", "profiles", "default"),
        os.path.join(home, ".cache", "psi", "profiles", "default"),
    ):
        os.makedirs(folder, exist_ok=True)
    with open(certificate) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    accountId = "{%s}" % uuid.uuid4()
    account = "accounts.a0."
    _optionsFile(os.path.join(profile, "accounts.xml"), "accounts", [
        ("order", "QStringList", [accountId]),
        (account + "id", "QString", accountId),
        (account + "name", "QString", jid.partition("@")[0]),
        (account + "jid", "QString", jid),
        (account + "password", "QString", _encodePassword(password, jid)),
        (account + "enabled", "bool", "true"),
        (account + "auto", "bool", "true"),
        (account + "use-host", "bool", "true"),
        (account + "host", "QString", "127.0.0.1"),
        (account + "port", "int", str(port)),
        # "yes": STARTTLS, required; "legacy" would be direct TLS.
        (account + "ssl", "QString", "yes"),
        (account + "legacy-ssl-probe", "bool", "false"),
        (account + "allow-plain", "QString", "over encryped"),
        (account + "automatic-resource", "bool", "false"),
        (account + "resource", "QString", resource),
        (account + "priority", "int", "5"),
        (account + "priority-depends-on-status", "bool", "false"),
        (account + "auto-same-status", "bool", "true"),
        (account + "last-status", "QString", "online"),
        (account + "last-status-message", "QString", ""),
        (account + "last-with-priority", "bool", "false"),
        (account + "reconn", "bool", "false"),
        (account + "keep-alive", "bool", "true"),
        (account + "enable-sm", "bool", "true"),
        (account + "compress", "bool", "false"),
        (account + "log", "bool", "false"),
        (account + "stun-host", "QString", ""),
        (account + "stun-hosts", "QStringList", []),
        (account + "tls.override-certificate", "QByteArray", base64.b64encode(der).decode()),
        (account + "tls.override-domain", "QString", ""),
    ])
    _optionsFile(os.path.join(profile, "options.xml"), "psi", [
        ("options.p2p.bytestreams.listen-port", "int", "0"),
        ("options.auto-update.check-on-startup", "bool", "false"),
        ("options.ui.tip.show", "bool", "false"),
        ("options.ui.chat.auto-popup", "bool", "true"),
        ("options.ui.chat.size", "QString", ""),
        ("options.ui.notifications.sounds.enable", "bool", "false"),
        ("options.ui.notifications.passive-popups.enabled", "bool", "false"),
        ("options.ui.systemtray.enable", "bool", "false"),
        ("options.ui.spell-check.enabled", "bool", "false"),
        ("options.ui.contactlist.use-status-change-animation", "bool", "false"),
        ("options.ui.contactlist.temp-no-roster-animation", "bool", "true"),
        ("options.ui.contactlist.saved-window-geometry", "QRect", (20, 20, 260, 400)),
        ("options.ui.flash-windows", "bool", "false"),
    ])


# Screenshots.


def screenshotDirectory(tmp_path):
    """
    Where screenshots go: C{$OPENMESSENGER_SCREENSHOTS} (C{docs/screenshots}
    to refresh the documentation's), else the test's temporary folder.
    """
    directory = os.environ.get("OPENMESSENGER_SCREENSHOTS") or os.path.join(str(tmp_path), "screenshots")
    os.makedirs(directory, exist_ok=True)
    return directory


def grabScreen(display):
    """
    The X screen as PPM bytes, or C{None} without ImageMagick.
    """
    if shutil.which("import") is None:
        return None
    result = subprocess.run(
        ["import", "-silent", "-window", "root", "ppm:-"],
        capture_output=True, timeout=30, env={**os.environ, "DISPLAY": display},
    )
    return result.stdout if result.returncode == 0 else None


def _savePPM(picture, path):
    subprocess.run(
        ["convert", "ppm:-", "-trim", "+repage", "-bordercolor", "black", "-border", "8",
         "-strip", f"png:{path}"],
        input=picture, check=True, timeout=30,
    )


def screenshotNow(display, path):
    """
    Save the X screen as it is, cropped to the windows on it, as a PNG;
    without ImageMagick nothing is saved.
    """
    picture = grabScreen(display)
    if picture is None:
        return None
    _savePPM(picture, path)
    return path


def screenshotX(display, path, quiet=2.0):
    """
    Save the X screen, cropped to the windows on it, as a PNG once it has
    settled: for C{quiet} seconds, nothing but a blinking text cursor (at
    most two pictures alternating) has changed.  So the picture shows what
    the client drew.  Without ImageMagick nothing is saved.
    """
    grabs = []

    def settled():
        grabs.append((time.monotonic(), grabScreen(display)))
        if grabs[-1][1] is None:
            return True
        since = grabs[-1][0] - quiet
        recent = {picture for stamp, picture in grabs if stamp >= since}
        return grabs[0][0] <= since and len(recent) <= 2

    try:
        waitFor(settled, "the screen to settle", timeout=30)
    except AssertionError as e:
        # A picture for the documentation is no reason to fail a test.
        print(f"{path}: {e}; saving the last picture anyway")
    if grabs[-1][1] is None:
        return None
    _savePPM(grabs[-1][1], path)
    return path


def screenshotText(text, path):
    """
    Render terminal text as a PNG (light on dark, monospace) with
    ImageMagick; without it nothing is saved.
    """
    if shutil.which("convert") is None:
        return None
    lines = [line.rstrip() for line in text.rstrip("\n").split("\n")]
    columns = max([len(line) for line in lines] + [1])
    # DejaVu Sans Mono at 13 points: 8 by 17 pixels a character, at most.
    size = f"{24 + 8 * columns}x{24 + 17 * len(lines)}"
    # -annotate reads "@file" and expands "%" escapes and backslashes.
    body = "\n".join(lines).replace("\\", "\\\\").replace("%", "%%")
    if body.startswith("@"):
        body = " " + body
    subprocess.run(
        ["convert", "-size", size, "xc:#1e1e1e", "-font", "DejaVu-Sans-Mono", "-pointsize", "13",
         "-fill", "#e0e0e0", "-annotate", "+12+24", body, "-strip", f"png:{path}"],
        check=True, timeout=60, capture_output=True,
    )
    return path
