"""
Test helpers: a server core over memory storage, and clients that speak to
it through L{StringTransport}, parsing what the server writes.
"""

import base64
from types import SimpleNamespace

import scramp
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.words.xish import domish
from zope.interface import directlyProvides

from openmessenger.config import parseConfig
from openmessenger.storage.interfaces import RosterItem
from openmessenger.storage.memory import MemoryStore
from openmessenger.tap import assemble

NS_STREAMS = "http://etherx.jabber.org/streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
DOMAIN = "example.com"
PASSWORD = "pencil"


def header(to=DOMAIN, version="1.0", ns="jabber:client"):
    version = f" version='{version}'" if version else ""
    return (
        f"<stream:stream xmlns='{ns}' xmlns:stream='{NS_STREAMS}' to='{to}'{version}>"
    )


def parse(xml):
    """
    Parse one XML element from a string.
    """
    result = []
    stream = domish.elementStream()
    stream.DocumentStartEvent = result.append
    stream.ElementEvent = lambda e: None
    stream.DocumentEndEvent = lambda: None
    stream.parse(xml.encode("utf-8") if isinstance(xml, str) else xml)
    return result[0]


class TLSStringTransport(StringTransport):
    """
    A L{StringTransport} that pretends to start TLS when asked.
    """

    tlsStarted = False

    def startTLS(self, contextFactory):
        self.tlsStarted = True
        directlyProvides(self, ISSLTransport)


class FakeServer:
    """
    The real XMPP core (every feature attached) over a L{MemoryStore}, with a
    fake clock, and users created with one password.
    """

    def __init__(
        self, domains=(DOMAIN, "example.org"), requireTLS=True, offlineLimit=100, store=None,
        awayAfter=300, xaAfter=1800, admins="", extra="", **c2s
    ):
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.store = store or MemoryStore()
        c2s["require_tls"] = "true" if requireTLS else "false"
        # Tests move the clock far; only the dead-peer tests want the check.
        c2s.setdefault("dead_peer_timeout", 0)
        lines = "".join(f"{key} = {value}\n" for key, value in c2s.items())
        self.config = parseConfig(
            f"[server]\ndomain = {', '.join(domains)}\nadmins = {admins}\n"
            f"[offline]\nmax_messages = {offlineLimit}\n"
            f"[autoaway]\naway_after = {awayAfter}\nxa_after = {xaAfter}\n"
            "[c2s]\n" + lines + extra
        )
        self.core = assemble(self.store, self.config, self.clock)
        self.factory = self.core.clientFactory(object(), self.clock)
        self.factory.jitter = lambda: 0
        self.sessions = self.core.sessions

    def addUser(self, jid, password=PASSWORD):
        d = self.core.accounts.create(jid, password)
        return d.result

    def befriend(self, user, contact):
        """
        Make two users subscribed to each other, in storage (before login).
        """
        self.store.setItem(user, RosterItem(contact, subscription="both"))
        self.store.setItem(contact, RosterItem(user, subscription="both"))

    def client(self, peer="192.0.2.1"):
        return FakeClient(self, peer)

    def login(self, jid, resource="test", available=True, roster=True):
        """
        A client that has logged in (STARTTLS, SCRAM, bind), fetched its
        roster and sent initial presence; its output is drained.
        """
        client = self.client()
        client.login(jid, resource=resource)
        if roster:
            client.send("<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>")
        if available:
            client.send("<presence/>")
        client.read()
        return client


class FakeClient:
    """
    One client connection, driven by the test.
    """

    def __init__(self, server, peer):
        self.server = server
        self.transport = TLSStringTransport(peerAddress=IPv4Address("TCP", peer, 12345))
        self.stream = server.factory.buildProtocol(self.transport.getPeer())
        self.stream.makeConnection(self.transport)
        self.jid = None
        self._restart()

    def _restart(self):
        self._parser = domish.elementStream()
        self._parser.DocumentStartEvent = lambda root: self._elements.append(root)
        self._parser.ElementEvent = lambda element: self._elements.append(element)
        self._parser.DocumentEndEvent = lambda: self._elements.append("</stream:stream>")
        self._elements = []

    def send(self, data):
        self.stream.dataReceived(data.encode("utf-8") if isinstance(data, str) else data)

    def read(self):
        """
        Parse and return what the server wrote since the last read.
        """
        data = self.transport.value()
        self.transport.clear()
        self._parser.parse(data)
        elements, self._elements = self._elements, []
        return elements

    def readOne(self):
        elements = self.read()
        assert len(elements) == 1, [getattr(e, "toXml", lambda: e)() for e in elements]
        return elements[0]

    @property
    def disconnected(self):
        return self.transport.disconnecting

    def streamError(self):
        """
        The condition of the stream error the server sent, if any.
        """
        for element in self.read():
            if getattr(element, "name", None) == "error" and element.uri == NS_STREAMS:
                return next(element.elements()).name
        return None

    def startTLS(self):
        self.send(header())
        features = self.read()[1]
        assert features.starttls is not None
        self.send(f"<starttls xmlns='{NS_TLS}'/>")
        assert self.readOne().name == "proceed"
        assert self.transport.tlsStarted
        self._restart()

    def authenticate(self, user, password=PASSWORD, mechanism="SCRAM-SHA-256"):
        """
        Run a SCRAM exchange; return the server's last element.
        """
        self.send(header(to=user.split("@")[1]))
        self.read()
        client = scramp.ScramClient([mechanism], user.split("@")[0], password)
        first = base64.b64encode(client.get_client_first().encode()).decode()
        self.send(f"<auth xmlns='{NS_SASL}' mechanism='{mechanism}'>{first}</auth>")
        challenge = self.readOne()
        if challenge.name != "challenge":
            return challenge
        client.set_server_first(base64.b64decode(str(challenge)).decode())
        final = base64.b64encode(client.get_client_final().encode()).decode()
        self.send(f"<response xmlns='{NS_SASL}'>{final}</response>")
        result = self.readOne()
        if result.name == "success":
            client.set_server_final(base64.b64decode(str(result)).decode())
            self._restart()
        return result

    def bind(self, domain, resource="test"):
        self.send(header(to=domain))
        self.read()
        self.send(
            f"<iq type='set' id='bind'><bind xmlns='{NS_BIND}'>"
            f"<resource>{resource}</resource></bind></iq>"
        )
        reply = self.readOne()
        self.jid = str(reply.bind.jid)
        return reply

    def login(self, user, password=PASSWORD, resource="test"):
        self.startTLS()
        assert self.authenticate(user, password).name == "success"
        self.bind(user.split("@")[1], resource)
        return self


def stanzaSummary(element):
    """
    A short tuple describing a stanza, for readable assertions.
    """
    return SimpleNamespace(
        name=element.name,
        type=element.getAttribute("type"),
        to=element.getAttribute("to"),
        sender=element.getAttribute("from"),
    )


class HeldStore(MemoryStore):
    """
    Writes of the named methods wait until the test fires their Deferreds in
    C{held} (C{callback(None)} to do the write, C{errback(...)} to fail it).
    """

    def __init__(self, held=("putCompany",)):
        MemoryStore.__init__(self)
        self.held = []
        for name in held:
            setattr(self, name, self._holding(getattr(MemoryStore, name)))

    def _holding(self, write):
        def holding(*args):
            d = Deferred()
            self.held.append(d)
            return d.addCallback(lambda _: write(self, *args))

        return holding
