"""
Tests for L{openmessenger.features.blocking}.
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import FakeServer

NS = "urn:xmpp:blocking"


class BlockingTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        for user in ["alice", "bob", "carol"]:
            self.server.addUser(f"{user}@example.com")
        self.server.befriend("alice@example.com", "bob@example.com")
        self.alice = self.server.login("alice@example.com")
        self.bob = self.server.login("bob@example.com")
        self.alice.read()

    def block(self, *jids, action="block"):
        items = "".join(f"<item jid='{j}'/>" for j in jids)
        self.alice.send(f"<iq type='set' id='b'><{action} xmlns='{NS}'>{items}</{action}></iq>")
        return self.alice.read()

    def blocklist(self):
        self.alice.send(f"<iq type='get' id='l'><blocklist xmlns='{NS}'/></iq>")
        return [i["jid"] for i in self.alice.readOne().blocklist.elements(NS, "item")]

    def test_listAndPush(self):
        """
        Blocking is stored, pushed to interested resources and listed.
        """
        self.assertEqual(self.blocklist(), [])
        (result, push) = self.block("bob@example.com")
        self.assertEqual(result["type"], "result")
        self.assertEqual([i["jid"] for i in push.block.elements(NS, "item")], ["bob@example.com"])
        self.assertEqual(self.blocklist(), ["bob@example.com"])
        self.assertEqual(self.server.store.getBlocked("alice@example.com").result, ["bob@example.com"])

    def test_blockedContactSeesOffline(self):
        """
        The blocked contact sees the user go offline and hears nothing more.
        """
        self.block("bob@example.com")
        gone = [(e["from"], e.getAttribute("type")) for e in self.bob.read() if e.name == "presence"]
        self.assertEqual(gone, [("alice@example.com/test", "unavailable")])
        self.alice.send("<presence><show>away</show></presence>")
        self.assertEqual(self.bob.read(), [])

    def test_strangersLearnNothing(self):
        """
        Blocking and unblocking someone who may not see the user's presence
        (not subscribed) sends them nothing: no "offline", no status.
        """
        carol = self.server.login("carol@example.com")
        carol.read()
        self.alice.send("<presence><status>at the dentist</status></presence>")
        self.block("carol@example.com")
        self.block("example.com")
        self.block("carol@example.com", "example.com", action="unblock")
        self.block(action="unblock")
        self.assertEqual([e for e in carol.read() if e.name == "presence"], [])
        # bob, a contact, was covered by the domain entry: offline, then back.
        seen = [e.getAttribute("type", "available") for e in self.bob.read() if e.name == "presence"]
        self.assertEqual(seen, ["available", "unavailable", "available"])

    def test_inboundStopped(self):
        """
        Messages from a blocked address bounce; its presence is dropped.
        """
        self.block("bob@example.com")
        self.bob.read()
        self.bob.send("<message to='alice@example.com' id='m'><body>hello?</body></message>")
        self.assertEqual(self.bob.readOne().error.firstChildElement().name, "service-unavailable")
        self.bob.send("<message to='alice@example.com/test' id='m'><body>hello?</body></message>")
        self.assertEqual(self.bob.readOne().error.firstChildElement().name, "service-unavailable")
        self.bob.send("<presence><show>chat</show></presence>")
        self.assertEqual([e for e in self.alice.read() if e.name in ("message", "presence")], [])

    def test_outboundRefused(self):
        """
        Sending to a blocked address is refused with C{<blocked/>}.
        """
        self.block("bob@example.com")
        self.alice.send("<message to='bob@example.com' id='m'><body>x</body></message>")
        error = self.alice.readOne().error
        self.assertEqual([(c.uri, c.name) for c in error.elements()][0][1], "not-acceptable")
        self.assertIn(("urn:xmpp:blocking:errors", "blocked"), [(c.uri, c.name) for c in error.elements()])

    def test_domainBlock(self):
        """
        Blocking a domain blocks everyone there.
        """
        self.block("example.org")
        self.server.addUser("dave@example.org")
        dave = self.server.login("dave@example.org")
        dave.send("<message to='alice@example.com' id='m'><body>x</body></message>")
        self.assertEqual(dave.readOne().error.firstChildElement().name, "service-unavailable")

    def test_unblock(self):
        """
        Unblocking one, then all.
        """
        self.block("bob@example.com", "carol@example.com")
        self.blocklist()
        self.block("bob@example.com", action="unblock")
        self.assertEqual(self.blocklist(), ["carol@example.com"])
        self.block(action="unblock")
        self.assertEqual(self.blocklist(), [])
        self.bob.read()
        self.bob.send("<message to='alice@example.com/test' type='chat'><body>back</body></message>")
        self.assertEqual(str(self.alice.readOne().body), "back")

    def test_badRequests(self):
        """
        An empty block or a malformed address is refused.
        """
        self.assertEqual(self.block()[0].error.firstChildElement().name, "bad-request")
        self.assertEqual(self.block("a..b")[0].error.firstChildElement().name, "jid-malformed")
