"""
Tests for L{openmessenger.web.visitor}: the chat window and its JSON API.
"""

import json

from treq.testing import StubTreq
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.words.xish import domish

from openmessenger.visitorchat.model import MAX_PARAMETER_VALUE, MAX_PARAMETERS
from openmessenger.web.pages import Pages
from openmessenger.web.visitor import VisitorRoutes
from tests.helpers import FakeServer

BASE = "http://om.example/chat"


class VisitorRoutesTests(SynchronousTestCase):
    def setUp(self, store=None):
        self.server = FakeServer(store=store)
        self.server.addUser("alice@example.com")
        d = self.server.core.directory
        self.successResultOf(d.addCompany("acme", "ACME", ["example.com"]))
        self.successResultOf(d.addSupporter("acme", "alice@example.com", "alice", "Alice"))
        self.alice = self.server.login("alice@example.com")
        root = Resource()
        root.putChild(b"chat", VisitorRoutes(Pages(), self.server.core.visitorChats).app.resource())
        self.client = StubTreq(root)

    def post(self, path, body, contentType="application/json"):
        data = json.dumps(body).encode() if contentType == "application/json" else body
        response = self.successResultOf(self.client.post(BASE + path, data=data, headers={"content-type": contentType}))
        return response, json.loads(self.successResultOf(response.content()))

    def test_window(self):
        """
        The window carries the parameters, a strict CSP, no cookie and no
        CORS header; hostile parameters stay text.
        """
        response = self.successResultOf(self.client.get(
            BASE + "?company=acme&param_URL=%3Cscript%3Ealert(1)%3C/script%3E&lang=de"))
        html = self.successResultOf(response.text())
        self.assertIn("Chat starten", html)
        self.assertNotIn("<script>alert", html)
        self.assertIn("script-src 'self'", response.headers.getRawHeaders("content-security-policy")[0])
        self.assertIsNone(response.headers.getRawHeaders("access-control-allow-origin"))

    def test_conversation(self):
        """
        Start, say, read the supporter's answer, end: all through JSON.
        """
        response, started = self.post("/start", {"company": "acme", "name": "Vera",
                                                 "parameters": [["Order", "4711"]]})
        self.assertTrue(started["available"])
        token = started["token"]
        self.assertEqual(self.post(f"/api/{token}/say", {"text": "Hallo"})[1], {"ok": True})
        chat = self.server.core.visitorChats.find(token)
        self.alice.send(f"<message to='{chat.visitorJid}' type='chat'><body>Hi Vera</body></message>")
        response = self.successResultOf(self.client.get(BASE + f"/api/{token}/events?after=0&idle=0"))
        events = json.loads(self.successResultOf(response.content()))["events"]
        self.assertEqual([e["text"] for e in events if e["kind"] == "message"], ["Hallo", "Hi Vera"])
        self.post(f"/api/{token}/close", {})
        self.assertIsNotNone(chat.ended)

    def test_fullParametersAndReferrer(self):
        """
        A page may pass the most parameters the chat takes and still have
        its address added as the referrer, last and bounded; one more is
        refused.
        """
        parameters = [[f"p{i}", str(i)] for i in range(MAX_PARAMETERS)]
        response, started = self.post("/start", {"company": "acme", "name": "Vera", "parameters": parameters,
                                                 "referrer": "https://shop.example/" + "x" * 1000})
        self.assertTrue(started["available"], started)
        chat = self.server.core.visitorChats.find(started["token"])
        self.assertEqual(len(chat.parameters), MAX_PARAMETERS + 1)
        self.assertEqual(chat.parameters[-1][0], "Referrer")
        self.assertEqual(len(chat.parameters[-1][1]), MAX_PARAMETER_VALUE)
        response, answer = self.post("/start", {"company": "acme", "name": "Vera",
                                                "parameters": parameters + [["one", "more"]]})
        self.assertEqual(response.code, 400)

    def test_onlyJSON(self):
        """
        A form posted from another site cannot start or drive a chat.
        """
        response, answer = self.post("/start", b"company=acme&name=Vera", "application/x-www-form-urlencoded")
        self.assertEqual(response.code, 400)
        self.assertEqual(self.server.core.visitorChats.byToken, {})

    def test_unknownToken(self):
        """
        Without the token, nothing of a chat can be read.
        """
        self.post("/start", {"company": "acme", "name": "Vera"})
        response = self.successResultOf(self.client.get(BASE + "/api/guessed/events?after=0"))
        self.assertEqual(response.code, 404)

    def test_nobodyThere(self):
        """
        With nobody available the answer says so, and the offline form works.
        """
        self.alice.stream.connectionLost(None)
        self.assertEqual(self.post("/start", {"company": "acme", "name": "Vera"})[1], {"available": False})
        response, answer = self.post("/offline", {"company": "acme", "name": "Vera", "text": "Ruf an"})
        self.assertEqual(answer, {"sent": True})


