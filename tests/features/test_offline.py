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
