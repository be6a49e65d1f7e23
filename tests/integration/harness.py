"""
The real server in this process, on loopback ports chosen by the OS, and
slixmpp clients sharing its event loop (pytest runs Twisted's asyncio
reactor, so both live on one asyncio loop).
"""

import asyncio
import os
import shutil
import ssl
import tempfile

import slixmpp
from twisted.internet import defer

from openmessenger.tap import Options, makeService

DOMAIN = "localhost"
PASSWORD = "s3cret pass"
#: Generous: these wait for events, and only a failure waits this long.
DEADLINE = 60


def wait(awaitable, timeout=DEADLINE):
    """
    Wait for an asyncio awaitable from a Twisted coroutine, with a deadline.
    """
    return defer.Deferred.fromFuture(asyncio.ensure_future(asyncio.wait_for(awaitable, timeout)))


class Server:
    """
    A server built by the real C{makeService} from a configuration file,
    listening on loopback.
    """

    def __init__(self, directory=None, extra="", c2s=""):
        self.owned = directory is None
        # Short paths: the control socket's must fit in 108 bytes.
        self.directory = directory or tempfile.mkdtemp(prefix="om-")
        self.config = os.path.join(self.directory, "openmessenger.conf")
        with open(self.config, "w") as f:
            f.write(
                f"[server]\ndomain = {DOMAIN}\ndata_dir = data\n"
                "[c2s]\nendpoint = tcp:0:interface=127.0.0.1\n"
                "direct_tls_endpoint = tcp:0:interface=127.0.0.1\n"
                f"{c2s}\n[http]\nendpoint = tcp:0:interface=127.0.0.1\n{extra}\n"
            )

    @property
    def certificate(self):
        return os.path.join(self.directory, "data", "server.crt")

    async def start(self):
        options = Options()
        options.parseOptions(["--config", self.config])
        self.service = makeService(options)
        self.service.startService()
        self.port = (await self.service.ports["c2s"]).getHost().port
        self.tlsPort = (await self.service.ports["direct_tls"]).getHost().port
        return self

    @property
    def core(self):
        return self.service.core

    async def stop(self, clients=()):
        for client in clients:
            if client.is_connected():
                disconnected = client.expect("disconnected")
                client.disconnect()
                await wait(disconnected, 10)
        await self.service.stopService()

    def cleanup(self):
        if self.owned:
            shutil.rmtree(self.directory, ignore_errors=True)

    async def addUser(self, user, password=PASSWORD):
        await self.core.accounts.create(f"{user}@{DOMAIN}", password)


class Client(slixmpp.ClientXMPP):
    """
    A slixmpp client that trusts the test server's certificate and queues
    what it receives.
    """

    def __init__(self, server, user, resource="test", password=PASSWORD, directTLS=False):
        slixmpp.ClientXMPP.__init__(self, f"{user}@{DOMAIN}/{resource}", password)
        self.testServer = server
        self.directTLS = directTLS
        self.ssl_context = ssl.create_default_context(cafile=server.certificate)
        self.enable_direct_tls = directTLS
        self.enable_starttls = not directTLS
        self.messages = asyncio.Queue()
        self.presences = asyncio.Queue()
        self.started = asyncio.get_event_loop().create_future()
        self.add_event_handler("session_start", self._sessionStarted)
        self.add_event_handler("failed_auth", self._failed)
        self.add_event_handler("message", self.messages.put_nowait)
        self.add_event_handler("presence", self.presences.put_nowait)

    async def _sessionStarted(self, event):
        if not self.started.done():
            self.started.set_result(True)

    def _failed(self, event):
        if not self.started.done():
            self.started.set_exception(RuntimeError("authentication failed"))

    async def login(self, available=True):
        """
        Connect, authenticate, get the roster and (optionally) send initial
        presence.
        """
        port = self.testServer.tlsPort if self.directTLS else self.testServer.port
        self.connect("127.0.0.1", port)
        await wait(self.started)
        await wait(self.get_roster())
        if available:
            self.send_presence()
        return self

    def expect(self, event):
        """
        A future for the next C{event}, registered at once.  (slixmpp's
        C{wait_until} is a coroutine that registers only once it runs, and
        misses an event fired before.)
        """
        future = asyncio.get_event_loop().create_future()

        def fired(data=None):
            if not future.done():
                future.set_result(data)

        self.add_event_handler(event, fired, disposable=True)
        return future

    async def subscription(self, contact, state):
        """
        Wait until the roster shows this subscription state for C{contact}.
        """
        while self.client_roster[contact]["subscription"] != state:
            await wait(self.expect("roster_update"))

    async def nextMessage(self):
        return await wait(self.messages.get())

    async def presenceFrom(self, sender, kind="available"):
        """
        Skip presences until one of C{kind} from C{sender} arrives; as in
        slixmpp, the kind of an available presence is its show, if any.
        """
        while True:
            presence = await wait(self.presences.get())
            if (presence["from"].full, presence["type"]) == (sender, kind):
                return presence
