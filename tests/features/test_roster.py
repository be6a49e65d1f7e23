"""
Tests for L{openmessenger.features.roster}.
"""

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.storage.interfaces import RosterItem
from tests.helpers import FakeServer

NS_ROSTER = "jabber:iq:roster"


def rosterSet(item, id="set"):
    return f"<iq type='set' id='{id}'><query xmlns='{NS_ROSTER}'>{item}</query></iq>"


def items(query):
    return {i["jid"]: i for i in query.elements(NS_ROSTER, "item")}


class RosterTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        for user in ["alice", "bob"]:
            self.server.addUser(f"{user}@example.com")
        self.alice = self.server.login("alice@example.com", "pc")

    def get(self, client=None, ver=None):
        client = client or self.alice
        attribute = f" ver='{ver}'" if ver is not None else ""
        client.send(f"<iq type='get' id='g'><query xmlns='{NS_ROSTER}'{attribute}/></iq>")
        return client.readOne()

    def test_quotas(self):
        """
        A roster holds at most max_items contacts and an item at most
        max_item_size characters of name and groups; changing an existing
        item still works when the roster is full.
        """
        server = FakeServer(extra="[roster]\nmax_items = 2\nmax_item_size = 50\n")
        server.addUser("alice@example.com")
        alice = server.login("alice@example.com")

        def set(item):
            alice.send(rosterSet(item))
            replies = [e for e in alice.read() if e.getAttribute("id") == "set"]
            reply = replies[0]
            return reply["type"] if reply["type"] == "result" else reply.error.firstChildElement().name

        self.assertEqual(set("<item jid='a@example.com' name='" + "x" * 40 + "'><group>" + "g" * 20
                             + "</group></item>"), "not-acceptable")
        self.assertEqual(set("<item jid='a@example.com'/>"), "result")
        self.assertEqual(set("<item jid='b@example.com'/>"), "result")
        self.assertEqual(set("<item jid='c@example.com'/>"), "resource-constraint")
        self.assertEqual(set("<item jid='a@example.com' name='A'/>"), "result")

    def test_emptyRoster(self):
        """
        A new user's roster is empty.
        """
        reply = self.get()
        self.assertEqual(reply["type"], "result")
        self.assertEqual(items(reply.query), {})

    def test_setPushesAndPersists(self):
        """
        A roster set is answered with a result after a push to every
        interested resource, and is kept in storage.
        """
        phone = self.server.login("alice@example.com", "phone")
        self.alice.send(rosterSet(
            "<item jid='bob@example.com' name='Bob'><group>Friends</group><group>Work</group></item>"
        ))
        for client in [self.alice, phone]:
            elements = [e for e in client.read() if e.name == "iq"]
            push = [e for e in elements if e["type"] == "set"][0]
            self.assertEqual(push["from"], "alice@example.com")
            item = items(push.query)["bob@example.com"]
            self.assertEqual((item["name"], item["subscription"]), ("Bob", "none"))
            self.assertEqual([str(g) for g in item.elements(NS_ROSTER, "group")], ["Friends", "Work"])
        self.assertEqual([e["type"] for e in elements], ["set"])
        stored = self.server.store.getItem("alice@example.com", "bob@example.com").result
        self.assertEqual((stored.name, stored.groups), ("Bob", ("Friends", "Work")))

    def test_resultAfterPush(self):
        """
        The setting resource gets its push before the result.
        """
        self.alice.send(rosterSet("<item jid='bob@example.com'/>"))
        self.assertEqual([e["type"] for e in self.alice.read()], ["set", "result"])

    def test_noPushToUninterested(self):
        """
        A resource that never asked for the roster gets no push.
        """
        quiet = self.server.login("alice@example.com", "quiet", roster=False)
        self.alice.send(rosterSet("<item jid='bob@example.com'/>"))
        self.assertEqual(quiet.read(), [])

    def test_updateKeepsSubscription(self):
        """
        Renaming an item keeps its subscription state; a C{subscription}
        attribute other than C{remove} in a set is ignored.
        """
        self.server.addUser("carol@example.com")
        romeo = RosterItem("romeo@montague.example", subscription="both")
        self.server.store.setItem("carol@example.com", romeo)
        carol = self.server.login("carol@example.com")
        carol.send(rosterSet("<item jid='romeo@montague.example' name='Robert' subscription='none'/>"))
        push = carol.read()[0]
        item = items(push.query)["romeo@montague.example"]
        self.assertEqual((item["name"], item["subscription"]), ("Robert", "both"))

    def test_remove(self):
        """
        Removing an item pushes C{subscription='remove'}.
        """
        self.alice.send(rosterSet("<item jid='bob@example.com'/>"))
        self.alice.read()
        self.alice.send(rosterSet("<item jid='bob@example.com' subscription='remove'/>"))
        push, result = self.alice.read()
        self.assertEqual(items(push.query)["bob@example.com"]["subscription"], "remove")
        self.assertEqual(result["type"], "result")
        self.assertEqual(items(self.get().query), {})

    def test_removeUnknown(self):
        """
        Removing a contact not in the roster is C{item-not-found}.
        """
        self.alice.send(rosterSet("<item jid='nobody@example.com' subscription='remove'/>"))
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "item-not-found")

    def test_badSets(self):
        """
        Malformed roster sets get their RFC 6121 errors and change nothing.
        """
        cases = [
            ("", "bad-request"),
            ("<item jid='a@example.com'/><item jid='b@example.com'/>", "bad-request"),
            ("<item jid='a..b'/>", "jid-malformed"),
            ("<item/>", "jid-malformed"),
            ("<item jid='alice@example.com'/>", "not-allowed"),
            ("<item jid='a@example.com'><group>G</group><group>G</group></item>", "bad-request"),
            ("<item jid='a@example.com'><group> </group></item>", "not-acceptable"),
            (f"<item jid='a@example.com' name='{'n' * 2000}'/>", "not-acceptable"),
        ]
        for item, condition in cases:
            self.alice.send(rosterSet(item))
            self.assertEqual(self.alice.readOne().error.firstChildElement().name, condition, item)
        self.assertEqual(items(self.get().query), {})

    def test_otherUsersRoster(self):
        """
        Nobody can read or change another user's roster.
        """
        self.alice.send(f"<iq type='get' id='g' to='bob@example.com'><query xmlns='{NS_ROSTER}'/></iq>")
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "service-unavailable")
        self.alice.send(
            f"<iq type='set' id='s' to='bob@example.com'><query xmlns='{NS_ROSTER}'>"
            "<item jid='mallory@example.com'/></query></iq>"
        )
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "service-unavailable")
        self.assertEqual(self.server.store.getRoster("bob@example.com").result.items, {})

    def test_versioning(self):
        """
        With roster versioning, an unchanged roster is an empty result and a
        changed one comes whole with its new version (XEP-0237).
        """
        first = self.get(ver="")
        version = first.query["ver"]
        unchanged = self.get(ver=version)
        self.assertIsNone(unchanged.query)
        self.alice.send(rosterSet("<item jid='bob@example.com'/>"))
        push, _ = self.alice.read()
        self.assertNotEqual(push.query["ver"], version)
        changed = self.get(ver=version)
        self.assertEqual(changed.query["ver"], push.query["ver"])
        self.assertEqual(list(items(changed.query)), ["bob@example.com"])
