"""
Tests for L{openmessenger.features.delivery} and full-JID delivery in
L{openmessenger.xmpp.localdomain} (RFC 6121 8.5).
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import FakeServer


def bodies(client):
    return [str(e.body) for e in client.read() if getattr(e, "name", None) == "message"]


class DeliveryTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        self.server.addUser("alice@example.com")
        self.server.addUser("bob@example.com")
        self.alice = self.server.login("alice@example.com")

    def bob(self, resource, priority):
        client = self.server.login("bob@example.com", resource, available=False)
        client.send(f"<presence><priority>{priority}</priority></presence>")
        client.read()
        return client

    def test_bareToHighestPriority(self):
        """
        A chat to the bare JID goes to the resources with the highest
        priority, all of them on a tie.
        """
        low, high1, high2 = self.bob("low", 1), self.bob("high1", 5), self.bob("high2", 5)
        for c in (low, high1, high2):
            c.read()
        self.alice.send("<message to='bob@example.com' type='chat'><body>hi</body></message>")
        self.assertEqual((bodies(low), bodies(high1), bodies(high2)), ([], ["hi"], ["hi"]))

    def test_fullJID(self):
        """
        A message to a full JID goes to that resource only, whatever its
        priority.
        """
        low, high = self.bob("low", -5), self.bob("high", 5)
        low.read(), high.read()
        self.alice.send("<message to='bob@example.com/low' type='chat'><body>you</body></message>")
        self.assertEqual((bodies(low), bodies(high)), (["you"], []))

    def test_fullJIDOfGoneResourceGoesToBare(self):
        """
        A chat to a gone resource is delivered as if to the bare JID.
        """
        high = self.bob("high", 5)
        high.read()
        self.alice.send("<message to='bob@example.com/gone' type='chat'><body>x</body></message>")
        self.assertEqual(bodies(high), ["x"])

    def test_headlineToAll(self):
        """
        A headline to the bare JID reaches every non-negative resource.
        """
        a, b, hidden = self.bob("a", 1), self.bob("b", 0), self.bob("hidden", -1)
        for c in (a, b, hidden):
            c.read()
        self.alice.send("<message to='bob@example.com' type='headline'><body>news</body></message>")
        self.assertEqual((bodies(a), bodies(b), bodies(hidden)), (["news"], ["news"], []))

    def test_groupchatBounces(self):
        """
        A groupchat message to a user's bare JID is C{service-unavailable}.
        """
        self.bob("pc", 1)
        self.alice.send("<message to='bob@example.com' type='groupchat' id='g'><body>x</body></message>")
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "service-unavailable")

    def test_iqToGoneResource(self):
        """
        An iq to a resource that is not there is C{service-unavailable}.
        """
        self.alice.send("<iq to='bob@example.com/gone' type='get' id='q'><ping xmlns='urn:xmpp:ping'/></iq>")
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "service-unavailable")

    def test_iqToResource(self):
        """
        An iq to a bound resource is delivered to it, and its answer back.
        """
        pc = self.bob("pc", 1)
        self.alice.send("<iq to='bob@example.com/pc' type='get' id='v'><query xmlns='jabber:iq:version'/></iq>")
        (request,) = pc.read()
        self.assertEqual(request["from"], "alice@example.com/test")
        pc.send("<iq to='alice@example.com/test' type='result' id='v'/>")
        self.assertEqual(self.alice.readOne()["type"], "result")

    def test_errorsNeverBounce(self):
        """
        An error stanza that cannot be delivered is dropped, never answered.
        """
        self.alice.send("<message to='ghost@example.com' type='error'><body>x</body></message>")
        self.alice.send("<iq to='bob@example.com/gone' type='error' id='e'/>")
        self.alice.send("<iq to='bob@example.com/gone' type='result' id='r'/>")
        self.assertEqual(self.alice.read(), [])

    def test_serverResource(self):
        """
        A stanza to a resource of the server is C{service-unavailable}.
        """
        self.alice.send("<iq to='example.com/admin' type='get' id='s'><query xmlns='jabber:iq:version'/></iq>")
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "service-unavailable")

    def test_messageToSelfWithoutTo(self):
        """
        A message without C{to} is addressed to the sender's own account.
        """
        self.alice.send("<message type='chat'><body>note to self</body></message>")
        self.assertEqual(bodies(self.alice), ["note to self"])
