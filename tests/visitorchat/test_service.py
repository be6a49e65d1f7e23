"""
Tests for L{openmessenger.visitorchat.service} and its XMPP side
(L{openmessenger.visitorchat.component}), with supporters as XMPP clients.
"""

from twisted.internet.defer import fail
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel import disco

from openmessenger.features.disco import capsVersion

from openmessenger.visitorchat.model import VisitorError
from openmessenger.storage.interfaces import StorageFull
from openmessenger.storage.memory import MemoryStore
from openmessenger.visitorchat.service import NobodyAvailable, NotSaved
from tests.helpers import FakeServer, parse

NS_ROSTER = "jabber:iq:roster"


def outcome(d):
    """
    The result of a Deferred that has fired, its failure raised.
    """
    results = []
    d.addBoth(results.append)
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]


class ServiceTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        for user in ["alice@example.com", "bob@example.com", "carol@example.com"]:
            self.server.addUser(user)
        d = self.directory = self.server.core.directory
        self.successResultOf(d.addCompany("acme", "ACME", ["example.com"]))
        self.successResultOf(d.addGroup("sales", "acme", "Sales", sharedRoster=False))
        self.successResultOf(d.setMembers("sales", ["alice@example.com", "bob@example.com"]))
        self.successResultOf(d.addSupporter("acme", "alice@example.com", "alice", "Alice", 1, "sales"))
        self.successResultOf(d.addSupporter("acme", "bob@example.com", "bob", "Bob", 2, "sales"))
        self.chats = self.server.core.visitorChats
        self.alice = self.server.login("alice@example.com")

    def start(self, name="Vera", slug=None, parameters=(("Kundennummer", "56164"),), address="198.51.100.1"):
        return outcome(self.chats.start("sales", slug, name, "vera@example.net", list(parameters), "de", address))

    def say(self, chat, text):
        return outcome(self.chats.say(chat, text))

    def messages(self, client):
        return [e for e in client.read() if getattr(e, "name", None) == "message"]

    def test_parametersFirst(self):
        """
        The supporter gets the visitor's contact and presence, then the
        parameters (readable, and as stanza headers), then the first line,
        from the visitor's own JID with a nickname.
        """
        chat = self.start()
        self.chats.say(chat, "Hallo, ich habe eine Frage")
        elements = self.alice.read()
        order = [e.name for e in elements]
        self.assertLess(order.index("presence"), order.index("message"))
        self.assertLess(order.index("iq"), order.index("message"))
        first, second = [m for m in elements if m.name == "message" and m.body is not None]
        self.assertIn("Kundennummer: 56164", str(first.body))
        self.assertIn("Vera", str(first.body))
        headers = {h["name"]: str(h) for h in first.headers.elements("http://jabber.org/protocol/shim", "header")}
        self.assertEqual(headers["param_Kundennummer"], "56164")
        self.assertEqual(str(second.body), "Hallo, ich habe eine Frage")
        self.assertEqual(second["from"], chat.visitorJid)
        self.assertTrue(chat.visitorJid.endswith("@visitors.example.com"))
        self.assertEqual(str(second.nick), "Vera")

    def test_visitorInRoster(self):
        """
        While the chat lasts, the visitor is a contact in the supporter's
        roster, in "Visitors", named after the visitor, and online.
        """
        chat = self.start()
        elements = self.alice.read()
        pushes = [i for e in elements if e.name == "iq" for i in e.query.elements(NS_ROSTER, "item")]
        self.assertEqual([(i["jid"], i["name"], [str(g) for g in i.elements(NS_ROSTER, "group")]) for i in pushes],
                         [(chat.visitorJid, "Vera", ["Visitors"])])
        self.assertIn(chat.visitorJid, [e.getAttribute("from") for e in elements if e.name == "presence"])
        self.chats.close(chat)
        self.assertEqual(self.chats.load("alice@example.com"), 0)
        elements = self.alice.read()
        removed = [i["subscription"] for e in elements if e.name == "iq" for i in e.query.elements(NS_ROSTER, "item")]
        self.assertEqual(removed, ["remove"])
        self.assertIn("unavailable", [e.getAttribute("type") for e in elements if e.name == "presence"])

    def test_typingSentOnChange(self):
        """
        The visitor's typing reaches the supporter once per change of chat
        state, however often the page reports it.
        """
        chat = self.start()
        self.alice.read()
        states = lambda: [e.firstChildElement().name for e in self.alice.read()  # noqa: E731
                          if e.name == "message" and e.body is None]
        for composing in (True, True, True, False, False):
            self.chats.typing(chat, composing)
        self.assertEqual(states(), ["composing", "paused"])
        self.chats.say(chat, "Frage")
        self.alice.read()
        self.chats.typing(chat, True)
        self.assertEqual(states(), ["composing"])

    def test_replies(self):
        """
        The supporter's reply and typing reach the visitor's events, in order.
        """
        chat = self.start()
        self.alice.read()
        self.alice.send(f"<message to='{chat.visitorJid}' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
        self.alice.send(f"<message to='{chat.visitorJid}' type='chat'><body>Guten Tag!</body></message>")
        events = self.successResultOf(self.chats.events(chat, 0))
        self.assertEqual([(e["kind"], e["text"]) for e in events],
                         [("system", "Alice"), ("typing", "composing"), ("message", "Guten Tag!")])

    def test_longPoll(self):
        """
        A poll with nothing new waits, and answers as soon as something
        happens, or empty after 25 seconds.
        """
        chat = self.start()
        d = self.chats.events(chat, 1)
        self.assertNoResult(d)
        self.alice.send(f"<message to='{chat.visitorJid}' type='chat'><body>Da bin ich</body></message>")
        self.assertEqual([e["text"] for e in self.successResultOf(d)], ["Da bin ich"])
        d = self.chats.events(chat, 2)
        self.server.clock.advance(25)
        self.assertEqual(self.successResultOf(d), [])

    def test_abandonedPoll(self):
        """
        A poll whose browser went away is forgotten; later news still flow.
        """
        chat = self.start()
        d = self.chats.events(chat, 1)
        d.cancel()
        self.failureResultOf(d)
        self.assertEqual(chat.waiters, [])
        self.alice.send(f"<message to='{chat.visitorJid}' type='chat'><body>Noch da?</body></message>")
        self.assertEqual([e["text"] for e in self.successResultOf(self.chats.events(chat, 1))], ["Noch da?"])

    def test_onlyTheSupporterMayWrite(self):
        """
        Nobody but the chat's supporter can write to the visitor.
        """
        chat = self.start()
        carol = self.server.login("carol@example.com")
        carol.send(f"<message to='{chat.visitorJid}' type='chat' id='x'><body>phish</body></message>")
        self.assertEqual(carol.readOne().error.firstChildElement().name, "service-unavailable")
        self.assertNotIn("phish", [e["text"] for e in self.successResultOf(self.chats.events(chat, 0))])

    def test_routing(self):
        """
        The named supporter if available, else the group; dnd never.
        """
        bob = self.server.login("bob@example.com")
        self.assertEqual(self.start(slug="bob").supporter, "bob@example.com")
        bob.send("<presence><show>dnd</show></presence>")
        self.assertEqual(self.start(slug="bob").supporter, "alice@example.com")

    def test_nobodyAvailable(self):
        """
        With nobody available, the visitor gets the offline form; what they
        leave reaches the staff as an offline message and the transcripts.
        """
        self.alice.stream.connectionLost(None)
        self.assertRaises(NobodyAvailable, self.start)
        self.successResultOf(self.chats.offlineMessage("sales", "Vera", "vera@example.net",
                                                       "Bitte rufen Sie zurück", [("Tel", "123")], "de", "198.51.100.1"))
        stored = self.server.store._offline["alice@example.com"]
        self.assertIn("Bitte rufen Sie zurück", stored[0][1])
        transcripts, _ = self.successResultOf(self.server.store.listTranscripts("acme"))
        self.assertEqual(transcripts[0].endedHow, "offline form")

    def test_supporterGoesOffline(self):
        """
        When the supporter goes offline mid-chat, the chat moves to another
        available supporter, who gets the parameters and what was said.
        """
        bob = self.server.login("bob@example.com")
        chat = self.start(slug="alice")
        self.chats.say(chat, "Erste Frage")
        self.alice.stream.connectionLost(None)
        self.assertEqual(chat.supporter, "bob@example.com")
        bodies = [str(m.body) for m in self.messages(bob) if m.body is not None]
        self.assertIn("Kundennummer: 56164", bodies[0])
        self.assertIn("Erste Frage", bodies)
        kinds = [(e["kind"], e["from"]) for e in self.successResultOf(self.chats.events(chat, 0))]
        self.assertIn(("system", "moved"), kinds)

    def test_noAnswerMovesOn(self):
        """
        A supporter who does not answer in time loses the chat to another.
        """
        self.server.login("bob@example.com")
        chat = self.start(slug="alice")
        self.server.clock.advance(120)
        self.assertEqual(chat.supporter, "bob@example.com")

    def test_transcript(self):
        """
        Every line is in the transcript, with how the chat ended.
        """
        chat = self.start()
        self.chats.say(chat, "Frage")
        self.alice.send(f"<message to='{chat.visitorJid}' type='chat'><body>Antwort</body></message>")
        self.chats.close(chat)
        transcript, lines = self.successResultOf(self.server.store.getTranscript(chat.id))
        self.assertEqual(transcript.endedHow, "visitor")
        self.assertEqual(transcript.parameters, (("Kundennummer", "56164"),))
        self.assertEqual([(l.direction, l.body) for l in lines if l.direction != "system"],
                         [("visitor", "Frage"), ("supporter", "Antwort")])

    def test_retention(self):
        """
        Transcripts older than the retention period are deleted.
        """
        chat = self.start()
        self.chats.close(chat)
        self.server.clock.advance(30 * 86400)
        self.assertEqual(self.successResultOf(self.chats.purge(31)), 0)
        self.assertEqual(self.successResultOf(self.chats.purge(29)), 1)
        self.assertIsNone(self.successResultOf(self.server.store.getTranscript(chat.id)))
        self.assertEqual(self.successResultOf(self.chats.purge(0)), 0)

    def test_companyRetention(self):
        """
        A company's own retention wins over the server's, also "for ever".
        """
        chat = self.start()
        self.chats.close(chat)
        self.server.clock.advance(30 * 86400)
        self.successResultOf(self.server.core.directory.setCompany(chat.company, retentionDays=0))
        self.assertEqual(self.successResultOf(self.chats.purge(1)), 0)
        self.successResultOf(self.server.core.directory.setCompany(chat.company, retentionDays=29))
        self.assertEqual(self.successResultOf(self.chats.purge(365)), 1)

    def test_badInput(self):
        """
        Names, messages and parameters are bounded; chats per address too.
        """
        self.assertRaises(VisitorError, self.start, name="")
        self.assertRaises(VisitorError, self.start, parameters=[("p", "x")] * 30)
        chat = self.start()
        self.assertRaises(VisitorError, self.say, chat, "x" * 2001)
        for _ in range(10):
            self.start(address="203.0.113.5")
        self.assertRaises(VisitorError, self.start, address="203.0.113.5")
        for n in range(20):
            self.chats.say(chat, f"spam {n}")
        self.assertRaises(VisitorError, self.say, chat, "one too many")
        self.server.clock.advance(31)
        self.chats.say(chat, "calm again")

    def test_vcardAndProbe(self):
        """
        The supporter's client can fetch the visitor's vCard (their name), and
        a probe is answered with the visitor's presence.
        """
        chat = self.start()
        self.alice.read()
        self.alice.send(f"<iq type='get' id='v' to='{chat.visitorJid}'><vCard xmlns='vcard-temp'/></iq>")
        self.assertEqual(str(self.alice.readOne().vCard.FN), "Vera")
        self.server.core.router.route(parse(
            f"<presence xmlns='jabber:client' from='alice@example.com' to='{chat.visitorJid}' type='probe'/>"
        ))
        self.assertEqual([e["from"] for e in self.alice.read() if e.name == "presence"], [chat.visitorJid])

    def test_deliveryReceipts(self):
        """
        A receipt the supporter asks for (XEP-0184) comes once the page has
        fetched the message, not before, and only once.
        """
        chat = self.start()
        self.alice.read()
        self.alice.send(f"<message to='{chat.visitorJid}' type='chat' id='m1'><body>Hallo</body>"
                        f"<request xmlns='urn:xmpp:receipts'/></message>")
        self.alice.send(f"<message to='{chat.visitorJid}' type='chat' id='m2'><body>Noch da?</body>"
                        f"<request xmlns='urn:xmpp:receipts'/></message>")
        seqs = [e["seq"] for e in self.successResultOf(self.chats.events(chat, 0))]
        self.assertEqual(self.messages(self.alice), [])
        self.chats.events(chat, seqs[-2])
        received = [m.received for m in self.messages(self.alice)]
        self.assertEqual([(r.uri, r["id"]) for r in received], [("urn:xmpp:receipts", "m1")])
        self.chats.events(chat, seqs[-1])
        self.chats.events(chat, seqs[-1])
        self.assertEqual([m.received["id"] for m in self.messages(self.alice)], ["m2"])

    def test_capabilities(self):
        """
        The visitor's presence announces receipts and chat states by XEP-0115
        caps, and service discovery on the JID (plain and with the caps node)
        lists them, so clients ask for receipts.
        """
        chat = self.start()
        presence = [e for e in self.alice.read() if e.name == "presence"][0]
        caps = presence.c
        self.assertEqual((caps.uri, caps["hash"]), ("http://jabber.org/protocol/caps", "sha-1"))
        for node in [None, f"{caps['node']}#{caps['ver']}"]:
            attribute = f" node='{node}'" if node else ""
            self.alice.send(f"<iq type='get' id='d' to='{chat.visitorJid}'>"
                            f"<query xmlns='http://jabber.org/protocol/disco#info'{attribute}/></iq>")
            query = self.alice.readOne().query
            self.assertEqual(query.getAttribute("node"), node)
            features = {f["var"] for f in query.elements("http://jabber.org/protocol/disco#info", "feature")}
            self.assertTrue({"urn:xmpp:receipts", "http://jabber.org/protocol/chatstates"} <= features)
            self.assertEqual(capsVersion(disco.DiscoInfo.fromElement(query)), caps["ver"])
        self.alice.send(f"<iq type='get' id='d' to='{chat.visitorJid}'>"
                        f"<query xmlns='http://jabber.org/protocol/disco#info' node='other#x'/></iq>")
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "item-not-found")


