"""
Tests for shared rosters (L{openmessenger.features.sharedroster} and the
shared items of L{openmessenger.xmpp.rosters}).
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import FakeServer

NS_ROSTER = "jabber:iq:roster"


class SharedRosterTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        for user in ["alice", "bob", "carol"]:
            self.server.addUser(f"{user}@example.com")
        self.directory = self.server.core.directory
        self.successResultOf(self.directory.addCompany("acme", "ACME", ["example.com"]))
        self.successResultOf(self.directory.addGroup("sales", "acme", "Sales"))
        self.successResultOf(self.directory.setProfile("bob@example.com", displayName="Bob Builder"))

    def roster(self, client):
        client.send(f"<iq type='get' id='r'><query xmlns='{NS_ROSTER}'/></iq>")
        query = [e for e in client.read() if e.name == "iq"][0].query
        return {
            i["jid"]: (i["subscription"], i.getAttribute("name"), [str(g) for g in i.elements(NS_ROSTER, "group")])
            for i in query.elements(NS_ROSTER, "item")
        }

    def test_membersSeeEachOther(self):
        """
        Group members are in each other's rosters, under the group's name,
        subscribed both ways, and see each other's presence.
        """
        for user in ("alice@example.com", "bob@example.com"):
            self.successResultOf(self.directory.addMember("sales", user))
        alice = self.server.login("alice@example.com")
        bob = self.server.login("bob@example.com", available=False)
        self.assertEqual(self.roster(alice), {"bob@example.com": ("both", "Bob Builder", ["Sales"])})
        bob.send("<presence/>")
        self.assertIn("alice@example.com/test", [e.getAttribute("from") for e in bob.read() if e.name == "presence"])
        bob.send("<presence><show>away</show></presence>")
        self.assertIn("away", [str(e.show) for e in alice.read() if e.name == "presence" and e.show])

    def test_addMemberPushes(self):
        """
        Adding a member pushes the roster change to online members and
        exchanges presence at once; removing takes it back.
        """
        self.successResultOf(self.directory.addMember("sales", "alice@example.com"))
        alice = self.server.login("alice@example.com")
        bob = self.server.login("bob@example.com")
        alice.read(), bob.read()
        self.successResultOf(self.directory.addMember("sales", "bob@example.com"))
        pushed = [e for e in alice.read() if e.name == "iq"]
        self.assertEqual([i["jid"] for e in pushed for i in e.query.elements(NS_ROSTER, "item")], ["bob@example.com"])
        self.assertIn("alice@example.com/test", [e.getAttribute("from") for e in bob.read() if e.name == "presence"])
        self.successResultOf(self.directory.removeMember("sales", "bob@example.com"))
        elements = alice.read()
        removed = [i["subscription"] for e in elements if e.name == "iq" for i in e.query.elements(NS_ROSTER, "item")]
        self.assertEqual(removed, ["remove"])
        self.assertIn("unavailable", [e.getAttribute("type") for e in elements if e.name == "presence"])

    def test_notSharedGroup(self):
        """
        Members of a group without shared roster do not see each other.
        """
        self.successResultOf(self.directory.addGroup("quiet", "acme", "Quiet", sharedRoster=False))
        for user in ("alice@example.com", "bob@example.com"):
            self.successResultOf(self.directory.addMember("quiet", user))
        self.assertEqual(self.roster(self.server.login("alice@example.com")), {})

    def test_versionChangesWithGroup(self):
        """
        The roster version changes when the group does, though nothing
        stored changed (XEP-0237).
        """
        self.successResultOf(self.directory.addMember("sales", "alice@example.com"))
        alice = self.server.login("alice@example.com")
        alice.send(f"<iq type='get' id='r'><query xmlns='{NS_ROSTER}' ver=''/></iq>")
        before = [e for e in alice.read() if e.name == "iq"][0].query["ver"]
        self.successResultOf(self.directory.addMember("sales", "carol@example.com"))
        alice.read()
        alice.send(f"<iq type='get' id='r'><query xmlns='{NS_ROSTER}' ver='{before}'/></iq>")
        reply = [e for e in alice.read() if e.name == "iq"][0]
        self.assertIsNotNone(reply.query)
        self.assertNotEqual(reply.query["ver"], before)

    def test_loginCostDoesNotGrowWithTheSquare(self):
        """
        Logging in to a big group works out the shared contacts a few
        times, not once per member (each probe asked again before); the
        answer follows a rename and a new display name.
        """
        members = [f"m{n}@example.com" for n in range(40)]
        for member in members:
            self.server.addUser(member)
        self.successResultOf(self.directory.setMembers("sales", members))
        for member in members[1:]:
            self.server.login(member)
        computed = []
        original = self.directory.computeSharedContacts
        self.patch(self.directory, "computeSharedContacts", lambda user: computed.append(user) or original(user))
        first = self.server.login(members[0])
        self.assertLessEqual(computed.count(members[0]), 2)
        self.successResultOf(self.directory.renameGroup("sales", "Vertrieb", True))
        self.successResultOf(self.directory.setProfile(members[1], displayName="Emma"))
        first.read()  # the pushes of the rename
        self.assertEqual(self.roster(first)[members[1]], ("both", "Emma", ["Vertrieb"]))
