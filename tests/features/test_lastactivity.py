"""
Tests for L{openmessenger.features.lastactivity}.
"""

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.storage.interfaces import RosterItem
from tests.helpers import FakeServer

QUERY = "<iq type='get' id='l'{to}><query xmlns='jabber:iq:last'/></iq>"


class LastActivityTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        for user in ["alice", "bob", "carol"]:
            self.server.addUser(f"{user}@example.com")
        self.server.store.setItem("bob@example.com", RosterItem("alice@example.com", subscription="from"))
        self.alice = self.server.login("alice@example.com")

    def ask(self, to):
        self.alice.send(QUERY.format(to=f" to='{to}'" if to else ""))
        return self.alice.readOne()

    def test_offlineContact(self):
        """
        For an offline contact: seconds since logout and the last status.
        """
        bob = self.server.login("bob@example.com")
        self.alice.read()
        bob.send("<presence type='unavailable'><status>Gone fishing</status></presence>")
        bob.stream.connectionLost(None)
        self.alice.read()
        self.server.clock.advance(125)
        reply = self.ask("bob@example.com")
        self.assertEqual((reply.query["seconds"], str(reply.query)), ("125", "Gone fishing"))

    def test_onlineContact(self):
        """
        An available contact has been active 0 seconds ago.
        """
        self.server.login("bob@example.com")
        self.alice.read()
        self.assertEqual(self.ask("bob@example.com").query["seconds"], "0")

    def test_idleContact(self):
        """
        For an online contact whose client reported idleness: the idle time.
        """
        bob = self.server.login("bob@example.com")
        self.alice.read()
        bob.send("<inactive xmlns='urn:xmpp:csi:0'/>")
        self.server.clock.advance(42)
        self.alice.read()
        self.assertEqual(self.ask("bob@example.com").query["seconds"], "42")

    def test_notAuthorized(self):
        """
        Somebody not subscribed to the user's presence is C{forbidden}.
        """
        self.assertEqual(self.ask("carol@example.com").error.firstChildElement().name, "forbidden")

    def test_neverLoggedIn(self):
        """
        A contact who never logged in has no last activity.
        """
        reply = self.ask("bob@example.com")
        self.assertEqual(reply.error.firstChildElement().name, "service-unavailable")

    def test_uptime(self):
        """
        Asked of the server, it is the uptime.
        """
        self.server.clock.advance(42)
        self.assertEqual(self.ask("example.com").query["seconds"], "42")
