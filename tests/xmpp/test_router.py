"""
Tests for L{openmessenger.xmpp.router}.
"""

from twisted.trial.unittest import SynchronousTestCase
from twisted.words.xish import domish

from openmessenger.xmpp.router import Router


class Receiver:
    def __init__(self):
        self.received = []

    def receive(self, stanza):
        self.received.append(stanza)


def message(to, sender="alice@example.com/pc", kind="chat"):
    stanza = domish.Element(("jabber:client", "message"))
    stanza["to"], stanza["from"], stanza["type"] = to, sender, kind
    return stanza


class RouterTests(SynchronousTestCase):
    def setUp(self):
        self.router = Router()
        self.local = Receiver()
        self.router.addRoute("example.com", self.local)

    def test_byDomain(self):
        """
        A stanza goes to the receiver of its C{to} domain.
        """
        self.router.route(message("bob@example.com/x"))
        self.assertEqual([s["to"] for s in self.local.received], ["bob@example.com/x"])

    def test_unknownDomainBounces(self):
        """
        A stanza for a domain nobody serves comes back to its sender as
        C{remote-server-not-found}; an error never bounces again.
        """
        self.router.route(message("bob@elsewhere.example"))
        [bounce] = self.local.received
        self.assertEqual((bounce["type"], bounce["to"]), ("error", "alice@example.com/pc"))
        self.assertEqual(bounce.error.firstChildElement().name, "remote-server-not-found")
        self.router.route(message("bob@elsewhere.example", kind="error"))
        self.assertEqual(len(self.local.received), 1)

    def test_removedRoute(self):
        """
        Once a domain's route is removed, its stanzas bounce.
        """
        self.router.addRoute("acme.example", Receiver())
        self.router.removeRoute("acme.example")
        self.router.route(message("bob@acme.example"))
        self.assertEqual(self.local.received[0]["type"], "error")
