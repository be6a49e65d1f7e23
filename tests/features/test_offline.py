"""
Tests for L{openmessenger.features.offline}.
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import FakeServer


def messages(elements):
    return [e for e in elements if getattr(e, "name", None) == "message"]


class OfflineTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer(offlineLimit=3)
        self.server.addUser("alice@example.com")
        self.server.addUser("bob@example.com")
        self.alice = self.server.login("alice@example.com")

    def test_storedAndDeliveredWithDelay(self):
        """
        A message to an offline user is delivered at their next initial
        presence, with the time it arrived (XEP-0203).
        """
        self.alice.send("<message to='bob@example.com' type='chat' id='m1'><body>are you there?</body></message>")
        self.assertEqual(self.alice.read(), [])
        arrival = self.server.clock.seconds()
        self.server.clock.advance(3600)
        bob = self.server.login("bob@example.com", available=False)
        self.assertEqual(messages(bob.read()), [])
        bob.send("<presence/>")
        (message,) = messages(bob.read())
        self.assertEqual(str(message.body), "are you there?")
        self.assertEqual(message["from"], "alice@example.com/test")
        delay = message.delay
        self.assertEqual(delay.uri, "urn:xmpp:delay")
        self.assertEqual(delay["from"], "example.com")
        from openmessenger.xmpp.stanzas import formatStamp
        self.assertEqual(delay["stamp"], formatStamp(arrival))

    def test_deliveredOnce(self):
        """
        Stored messages are delivered to one session, once.
        """
        self.alice.send("<message to='bob@example.com'><body>once</body></message>")
        first = self.server.login("bob@example.com", "one", available=False)
        first.send("<presence/>")
        self.assertEqual(len(messages(first.read())), 1)
        second = self.server.login("bob@example.com", "two", available=False)
        second.send("<presence/>")
        self.assertEqual(messages(second.read()), [])

    def test_fullJIDOfGoneResource(self):
        """
        A chat to a full JID whose resource is gone is stored like one to the
        bare JID.
        """
        self.alice.send("<message to='bob@example.com/gone' type='chat'><body>hi</body></message>")
        self.assertEqual(len(self.server.store._offline["bob@example.com"]), 1)

    def test_limit(self):
        """
        Beyond the limit, the sender gets C{service-unavailable}.
        """
        for n in range(3):
            self.alice.send(f"<message to='bob@example.com' id='{n}'><body>{n}</body></message>")
        self.assertEqual(self.alice.read(), [])
        self.alice.send("<message to='bob@example.com' id='x'><body>too many</body></message>")
        reply = self.alice.readOne()
        self.assertEqual((reply["type"], reply["id"]), ("error", "x"))
        self.assertEqual(reply.error.firstChildElement().name, "service-unavailable")

    def test_notStored(self):
        """
        Errors, headlines, groupchat and chat-state-only messages are not
        stored.
        """
        for message in [
            "<message to='bob@example.com' type='error'><body>e</body></message>",
            "<message to='bob@example.com' type='headline'><body>h</body></message>",
            "<message to='bob@example.com' type='groupchat'><body>g</body></message>",
            "<message to='bob@example.com' type='chat'>"
            "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
        ]:
            self.alice.send(message)
        self.assertNotIn("bob@example.com", self.server.store._offline)

    def test_unknownRecipient(self):
        """
        A message to an account that does not exist bounces.
        """
        self.alice.send("<message to='ghost@example.com' id='g'><body>boo</body></message>")
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "service-unavailable")

    def test_negativePriorityOnlyCountsAsOffline(self):
        """
        A user whose only resource has negative priority gets messages stored.
        """
        bob = self.server.login("bob@example.com", available=False)
        bob.send("<presence><priority>-1</priority></presence>")
        bob.read()
        self.alice.send("<message to='bob@example.com' type='chat'><body>later</body></message>")
        self.assertEqual(messages(bob.read()), [])
        self.assertEqual(len(self.server.store._offline["bob@example.com"]), 1)


SM = "urn:xmpp:sm:3"


def confirmationPing(elements):
    [ping] = [e for e in elements if getattr(e, "name", None) == "iq" and e.ping is not None]
    return ping


class DeletedOnlyWhenConfirmedTests(SynchronousTestCase):
    """
    A replayed offline message stays stored until the receiving client has
    shown it has it.
    """

    def setUp(self):
        self.server = FakeServer(extra="[stream_management]\nresume_timeout = 300\n")
        self.server.addUser("alice@example.com")
        self.server.addUser("bob@example.com")
        alice = self.server.login("alice@example.com")
        for n in range(3):
            alice.send(f"<message to='bob@example.com' type='chat'><body>m{n}</body></message>")

    def stored(self):
        return [text for _, text, _ in self.server.store._offline.get("bob@example.com", [])]

    def test_keptUntilPingAnswered(self):
        """
        Without stream management the server pings after the replay; the
        messages go only once the client answers.
        """
        bob = self.server.login("bob@example.com", available=False)
        bob.send("<presence/>")
        elements = bob.read()
        self.assertEqual(len(messages(elements)), 3)
        self.assertEqual(len(self.stored()), 3)
        ping = confirmationPing(elements)
        bob.send(f"<iq type='result' id='{ping['id']}' to='{ping['from']}'/>")
        self.assertEqual(self.stored(), [])
        self.assertEqual(bob.read(), [])

    def test_keptWhenConnectionBreaks(self):
        """
        A connection that breaks before the answer (kill, cable) leaves the
        messages stored; the next login gets all of them again.
        """
        bob = self.server.login("bob@example.com", available=False)
        bob.send("<presence/>")
        self.assertEqual(len(messages(bob.read())), 3)
        bob.stream.connectionLost(None)
        self.assertEqual(len(self.stored()), 3)
        again = self.server.login("bob@example.com", "two", available=False)
        again.send("<presence/>")
        self.assertEqual([str(m.body) for m in messages(again.read())], ["m0", "m1", "m2"])

    def test_cleanCloseConfirms(self):
        """
        A client that closes its stream after the replay had read it.
        """
        bob = self.server.login("bob@example.com", available=False)
        bob.send("<presence/>")
        bob.read()
        bob.send("</stream:stream>")
        self.assertEqual(self.stored(), [])

    def test_streamManagementAck(self):
        """
        With stream management the client's C{h} confirms; an ack of only
        part of the replay keeps everything, the full one deletes it.
        """
        bob = self.server.login("bob@example.com", available=False)
        bob.send(f"<enable xmlns='{SM}' resume='true'/>")
        bob.read()
        bob.send("<presence/>")
        elements = bob.read()
        self.assertEqual(len(messages(elements)), 3)
        self.assertIn("r", [e.name for e in elements])
        sent = bob.stream.sm.sent
        bob.send(f"<a xmlns='{SM}' h='{sent - 1}'/>")
        self.assertEqual(len(self.stored()), 3)
        bob.send(f"<a xmlns='{SM}' h='{sent}'/>")
        self.assertEqual(self.stored(), [])

    def test_notStoredTwiceWhenSuspendedSessionExpires(self):
        """
        A stream-management session that breaks and is never resumed leaves
        the replayed messages stored once (not routed into storage again).
        """
        bob = self.server.login("bob@example.com", available=False)
        bob.send(f"<enable xmlns='{SM}' resume='true'/>")
        bob.read()
        bob.send("<presence/>")
        bob.read()
        bob.stream.connectionLost(None)
        self.server.clock.advance(301)
        self.assertEqual(len(self.stored()), 3)


class PoisonedQueueTests(SynchronousTestCase):
    def test_unreadableRowLosesNothingElse(self):
        """
        A row an older version stored with a character XML forbids does not
        stop the messages after it.
        """
        server = FakeServer()
        server.addUser("bob@example.com")
        store = server.store
        store.storeMessage("bob@example.com", "<message xmlns='jabber:client' from='a@example.com'>"
                           "<body>bad\x01</body></message>", 1.0, 10)
        store.storeMessage("bob@example.com", "<message xmlns='jabber:client' from='a@example.com'>"
                           "<body>after</body></message>", 2.0, 10)
        bob = server.login("bob@example.com", available=False)
        bob.send("<presence/>")
        self.assertEqual([str(m.body) for m in messages(bob.read())], ["bad", "after"])

    def test_storedWithoutForbiddenCharacters(self):
        """
        What is stored can always be read back: forbidden characters a
        stanza picked up on its way are not written.
        """
        from twisted.words.xish import domish

        server = FakeServer()
        server.addUser("bob@example.com")
        message = domish.Element(("jabber:client", "message"))
        message["to"] = "bob@example.com"
        message["from"] = "visitor@visitors.example.com"
        message.addElement("body", content="Mallory" + "".join(map(chr, range(32))))
        server.core.router.route(message)
        self.assertEqual(len(server.store._offline["bob@example.com"]), 1)
        bob = server.login("bob@example.com", available=False)
        bob.send("<presence/>")
        [got] = messages(bob.read())
        # (XML parsers read a carriage return as a line feed.)
        self.assertEqual(str(got.body), "Mallory\t\n\n")


class FailedWriteTests(SynchronousTestCase):
    def test_senderLearnsOfFailedWrite(self):
        """
        A failed write (a full disk, a locked database) reaches the sender
        as an error stanza, not only the log.
        """
        from openmessenger.storage.interfaces import StorageFull
        from tests.helpers import HeldStore

        server = FakeServer(store=HeldStore(held=("storeMessage",)))
        server.addUser("alice@example.com")
        server.addUser("bob@example.com")
        alice = server.login("alice@example.com")
        alice.send("<message to='bob@example.com' id='full'><body>1</body></message>")
        alice.send("<message to='bob@example.com' id='locked'><body>2</body></message>")
        full, locked = server.store.held
        full.errback(StorageFull("database or disk is full"))
        locked.errback(RuntimeError("database is locked"))
        self.flushLoggedErrors(StorageFull, RuntimeError)
        errors = {e["id"]: e.error.firstChildElement().name for e in alice.read()}
        self.assertEqual(errors, {"full": "resource-constraint", "locked": "internal-server-error"})
