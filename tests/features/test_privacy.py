"""
Tests for L{openmessenger.features.privacy}: blocking through privacy lists,
the way Psi 1.5 does it.
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import FakeServer

NS = "jabber:iq:privacy"
BLOCKED_LIST = (
    f"<iq type='set' id='l'><query xmlns='{NS}'><list name='blocked'>"
    "<item type='jid' value='bob@example.com' action='deny' order='1'/>"
    "<item action='allow' order='2'/></list></query></iq>"
)


class PrivacyTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        for user in ["alice", "bob"]:
            self.server.addUser(f"{user}@example.com")
        self.server.befriend("alice@example.com", "bob@example.com")
        self.alice = self.server.login("alice@example.com")
        self.bob = self.server.login("bob@example.com")
        self.alice.read()

    def set(self, xml):
        self.alice.send(xml)
        return [e for e in self.alice.read() if e.name == "iq"]

    def test_blockThroughDefaultList(self):
        """
        A list denying Bob, made the default, blocks him; dropping the rule
        unblocks him and he sees Alice again.
        """
        self.assertEqual([e["type"] for e in self.set(BLOCKED_LIST)], ["result", "set"])
        self.assertEqual(self.set(f"<iq type='set' id='d'><query xmlns='{NS}'><default name='blocked'/></query></iq>")[0]["type"], "result")
        self.assertIn("unavailable", [e.getAttribute("type") for e in self.bob.read() if e.name == "presence"])
        self.bob.send("<message to='alice@example.com' id='m'><body>hi</body></message>")
        self.assertEqual(self.bob.readOne().error.firstChildElement().name, "service-unavailable")
        self.set(
            f"<iq type='set' id='l'><query xmlns='{NS}'><list name='blocked'>"
            "<item action='allow' order='1'/></list></query></iq>"
        )
        self.assertIn(None, [e.getAttribute("type") for e in self.bob.read() if e.name == "presence"])
        self.bob.send("<message to='alice@example.com/test' type='chat'><body>back</body></message>")
        self.assertEqual(str(self.alice.readOne().body), "back")

    def test_listing(self):
        """
        Names, the default and the active list are listed; a list comes back
        as stored; unknown lists are C{item-not-found}.
        """
        self.set(BLOCKED_LIST)
        self.set(f"<iq type='set' id='a'><query xmlns='{NS}'><active name='blocked'/></query></iq>")
        self.alice.send(f"<iq type='get' id='g'><query xmlns='{NS}'/></iq>")
        query = self.alice.readOne().query
        self.assertEqual([(c.name, c["name"]) for c in query.elements()], [("active", "blocked"), ("list", "blocked")])
        self.alice.send(f"<iq type='get' id='g'><query xmlns='{NS}'><list name='blocked'/></query></iq>")
        self.assertEqual(len(list(self.alice.readOne().query.list.elements())), 2)
        self.alice.send(f"<iq type='get' id='g'><query xmlns='{NS}'><list name='nope'/></query></iq>")
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "item-not-found")

    def test_activeListBlocks(self):
        """
        An active list blocks too, and the block ends with the session.
        """
        self.set(BLOCKED_LIST)
        self.set(f"<iq type='set' id='a'><query xmlns='{NS}'><active name='blocked'/></query></iq>")
        self.bob.read()
        self.bob.send("<message to='alice@example.com' id='m'><body>hi</body></message>")
        self.assertEqual(self.bob.readOne()["type"], "error")

    def test_pipelinedRequestsInOrder(self):
        """
        Psi sends its list, then default and active, without waiting: they
        are handled in order, each seeing the one before.
        """
        from tests.xmpp.test_rosters import SlowStore

        server = FakeServer(store=SlowStore())
        server.addUser("alice@example.com")
        store = server.store
        store.setDocument = lambda *a, _set=store.setDocument: _set(*a).addCallback(store._later)
        alice = server.login("alice@example.com")
        alice.send(
            f"<iq type='set' id='1'><query xmlns='{NS}'><list name='blocked'><item action='allow' order='1'/></list></query></iq>"
            f"<iq type='set' id='2'><query xmlns='{NS}'><default name='blocked'/></query></iq>"
            f"<iq type='set' id='3'><query xmlns='{NS}'><active name='blocked'/></query></iq>"
        )
        while store.pending:
            store.finish()
        replies = {e["id"]: e["type"] for e in alice.read() if e.name == "iq" and e.getAttribute("id") in "123"}
        self.assertEqual(replies, {"1": "result", "2": "result", "3": "result"})
        self.assertIn("default='blocked'", store._documents["alice@example.com"]["privacy lists"])

    def test_removeListInUse(self):
        """
        The default list cannot be removed while it is the default.
        """
        self.set(BLOCKED_LIST)
        self.set(f"<iq type='set' id='d'><query xmlns='{NS}'><default name='blocked'/></query></iq>")
        reply = self.set(f"<iq type='set' id='r'><query xmlns='{NS}'><list name='blocked'/></query></iq>")
        self.assertEqual(reply[0].error.firstChildElement().name, "conflict")

    def test_blockedErrorFromContact(self):
        """
        Writing to a blocked contact is refused with an error that comes
        from the contact's address (so Psi shows it in that chat).
        """
        self.set(BLOCKED_LIST)
        self.set(f"<iq type='set' id='d'><query xmlns='{NS}'><default name='blocked'/></query></iq>")
        self.alice.send("<message to='bob@example.com' type='chat' id='x'><body>hi</body></message>")
        error = self.alice.readOne()
        self.assertEqual((error["from"], error.error["type"]), ("bob@example.com", "cancel"))
