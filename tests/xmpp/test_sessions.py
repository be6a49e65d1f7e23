"""
Tests for L{openmessenger.xmpp.sessions}.
"""

from twisted.trial.unittest import SynchronousTestCase
from twisted.words.protocols.jabber.jid import JID

from openmessenger.xmpp.sessions import Session, SessionRegistry


class RegistryTests(SynchronousTestCase):
    def test_suspendedKeptApart(self):
        """
        A suspended session leaves the bound ones (nobody sees it online)
        but can be found until it is resumed or ends.
        """
        registry = SessionRegistry()
        phone = Session(JID("alice@example.com/phone"), None)
        registry.add(phone)
        registry.suspend(phone)
        self.assertIsNone(registry.get(phone.full))
        self.assertEqual(registry.sessionsOf("alice@example.com"), [])
        self.assertIs(registry.suspended(phone.full), phone)
        registry.unsuspend(phone)
        self.assertIsNone(registry.suspended(phone.full))

    def test_topSessions(self):
        """
        A message to a bare JID goes to the available sessions of the highest
        non-negative priority.
        """
        registry = SessionRegistry()
        sessions = []
        for resource, priority in (("a", 5), ("b", 5), ("c", 1), ("d", -1)):
            session = Session(JID(f"alice@example.com/{resource}"), None)
            session.presence, session.priority = object(), priority
            registry.add(session)
            sessions.append(session)
        self.assertEqual(registry.topSessions("alice@example.com"), sessions[:2])
        self.assertEqual(len(registry.all()), 4)
