"""
Tests for L{openmessenger.xmpp.availability}.
"""

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.xmpp import availability
from openmessenger.xmpp.sessions import Session, SessionRegistry
from twisted.words.protocols.jabber.jid import JID


def session(resource, show=None, priority=0, available=True):
    s = Session(JID(f"alice@example.com/{resource}"), stream=None)
    s.presence = object() if available else None
    s.show, s.priority = show, priority
    return s


class EffectiveStateTests(SynchronousTestCase):
    def test_ranking(self):
        """
        Among equal priorities the best state wins: online > away > xa > dnd.
        """
        for shows, expected in [
            ([None], "online"), (["chat"], "online"), (["away", "xa"], "away"),
            (["dnd", "xa"], "xa"), (["dnd"], "dnd"), (["dnd", "chat"], "online"),
        ]:
            sessions = [session(str(i), show) for i, show in enumerate(shows)]
            self.assertEqual(availability.effectiveState(sessions), expected, shows)

    def test_priorityDecides(self):
        """
        The highest priority decides, even with a worse state.
        """
        sessions = [session("a", "dnd", 10), session("b", None, 1)]
        self.assertEqual(availability.effectiveState(sessions), "dnd")

    def test_negativePriorityIsOffline(self):
        """
        Resources with negative priority, or not available, count as offline.
        """
        self.assertEqual(availability.effectiveState([session("a", None, -1)]), "offline")
        self.assertEqual(availability.effectiveState([session("a", available=False)]), "offline")
        self.assertEqual(availability.effectiveState([]), "offline")


class AvailabilityTests(SynchronousTestCase):
    def setUp(self):
        self.sessions = SessionRegistry()
        self.model = availability.Availability(self.sessions)
        self.changes = []

    def test_watch(self):
        """
        Watchers hear of changes, only of real ones, until they stop.
        """
        stop = self.model.watch("alice@example.com", lambda *change: self.changes.append(change))
        pc = session("pc")
        self.sessions.add(pc)
        self.model.refresh("alice@example.com")
        self.model.refresh("alice@example.com")
        pc.show = "away"
        self.model.refresh("alice@example.com")
        stop()
        pc.show = None
        self.model.refresh("alice@example.com")
        self.assertEqual(self.changes, [("alice@example.com", "online"), ("alice@example.com", "away")])
        self.assertEqual(self.model.stateOf("alice@example.com"), "online")
        self.assertEqual(self.model.stateOf("nobody@example.com"), "offline")

    def test_group(self):
        """
        A group's state is the best of its members', reported on change.
        """
        self.model.watchGroup(["alice@example.com", "bob@example.com"], self.changes.append)
        pc = session("pc", "xa")
        self.sessions.add(pc)
        self.model.refresh("alice@example.com")
        bob = Session(JID("bob@example.com/x"), None)
        bob.presence, bob.show = object(), "dnd"
        self.sessions.add(bob)
        self.model.refresh("bob@example.com")
        self.sessions.remove(pc)
        self.model.refresh("alice@example.com")
        self.assertEqual(self.changes, ["xa", "dnd"])

    def test_failingWatcher(self):
        """
        A watcher that raises does not stop the others.
        """
        def broken(*args):
            raise RuntimeError("boom")

        self.model.watch("alice@example.com", broken)
        self.model.watch("alice@example.com", lambda *change: self.changes.append(change))
        self.sessions.add(session("pc"))
        self.model.refresh("alice@example.com")
        self.assertEqual(len(self.changes), 1)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


class PresenceFeedsModelTests(SynchronousTestCase):
    def test_endToEnd(self):
        """
        Presence from a real client session moves the model.
        """
        from tests.helpers import FakeServer

        server = FakeServer()
        server.addUser("alice@example.com")
        model = server.core.availability
        changes = []
        model.watch("alice@example.com", lambda account, state: changes.append(state))
        alice = server.login("alice@example.com", available=False)
        alice.send("<presence><show>dnd</show></presence>")
        alice.send("<presence><priority>-1</priority></presence>")
        alice.send("<presence><show>away</show></presence>")
        alice.stream.connectionLost(None)
        self.assertEqual(changes, ["dnd", "offline", "away", "offline"])
