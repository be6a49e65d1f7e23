"""
Tests for L{openmessenger.features.account}: what the server answers for an
account itself.
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import FakeServer


class AccountTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        self.server.addUser("alice@example.com")
        self.server.addUser("bob@example.com")
        self.alice = self.server.login("alice@example.com")

    def test_pingWithoutTo(self):
        """
        A ping with no C{to} (or to the own bare JID) is answered with a
        result, as a keep-alive expects (RFC 6120 10.3.3).
        """
        for to in ("", " to='alice@example.com'"):
            self.alice.send(f"<iq type='get' id='p'{to}><ping xmlns='urn:xmpp:ping'/></iq>")
            reply = self.alice.readOne()
            self.assertEqual((reply["type"], reply["id"]), ("result", "p"))

    def test_accountDisco(self):
        """
        Service discovery of one's own account names it a registered
        account.
        """
        self.alice.send("<iq type='get' id='d'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        reply = self.alice.readOne()
        self.assertEqual(reply["type"], "result")
        identity = reply.query.identity
        self.assertEqual((identity["category"], identity["type"]), ("account", "registered"))
        self.alice.send("<iq type='get' id='i'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
        self.assertEqual(self.alice.readOne()["type"], "result")

    def test_notForOthers(self):
        """
        Nobody pings or discovers another user's account through the server.
        """
        bob = self.server.login("bob@example.com")
        bob.send("<iq type='get' id='p' to='alice@example.com'><ping xmlns='urn:xmpp:ping'/></iq>")
        self.assertEqual(bob.readOne().error.firstChildElement().name, "service-unavailable")
