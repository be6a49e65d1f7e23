"""
Tests for L{openmessenger.xmpp.localdomain}: delivery to full JIDs and
dispatch by addressing class, with stand-ins for sessions and features.
"""

from twisted.trial.unittest import SynchronousTestCase
from twisted.words.protocols.jabber.jid import JID
from twisted.words.xish import domish

from openmessenger.xmpp import events
from openmessenger.xmpp.domains import ServedDomains
from openmessenger.xmpp.localdomain import LocalDomain
from openmessenger.xmpp.router import Router
from openmessenger.xmpp.sessions import Session, SessionRegistry


class Stream:
    def __init__(self):
        self.sent = []

    def send(self, stanza):
        self.sent.append(stanza)


def stanza(name, to, kind=None, sender="bob@example.com/x"):
    element = domish.Element(("jabber:client", name))
    element["to"], element["from"] = to, sender
    if kind:
        element["type"] = kind
    return element


class LocalDomainTests(SynchronousTestCase):
    def setUp(self):
        self.sessions = SessionRegistry()
        self.router = Router()
        self.domain = LocalDomain(ServedDomains(("example.com",)), self.sessions, self.router)
        self.router.addRoute("example.com", self.domain)
        self.stream = Stream()
        self.sessions.add(Session(JID("alice@example.com/pc"), self.stream))
        self.seen = []
        self.domain.accounts.xmlstream.addObserver("/*", self.seen.append)

    def test_fullJIDDeliveredDirectly(self):
        """
        A stanza for a bound full JID goes to that session, not to the
        features; a message there is announced as delivered.
        """
        delivered = []
        self.domain.listen(events.MESSAGE_DELIVERED, delivered.append)
        self.domain.receive(stanza("message", "alice@example.com/pc", "chat"))
        self.assertEqual(len(self.stream.sent), 1)
        self.assertEqual(self.seen, [])
        self.assertEqual([d.sessions[0].full for d in delivered], ["alice@example.com/pc"])

    def test_bareJIDToFeatures(self):
        """
        A stanza for a bare JID, or a chat to a gone resource, goes to the
        account features.
        """
        self.domain.receive(stanza("message", "alice@example.com", "chat"))
        self.domain.receive(stanza("message", "alice@example.com/gone", "chat"))
        self.assertEqual(len(self.seen), 2)
        self.assertEqual(self.stream.sent, [])

    def test_iqToGoneResourceBounces(self):
        """
        An iq for a gone resource is answered service-unavailable.
        """
        bob = Stream()
        self.sessions.add(Session(JID("bob@example.com/x"), bob))
        self.domain.receive(stanza("iq", "alice@example.com/gone", "get"))
        [error] = bob.sent
        self.assertEqual(error.error.firstChildElement().name, "service-unavailable")

    def test_fire(self):
        """
        Named events reach whoever listens, with their argument.
        """
        heard = []
        self.domain.listen(events.ACCOUNT_DELETED, heard.append)
        self.domain.fire(events.ACCOUNT_DELETED, "carol@example.com")
        self.assertEqual(heard, ["carol@example.com"])

    def test_eventsByPriority(self):
        """
        Observers of a named event run highest priority first; one-time
        observers run once; observers added while an event is dispatched
        count from the next one.
        """
        heard = []
        bus = self.domain.accounts.xmlstream
        bus.addObserver(events.ACCOUNT_DELETED, lambda user: heard.append(("low", user)), -1)
        bus.addObserver(events.ACCOUNT_DELETED, lambda user: heard.append(("guard", user)), events.GUARD)
        bus.addOnetimeObserver(events.ACCOUNT_DELETED, lambda user: heard.append(("once", user)))

        def addLate(user):
            bus.addObserver(events.ACCOUNT_DELETED, lambda user: heard.append(("late", user)))

        bus.addOnetimeObserver(events.ACCOUNT_DELETED, addLate)
        self.domain.fire(events.ACCOUNT_DELETED, "a")
        self.domain.fire(events.ACCOUNT_DELETED, "b")
        self.assertEqual(heard, [("guard", "a"), ("once", "a"), ("low", "a"),
                                 ("guard", "b"), ("late", "b"), ("low", "b")])
