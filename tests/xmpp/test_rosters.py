"""
Tests for L{openmessenger.xmpp.rosters}: the in-memory roster copy and how
it stays true while storage is slow.
"""

from twisted.internet import defer
from twisted.trial.unittest import SynchronousTestCase

from openmessenger.storage.interfaces import RosterItem
from openmessenger.storage.memory import MemoryStore
from tests.helpers import FakeServer


class SlowStore(MemoryStore):
    """
    A memory store whose roster writes complete only when the test says so.
    """

    def __init__(self):
        MemoryStore.__init__(self)
        self.pending = []

    def _later(self, result):
        d = defer.Deferred()
        self.pending.append((d, result))
        return d

    def setItem(self, user, item):
        return MemoryStore.setItem(self, user, item).addCallback(self._later)

    def setPendingIn(self, user, contact, pending):
        return MemoryStore.setPendingIn(self, user, contact, pending).addCallback(self._later)

    def finish(self):
        while self.pending:
            d, result = self.pending.pop(0)
            d.callback(result)


class RosterManagerTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer(store=SlowStore())
        for user in ["alice", "bob"]:
            self.server.addUser(f"{user}@example.com")
        self.alice = self.server.login("alice@example.com")
        self.bob = self.server.login("bob@example.com")

    def test_concurrentSubscriptionStanzas(self):
        """
        Approving a request and asking back, sent together while storage is
        still writing, both take effect: neither overwrites the other.
        """
        self.alice.send("<presence to='bob@example.com' type='subscribe'/>")
        self.server.store.finish()
        self.bob.send(
            "<presence to='alice@example.com' type='subscribed'/>"
            "<presence to='alice@example.com' type='subscribe'/>"
        )
        self.server.store.finish()
        self.alice.send("<presence to='bob@example.com' type='subscribed'/>")
        self.server.store.finish()
        bob = self.server.store.getItem("bob@example.com", "alice@example.com").result
        alice = self.server.store.getItem("alice@example.com", "bob@example.com").result
        self.assertEqual((bob.subscription, bob.ask), ("both", False))
        self.assertEqual((alice.subscription, alice.ask), ("both", False))

    def test_pushWaitsForStorage(self):
        """
        A roster push and the iq result go out only after storage confirmed
        the change.
        """
        self.alice.send(
            "<iq type='set' id='s'><query xmlns='jabber:iq:roster'>"
            "<item jid='carol@example.com'/></query></iq>"
        )
        self.assertEqual(self.alice.read(), [])
        self.server.store.finish()
        self.assertEqual([e["type"] for e in self.alice.read()], ["set", "result"])

    def test_failedWriteReloads(self):
        """
        When a write fails, the in-memory copy is dropped and reloaded from
        storage, so it never shows a change that was not stored.
        """
        rosters = self.server.core.rosters
        self.successResultOf(rosters.get("alice@example.com"))
        d = rosters.setItem("alice@example.com", RosterItem("carol@example.com"))
        d.addErrback(lambda f: None)
        self.server.store.pending[0][0].errback(RuntimeError("disk full"))
        self.server.store.pending.clear()
        self.server.store._rosters["alice@example.com"].pop("carol@example.com")
        roster = self.successResultOf(rosters.get("alice@example.com"))
        self.assertNotIn("carol@example.com", roster.items)
