"""
Tests for L{openmessenger.features.disco}.
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import FakeServer

NS_INFO = "http://jabber.org/protocol/disco#info"
NS_ITEMS = "http://jabber.org/protocol/disco#items"


class DiscoTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        self.server.addUser("alice@example.com")
        self.alice = self.server.login("alice@example.com")

    def ask(self, ns, node=None, to="example.com"):
        attribute = f" node='{node}'" if node else ""
        self.alice.send(f"<iq type='get' id='d' to='{to}'><query xmlns='{ns}'{attribute}/></iq>")
        return self.alice.readOne()

    def test_serverInfo(self):
        """
        The server is an IM server and lists the features of its handlers.
        """
        reply = self.ask(NS_INFO)
        identities = [(i["category"], i["type"]) for i in reply.query.elements(NS_INFO, "identity")]
        features = {f["var"] for f in reply.query.elements(NS_INFO, "feature")}
        self.assertEqual(identities, [("server", "im")])
        for feature in [NS_INFO, NS_ITEMS, "urn:xmpp:ping", "jabber:iq:version",
                        "jabber:iq:last", "http://jabber.org/protocol/commands"]:
            self.assertIn(feature, features)

    def test_commandItems(self):
        """
        The command list names the auto-away settings command.
        """
        reply = self.ask(NS_ITEMS, node="http://jabber.org/protocol/commands")
        items = [(i["jid"], i["node"], i["name"]) for i in reply.query.elements(NS_ITEMS, "item")]
        self.assertEqual(items, [("example.com", "urn:openmessenger:autoaway", "Auto-away settings")])

    def test_unknownNode(self):
        """
        An unknown node is C{item-not-found}.
        """
        self.assertEqual(self.ask(NS_INFO, node="nope").error.firstChildElement().name, "item-not-found")


class CapsTests(SynchronousTestCase):
    def test_versionVector(self):
        """
        The verification string follows XEP-0115 5.2 (the simple example).
        """
        from openmessenger.compat import wokkel  # noqa: F401
        from wokkel import disco

        from openmessenger.features.disco import capsVersion

        entries = [disco.DiscoIdentity("client", "pc", "Exodus 0.9.1")] + [
            disco.DiscoFeature(f) for f in [
                "http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info",
                "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc",
            ]
        ]
        self.assertEqual(capsVersion(entries), "QgayPKawpkPSDYmwT/WM94uAlu0=")

    def test_inStreamFeatures(self):
        """
        The stream features carry the server's caps, matching its disco#info.
        """
        from openmessenger.features.disco import capsVersion  # noqa: F401
        from tests.helpers import header

        server = FakeServer()
        client = server.client()
        client.send(header())
        caps = client.read()[1].c
        self.assertEqual((caps.uri, caps["hash"]), ("http://jabber.org/protocol/caps", "sha-1"))
        self.assertTrue(caps["ver"])
