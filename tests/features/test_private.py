"""
Tests for L{openmessenger.features.private}.
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import FakeServer

BOOKMARKS = "<storage xmlns='storage:bookmarks'><conference jid='room@muc.example.com' name='Room'/></storage>"


class PrivateStorageTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        self.server.addUser("alice@example.com")
        self.server.addUser("bob@example.com")
        self.alice = self.server.login("alice@example.com")

    def test_roundTrip(self):
        """
        What Alice stores she gets back; an unknown namespace comes back empty.
        """
        self.alice.send(f"<iq type='set' id='s'><query xmlns='jabber:iq:private'>{BOOKMARKS}</query></iq>")
        self.assertEqual(self.alice.readOne()["type"], "result")
        self.alice.send("<iq type='get' id='g'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>")
        storage = self.alice.readOne().query.storage
        self.assertEqual(storage.conference["jid"], "room@muc.example.com")
        self.alice.send("<iq type='get' id='g'><query xmlns='jabber:iq:private'><roster xmlns='roster:delimiter'/></query></iq>")
        empty = self.alice.readOne().query.firstChildElement()
        self.assertEqual((empty.uri, empty.children), ("roster:delimiter", []))

    def test_textKept(self):
        """
        Text directly inside the stored element comes back: Psi's roster
        delimiter is nothing else.
        """
        self.alice.send("<iq type='set' id='s'><query xmlns='jabber:iq:private'>"
                        "<roster xmlns='roster:delimiter'>::</roster></query></iq>")
        self.assertEqual(self.alice.readOne()["type"], "result")
        self.alice.send("<iq type='get' id='g'><query xmlns='jabber:iq:private'>"
                        "<roster xmlns='roster:delimiter'/></query></iq>")
        self.assertEqual(str(self.alice.readOne().query.roster), "::")

    def test_quotas(self):
        """
        A document over the size limit is refused, and so is a namespace
        beyond the most one user may keep; replacing one still works.
        """
        server = FakeServer(extra="[private]\nmax_size = 200\nmax_documents = 2\n")
        server.addUser("alice@example.com")
        alice = server.login("alice@example.com")

        def store(namespace, text=""):
            alice.send(f"<iq type='set' id='s'><query xmlns='jabber:iq:private'>"
                       f"<x xmlns='{namespace}'>{text}</x></query></iq>")
            reply = alice.readOne()
            return reply["type"] if reply["type"] == "result" else reply.error.firstChildElement().name

        self.assertEqual(store("a:b", "x" * 300), "not-acceptable")
        self.assertEqual(store("a:1"), "result")
        self.assertEqual(store("a:2"), "result")
        self.assertEqual(store("a:3"), "resource-constraint")
        self.assertEqual(store("a:1", "again"), "result")

    def test_reservedNamespaces(self):
        """
        Reserved namespaces are C{not-acceptable}.
        """
        for child in ["<x xmlns='jabber:client'/>", "<query xmlns='jabber:iq:private'/>"]:
            self.alice.send(f"<iq type='set' id='s'><query xmlns='jabber:iq:private'>{child}</query></iq>")
            self.assertEqual(self.alice.readOne().error.firstChildElement().name, "not-acceptable", child)

    def test_onlyOwn(self):
        """
        Bob cannot read Alice's private data.
        """
        self.alice.send(f"<iq type='set' id='s'><query xmlns='jabber:iq:private'>{BOOKMARKS}</query></iq>")
        self.alice.read()
        bob = self.server.login("bob@example.com")
        bob.send("<iq type='get' id='g' to='alice@example.com'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>")
        self.assertEqual(bob.readOne().error.firstChildElement().name, "forbidden")

    def test_exactlyOneChild(self):
        """
        A query with no child or two is C{bad-request}.
        """
        self.alice.send("<iq type='get' id='g'><query xmlns='jabber:iq:private'/></iq>")
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "bad-request")
