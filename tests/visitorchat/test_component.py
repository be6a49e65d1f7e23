"""
Tests for L{openmessenger.visitorchat.component}: the visitors sub-domain,
with a stand-in for the service.
"""

from types import SimpleNamespace

from twisted.trial.unittest import SynchronousTestCase
from twisted.words.xish import domish

from openmessenger.visitorchat.component import VisitorDomain
from openmessenger.visitorchat.service import VISITOR_CAPS_NODE, VISITOR_CAPS_VERSION

VISITOR = "c0ffee@visitors.example.com"


def iq(child, to=VISITOR, node=None):
    element = domish.Element(("jabber:client", "iq"))
    element["type"], element["id"], element["to"], element["from"] = "get", "q", to, "alice@example.com/pc"
    query = element.addElement(child)
    if node:
        query["node"] = node
    return element


class VisitorDomainTests(SynchronousTestCase):
    def setUp(self):
        chat = SimpleNamespace(name="Vera <b>", email="vera@example.net", supporter="alice@example.com",
                               ended=None)
        self.service = SimpleNamespace(byVisitor={VISITOR: chat})
        self.sent = []
        self.domain = VisitorDomain(self.service, self.sent.append)

    def test_discoInfo(self):
        """
        A visitor's JID tells what it can do, also for the node its
        presence announced, and nothing for another node.
        """
        node = f"{VISITOR_CAPS_NODE}#{VISITOR_CAPS_VERSION}"
        for asked in (None, node, "other"):
            self.domain.receive(iq(("http://jabber.org/protocol/disco#info", "query"), node=asked))
        plain, announced, other = self.sent
        self.assertEqual(plain["type"], "result")
        self.assertEqual(announced.query["node"], node)
        self.assertEqual(other.error.firstChildElement().name, "item-not-found")

    def test_vcard(self):
        """
        The vCard of a visitor carries the name and e-mail they gave, as
        text.
        """
        self.domain.receive(iq(("vcard-temp", "vCard")))
        [reply] = self.sent
        self.assertEqual(str(reply.vCard.FN), "Vera <b>")
        self.assertEqual(str(reply.vCard.EMAIL.USERID), "vera@example.net")

    def test_unknownVisitor(self):
        """
        An iq to a visitor JID without a chat is service-unavailable.
        """
        self.domain.receive(iq(("vcard-temp", "vCard"), to="gone@visitors.example.com"))
        self.assertEqual(self.sent[0].error.firstChildElement().name, "service-unavailable")