class FailingStore(MemoryStore):
    """
    A memory store whose named writes fail while listed in C{failing}.
    """

    def __init__(self):
        MemoryStore.__init__(self)
        self.failing = set()

    def putTranscript(self, transcript):
        if "putTranscript" in self.failing:
            return fail(StorageFull("disk full"))
        return MemoryStore.putTranscript(self, transcript)

    def appendLine(self, chat, line):
        if "appendLine" in self.failing:
            return fail(StorageFull("disk full"))
        return MemoryStore.appendLine(self, chat, line)


class FailedWriteTests(SynchronousTestCase):
    """
    Every line is stored before anyone is told it went; a failed write
    reaches the visitor or the supporter.
    """

    def setUp(self):
        self.server = FakeServer(store=FailingStore(), extra="[stream_management]\nresume_timeout = 60\n")
        self.server.addUser("alice@example.com")
        d = self.server.core.directory
        self.successResultOf(d.addCompany("acme", "ACME", ["example.com"]))
        self.successResultOf(d.addSupporter("acme", "alice@example.com", "alice", "Alice"))
        self.alice = self.server.login("alice@example.com")
        self.chats = self.server.core.visitorChats
        self.store = self.server.store

    def start(self):
        return outcome(self.chats.start("acme", None, "Vera", "", [], "de", "198.51.100.1"))

    def tearDown(self):
        self.flushLoggedErrors(StorageFull)

    def test_startNotSaved(self):
        """
        A chat whose transcript cannot be stored does not start: the visitor
        is told, the supporter sees nothing.
        """
        self.store.failing.add("putTranscript")
        self.assertRaises(NotSaved, self.start)
        self.assertEqual(self.alice.read(), [])
        self.assertEqual(self.chats.byToken, {})

    def test_lineNotSaved(self):
        """
        A visitor's line that cannot be stored fails and is not relayed.
        """
        chat = self.start()
        self.alice.read()
        self.store.failing.add("appendLine")
        self.assertRaises(NotSaved, outcome, self.chats.say(chat, "hello"))
        self.assertEqual([e for e in self.alice.read() if e.body], [])
        self.assertNotIn("hello", [e["text"] for e in chat.events])

    def test_supporterLineNotSaved(self):
        """
        A supporter's line that cannot be stored is answered with an error,
        the visitor never sees it, and the supporter's stream management
        acknowledgement comes after the error.
        """
        chat = self.start()
        self.alice.send("<enable xmlns='urn:xmpp:sm:3'/>")
        self.alice.read()
        self.store.failing.add("appendLine")
        self.alice.send(f"<message to='{chat.visitorJid}' id='s1' type='chat'><body>hi</body></message>"
                        "<r xmlns='urn:xmpp:sm:3'/>")
        error, ack = self.alice.read()
        self.assertEqual((error["type"], error["id"]), ("error", "s1"))
        self.assertEqual(error.error.firstChildElement().name, "internal-server-error")
        self.assertEqual((ack.name, ack["h"]), ("a", "1"))
        self.assertEqual([e for e in chat.events if e["kind"] == "message"], [])

    def test_backgroundWriteTellsSupporter(self):
        """
        A transcript write nobody waits for (the chat's end) that fails is
        told to the supporter, not only the log.
        """
        chat = self.start()
        self.alice.read()
        self.store.failing.add("putTranscript")
        self.chats.close(chat)
        notices = [e for e in self.alice.read() if e.name == "message" and e.body]
        self.assertEqual(len(notices), 1)
        self.assertEqual(notices[0]["from"], "visitors.example.com")
        self.assertIn("could not be saved", str(notices[0].body))
