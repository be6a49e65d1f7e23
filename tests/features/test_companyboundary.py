"""
Tests for L{openmessenger.features.companyboundary}.
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import FakeServer

NS_ROSTER = "jabber:iq:roster"


class CompanyBoundaryTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        for user in ["alice@example.com", "bob@example.com", "olga@example.org"]:
            self.server.addUser(user)
        self.directory = self.server.core.directory
        self.successResultOf(self.directory.addCompany("acme", "ACME", ["example.com"]))
        self.successResultOf(self.directory.addCompany("other", "Other", ["example.org"]))
        self.alice = self.server.login("alice@example.com")
        self.olga = self.server.login("olga@example.org")
        # Olga and alice are contacts of each other.
        self.alice.send(f"<iq type='set' id='r'><query xmlns='{NS_ROSTER}'><item jid='olga@example.org'/></query></iq>")
        self.alice.send("<presence to='olga@example.org' type='subscribe'/>")
        self.olga.send("<presence to='alice@example.com' type='subscribed'/>")
        self.alice.read()
        self.olga.read()

    def chat(self, sender, to, text):
        sender.send(f"<message to='{to}' type='chat' id='m'><body>{text}</body></message>")

    def test_openByDefault(self):
        """
        Without the setting, users of two companies chat like federated
        users.
        """
        self.chat(self.olga, "alice@example.com", "Hallo")
        self.assertEqual([str(m.body) for m in self.alice.read() if m.name == "message"], ["Hallo"])

    def test_ownCompanyOnly(self):
        """
        With the setting on either side, messages both ways bounce as
        service-unavailable, iq requests too, presence (broadcasts and
        subscription requests) is dropped; within the company all goes on.
        """
        self.successResultOf(self.directory.setCompany("acme", ownCompanyOnly=True))
        for sender, receiver, to in [(self.olga, self.alice, "alice@example.com"),
                                     (self.alice, self.olga, "olga@example.org")]:
            self.chat(sender, to, "Hallo")
            (error,) = sender.read()
            self.assertEqual((error.name, error["type"], error.error.firstChildElement().name),
                             ("message", "error", "service-unavailable"))
            sender.send(f"<iq type='get' id='v' to='{to}'><vCard xmlns='vcard-temp'/></iq>")
            self.assertEqual(sender.readOne().error.firstChildElement().name, "service-unavailable")
            sender.send("<presence><show>away</show></presence>")
            sender.send(f"<presence to='{to}' type='subscribe'/>")
            self.assertEqual([e.name for e in receiver.read()], [])
            sender.read()
        bob = self.server.login("bob@example.com")
        self.chat(bob, "alice@example.com", "Kollege")
        self.assertEqual([str(m.body) for m in self.alice.read() if m.name == "message"], ["Kollege"])
        self.successResultOf(self.directory.setCompany("acme", ownCompanyOnly=False))
        self.chat(self.olga, "alice@example.com", "Wieder da")
        self.assertEqual([str(m.body) for m in self.alice.read() if m.name == "message"], ["Wieder da"])
