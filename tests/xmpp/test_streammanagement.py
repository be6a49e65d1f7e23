"""
Tests for stream management (XEP-0198): L{openmessenger.xmpp.streammanagement}
and its use in L{openmessenger.xmpp.c2s}.
"""

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.storage.interfaces import StorageFull
from tests.helpers import NS_BIND, FakeServer, HeldStore, header

SM = "urn:xmpp:sm:3"


class StreamManagementTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer(extra="[stream_management]\nresume_timeout = 300\n")
        for user in ("alice", "bob"):
            self.server.addUser(f"{user}@example.com")
        self.server.befriend("alice@example.com", "bob@example.com")
        self.bob = self.server.login("bob@example.com")
        self.alice = self.server.login("alice@example.com", "phone")
        self.bob.read()

    def enable(self, client):
        client.send(f"<enable xmlns='{SM}' resume='true'/>")
        enabled = client.readOne()
        self.assertEqual((enabled.name, enabled["resume"], enabled["max"]), ("enabled", "true", "300"))
        return enabled["id"]

    def chat(self, text, to="alice@example.com/phone"):
        self.bob.send(f"<message to='{to}' type='chat'><body>{text}</body></message>")

    def bodies(self, elements):
        return [str(e.body) for e in elements if getattr(e, "name", None) == "message"]

    def resumeAs(self, previd, handled):
        client = self.server.client()
        client.startTLS()
        client.authenticate("alice@example.com")
        client.send(header())
        features = client.read()[1]
        self.assertIsNotNone(features.sm)
        client.send(f"<resume xmlns='{SM}' previd='{previd}' h='{handled}'/>")
        return client

    def test_acks(self):
        """
        The server counts the stanzas it handled (not client-state
        indications) and drops what the client acked; it asks for an ack
        every few stanzas.
        """
        self.enable(self.alice)
        self.alice.send("<inactive xmlns='urn:xmpp:csi:0'/><active xmlns='urn:xmpp:csi:0'/>")
        self.alice.send("<presence/><iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
        self.alice.read()
        self.alice.send(f"<r xmlns='{SM}'/>")
        self.assertEqual(self.alice.readOne()["h"], "2")
        for n in range(5):
            self.chat(f"m{n}")
        elements = self.alice.read()
        self.assertIn("r", [e.name for e in elements])
        state = self.alice.stream.sm
        self.assertEqual(len(state.queue), state.sent)
        self.alice.send(f"<a xmlns='{SM}' h='{state.sent}'/>")
        self.assertEqual(len(state.queue), 0)

    def heldWrites(self):
        """
        A server whose offline writes wait for the test, and Alice logged in
        with stream management.
        """
        server = FakeServer(store=HeldStore(held=("storeMessage",)))
        server.addUser("alice@example.com")
        server.addUser("carol@example.com")
        alice = server.login("alice@example.com")
        self.enable(alice)
        return server, alice

    def test_ackWaitsForStorage(self):
        """
        The answer to C{<r/>} waits for the write of the counted stanza
        (here: an offline message), not for storage in general.
        """
        server, alice = self.heldWrites()
        alice.send("<message to='carol@example.com' type='chat'><body>keep me</body></message>")
        alice.send(f"<r xmlns='{SM}'/>")
        self.assertEqual(alice.read(), [])
        [write] = server.store.held
        write.callback(None)
        self.assertEqual(alice.readOne()["h"], "1")
        self.assertEqual(len(server.store._offline["carol@example.com"]), 1)

    def test_failedWriteAnsweredBeforeAck(self):
        """
        A write that fails (a full disk) reaches the sender as an error
        stanza before the acknowledgement that counts the message, and a
        later stanza's acknowledgement waits for it too.
        """
        server, alice = self.heldWrites()
        alice.send("<message to='carol@example.com' id='m1' type='chat'><body>one</body></message>")
        alice.send(f"<r xmlns='{SM}'/>")
        alice.send("<message to='carol@example.com' id='m2' type='chat'><body>two</body></message>")
        alice.send(f"<r xmlns='{SM}'/>")
        first, second = server.store.held
        second.callback(None)
        self.assertEqual(alice.read(), [])
        first.errback(StorageFull("database or disk is full"))
        self.assertEqual(len(self.flushLoggedErrors(StorageFull)), 1)
        error, ack1, ack2 = alice.read()
        self.assertEqual((error.name, error["type"], error["id"]), ("message", "error", "m1"))
        self.assertEqual(error.error.firstChildElement().name, "resource-constraint")
        self.assertEqual([(ack1.name, ack1["h"]), (ack2.name, ack2["h"])], [("a", "1"), ("a", "2")])
        self.assertEqual(len(server.store._offline["carol@example.com"]), 1)

    def test_subscriptionWriteFailed(self):
        """
        A subscription request whose roster write fails is answered with an
        error before the acknowledgement that counts it.
        """
        server = FakeServer(store=HeldStore(held=("setItem",)))
        server.addUser("alice@example.com")
        server.addUser("bob@example.com")
        alice = server.login("alice@example.com")
        self.enable(alice)
        alice.send(f"<presence to='bob@example.com' type='subscribe'/><r xmlns='{SM}'/>")
        self.assertEqual(alice.read(), [])
        [write] = server.store.held
        write.errback(StorageFull("database or disk is full"))
        self.assertEqual(len(self.flushLoggedErrors(StorageFull)), 1)
        error, ack = alice.read()
        self.assertEqual((error.name, error["type"], error["to"]), ("presence", "error", "alice@example.com/test"))
        self.assertEqual((ack.name, ack["h"]), ("a", "1"))

    def test_ackAtOnceWithoutWrites(self):
        """
        With no write outstanding, C{<r/>} is answered at once.
        """
        server = FakeServer(store=HeldStore(held=("storeMessage",)))
        server.addUser("alice@example.com")
        alice = server.login("alice@example.com")
        self.enable(alice)
        alice.send(f"<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq><r xmlns='{SM}'/>")
        self.assertEqual([e.name for e in alice.read()], ["iq", "a"])

    def test_tooHighAck(self):
        """
        Acknowledging more than was sent is a stream error.
        """
        self.enable(self.alice)
        self.alice.send(f"<a xmlns='{SM}' h='99'/>")
        self.assertEqual(self.alice.streamError(), "undefined-condition")

    def test_resumeAfterBrokenConnection(self):
        """
        Alice's connection breaks mid-chat: Bob sees her offline at once; she
        resumes and gets exactly the messages she had not acknowledged, and
        Bob sees her online again.
        """
        previd = self.enable(self.alice)
        self.alice.send("<presence/>")
        self.alice.read()
        self.bob.read()
        self.chat("one")
        self.chat("two")
        self.assertEqual(self.bodies(self.alice.read()), ["one", "two"])
        handled = self.alice.stream.sm.sent - 1
        self.alice.send(f"<a xmlns='{SM}' h='{handled}'/>")
        self.alice.stream.connectionLost(None)
        self.assertIn("unavailable", [e.getAttribute("type") for e in self.bob.read() if e.name == "presence"])
        self.assertEqual(self.server.core.availability.stateOf("alice@example.com"), "offline")
        self.chat("three")
        client = self.resumeAs(previd, handled)
        elements = client.read()
        self.assertEqual(elements[0].name, "resumed")
        self.assertEqual(self.bodies(elements), ["two", "three"])
        self.assertEqual(self.server.core.availability.stateOf("alice@example.com"), "online")
        self.assertIn(None, [e.getAttribute("type") for e in self.bob.read() if e.name == "presence"])

    def test_heldForSuspendedResourceOfTwo(self):
        """
        With a second device online, a message to the suspended one's full
        JID waits in its queue and reaches it when it resumes, not the other
        device; had it never resumed, it would go where messages to a gone
        resource go.
        """
        previd = self.enable(self.alice)
        pc = self.server.login("alice@example.com", "pc")
        self.alice.read()
        self.alice.stream.connectionLost(None)
        pc.read()
        self.chat("for the phone")
        self.assertEqual(self.bodies(pc.read()), [])
        client = self.resumeAs(previd, self.alice.stream.sm.sent - 1)
        self.assertEqual(self.bodies(client.read()), ["for the phone"])

    def test_heldThenRoutedWhenNotResumed(self):
        """
        A suspended resource that never comes back hands what waited for it
        to the user's other device.
        """
        self.enable(self.alice)
        pc = self.server.login("alice@example.com", "pc")
        self.alice.read()
        self.alice.stream.connectionLost(None)
        pc.read()
        self.chat("for the phone")
        self.server.clock.advance(301)
        self.assertEqual(self.bodies(pc.read()), ["for the phone"])

    def test_resumeTakesOverWhatWasHeld(self):
        """
        A resumption from a new connection while the old one is half-open
        and full (nothing written for a while) takes over what it held: the
        resumed client gets it once, and nothing goes to offline storage.
        """
        previd = self.enable(self.alice)
        self.alice.read()
        self.alice.stream.pauseProducing()
        self.chat("held")
        client = self.resumeAs(previd, 0)
        self.assertEqual(self.bodies(client.read()), ["held"])
        self.assertNotIn("alice@example.com", self.server.store._offline)

    def test_notResumedGoesOffline(self):
        """
        A session not resumed in time ends; the messages it never
        acknowledged are stored offline, not lost.
        """
        self.enable(self.alice)
        self.chat("unacked")
        self.alice.read()
        self.alice.stream.connectionLost(None)
        self.server.clock.advance(301)
        self.assertIsNone(self.server.sessions.get("alice@example.com/phone"))
        stored = self.server.store._offline.get("alice@example.com", [])
        self.assertEqual(len(stored), 1)
        self.assertIn("unacked", stored[0][1])

    def test_resumeUnknownId(self):
        """
        A wrong id fails with C{item-not-found}; the client can still bind.
        """
        self.enable(self.alice)
        client = self.resumeAs("nonsense", 0)
        failed = client.readOne()
        self.assertEqual((failed.name, failed.firstChildElement().name), ("failed", "item-not-found"))
        client.send(f"<iq type='set' id='b'><bind xmlns='{NS_BIND}'/></iq>")
        self.assertEqual(client.readOne()["type"], "result")

    def test_resumeOtherUsersSession(self):
        """
        Nobody resumes somebody else's session.
        """
        previd = self.enable(self.alice)
        self.alice.stream.connectionLost(None)
        client = self.server.client()
        client.startTLS()
        client.authenticate("bob@example.com")
        client.send(header())
        client.read()
        client.send(f"<resume xmlns='{SM}' previd='{previd}' h='0'/>")
        self.assertEqual(client.readOne().firstChildElement().name, "item-not-found")

    def test_expiredId(self):
        """
        After the timeout, the id is unknown.
        """
        previd = self.enable(self.alice)
        self.alice.stream.connectionLost(None)
        self.server.clock.advance(301)
        self.assertEqual(self.resumeAs(previd, 0).readOne().firstChildElement().name, "item-not-found")

    def test_cleanCloseIsNotResumable(self):
        """
        A client that closes its stream ends its session for good.
        """
        previd = self.enable(self.alice)
        self.alice.send("</stream:stream>")
        self.alice.stream.connectionLost(None)
        self.assertEqual(self.resumeAs(previd, 0).readOne().firstChildElement().name, "item-not-found")

    def test_newBindEndsSuspendedSession(self):
        """
        Binding the resource of a suspended session ends that one for good:
        its id no longer resumes, and the new session gets what is meant
        for it (block-list pushes too).
        """
        previd = self.enable(self.alice)
        self.alice.stream.connectionLost(None)
        phone = self.server.client()
        phone.login("alice@example.com", resource="phone")
        phone.send("<iq type='get' id='l'><blocklist xmlns='urn:xmpp:blocking'/></iq>")
        phone.read()
        self.assertEqual(self.resumeAs(previd, 0).readOne().firstChildElement().name, "item-not-found")
        self.server.clock.advance(301)  # the old session's expiry must not touch the new one
        phone.send("<iq type='set' id='b'><block xmlns='urn:xmpp:blocking'><item jid='x@example.org'/></block></iq>")
        self.assertIn("block", [e.firstChildElement().name for e in phone.read() if e.name == "iq" and e.children])

    def test_resumeTakesOverLiveConnection(self):
        """
        Resuming while the server still thinks the old connection alive
        closes the old one.
        """
        previd = self.enable(self.alice)
        client = self.resumeAs(previd, 0)
        self.assertEqual(client.readOne().name, "resumed")
        self.assertEqual(self.alice.streamError(), "conflict")
        self.assertIs(self.server.sessions.get("alice@example.com/phone").stream, client.stream)

    def test_enableBeforeBind(self):
        """
        Enabling before binding is refused.
        """
        client = self.server.client()
        client.startTLS()
        client.authenticate("alice@example.com")
        client.send(header())
        client.read()
        client.send(f"<enable xmlns='{SM}'/>")
        self.assertEqual(client.readOne().firstChildElement().name, "unexpected-request")


class ShutdownTests(SynchronousTestCase):
    def test_systemShutdownThenStored(self):
        """
        When the server stops, each client gets a C{system-shutdown} stream
        error; what a stream-management session (connected or suspended)
        had not acknowledged is stored offline, and the shutdown waits for
        those writes.
        """
        server = FakeServer(store=HeldStore(held=("storeMessage",)),
                            extra="[stream_management]\nresume_timeout = 300\n")
        for user in ("alice", "bob", "carol"):
            server.addUser(f"{user}@example.com")
        alice = server.login("alice@example.com")
        bob = server.login("bob@example.com", "phone")
        carol = server.login("carol@example.com", "laptop")
        for client in (bob, carol):
            client.send(f"<enable xmlns='{SM}' resume='true'/>")
            client.read()
        carol.stream.connectionLost(None)  # suspended
        alice.send("<message to='bob@example.com/phone' type='chat'><body>to bob</body></message>")
        alice.send("<message to='carol@example.com/laptop' type='chat'><body>to carol</body></message>")
        done = server.factory.shutdown()
        for client in (alice, bob):
            self.assertEqual(client.streamError(), "system-shutdown")
        self.assertNoResult(done)
        for write in list(server.store.held):
            write.callback(None)
        self.successResultOf(done)
        self.assertEqual(len(server.store._offline["bob@example.com"]), 1)
        self.assertEqual(len(server.store._offline["carol@example.com"]), 1)