#: Every C0 control character: XML 1.0 allows only tab, newline and return.
CONTROLS = "".join(map(chr, range(32))) + "\x7f\x9b\ud800\ufffe\uffff"


class HostileTextTests(SynchronousTestCase):
    """
    A visitor's control characters never reach a supporter's stream or the
    offline queue.
    """

    setUp = VisitorRoutesTests.setUp
    post = VisitorRoutesTests.post

    def test_startAndSay(self):
        """
        Control characters in the name, the parameters and the messages are
        dropped where they enter; the supporter stays connected and reads
        every stanza.
        """
        response, started = self.post("/start", {
            "company": "acme", "name": "Mallory" + CONTROLS,
            "parameters": [["Order" + CONTROLS, "4711\nVisitor: Admin" + CONTROLS]],
        })
        self.assertTrue(started["available"], started)
        chat = self.server.core.visitorChats.find(started["token"])
        self.assertEqual(chat.name, "Mallory")
        self.assertEqual(chat.parameters, (("Order", "4711 Visitor: Admin"),))
        self.assertEqual(self.post(f"/api/{started['token']}/say", {"text": "hi" + CONTROLS})[1], {"ok": True})
        elements = self.alice.read()
        self.assertFalse(self.alice.disconnected)
        bodies = [str(e.body) for e in elements if getattr(e, "name", None) == "message" and e.body]
        opener, said = bodies
        self.assertEqual(opener.split("\n")[:2], ["Visitor: Mallory", "Order: 4711 Visitor: Admin"])
        self.assertEqual(said, "hi")

    def test_offlineForm(self):
        """
        The offline form with control characters stores a readable message
        and nothing stored after it is lost.
        """
        self.alice.stream.connectionLost(None)
        self.post("/offline", {"company": "acme", "name": "Mallory\x01", "text": "call\x01 me"})
        later = domish.Element(("jabber:client", "message"))
        later["from"], later["to"] = "bob@example.com/x", "alice@example.com"
        later.addElement("body", content="after")
        self.server.core.router.route(later)
        alice = self.server.login("alice@example.com", "again", available=False)
        alice.send("<presence/>")
        bodies = [str(e.body) for e in alice.read() if getattr(e, "name", None) == "message" and e.body]
        self.assertEqual(len(bodies), 2, bodies)
        self.assertIn("call me", bodies[0])
        self.assertEqual(bodies[1], "after")


class NotSavedTests(SynchronousTestCase):
    post = VisitorRoutesTests.post

    def test_sayAnswers503WhenNotStored(self):
        """
        The page is told a line went only after it was stored: a failed
        write is a 503 with a message to show, and the line goes nowhere.
        """
        from openmessenger.storage.interfaces import StorageFull
        from tests.visitorchat.test_service import FailingStore

        VisitorRoutesTests.setUp(self, store=FailingStore())
        token = self.post("/start", {"company": "acme", "name": "Vera"})[1]["token"]
        self.alice.read()
        self.server.store.failing.add("appendLine")
        response, answer = self.post(f"/api/{token}/say", {"text": "hello"})
        self.assertEqual(response.code, 503)
        self.assertIn("could not be saved", answer["error"])
        self.assertEqual([e for e in self.alice.read() if e.name == "message" and e.body], [])
        self.flushLoggedErrors(StorageFull)
