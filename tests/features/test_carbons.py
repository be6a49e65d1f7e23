"""
Tests for L{openmessenger.features.carbons}.
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import FakeServer

NS = "urn:xmpp:carbons:2"


class CarbonsTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        self.server.addUser("alice@example.com")
        self.server.addUser("bob@example.com")
        self.pc = self.server.login("alice@example.com", "pc")
        self.phone = self.server.login("alice@example.com", "phone")
        self.bob = self.server.login("bob@example.com")
        for client in (self.pc, self.phone):
            client.read()
            client.send(f"<iq type='set' id='c'><enable xmlns='{NS}'/></iq>")
            self.assertEqual(client.readOne()["type"], "result")

    def test_sent(self):
        """
        What the PC sends, the phone sees as a "sent" carbon.
        """
        self.pc.send("<message to='bob@example.com' type='chat'><body>hi bob</body></message>")
        (carbon,) = self.phone.read()
        self.assertEqual((carbon["from"], carbon["to"]), ("alice@example.com", "alice@example.com/phone"))
        inner = carbon.sent.forwarded.message
        self.assertEqual((str(inner.body), inner["from"]), ("hi bob", "alice@example.com/pc"))
        self.assertEqual(self.pc.read(), [])

    def test_received(self):
        """
        A chat to the PC's full JID reaches the phone as a "received" carbon.
        """
        self.bob.send("<message to='alice@example.com/pc' type='chat'><body>hi pc</body></message>")
        self.assertEqual(str(self.pc.readOne().body), "hi pc")
        (carbon,) = self.phone.read()
        self.assertEqual(str(carbon.received.forwarded.message.body), "hi pc")

    def test_privateNotCopied(self):
        """
        Messages marked private are not copied.
        """
        self.pc.send(f"<message to='bob@example.com' type='chat'><body>x</body><private xmlns='{NS}'/></message>")
        self.assertEqual(self.phone.read(), [])

    def test_disable(self):
        """
        A resource that disabled carbons gets none.
        """
        self.phone.send(f"<iq type='set' id='d'><disable xmlns='{NS}'/></iq>")
        self.phone.read()
        self.pc.send("<message to='bob@example.com' type='chat'><body>x</body></message>")
        self.assertEqual(self.phone.read(), [])

    def test_headlinesNotCopied(self):
        """
        Only chats and normal messages with a body are copied.
        """
        self.pc.send("<message to='bob@example.com' type='headline'><body>x</body></message>")
        self.pc.send("<message to='bob@example.com'><active xmlns='http://jabber.org/protocol/chatstates'/></message>")
        self.assertEqual(self.phone.read(), [])
