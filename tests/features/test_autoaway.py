"""
Tests for L{openmessenger.features.autoaway}: every transition on a
L{Clock}.
"""

import os

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.xmpp.stanzas import formatStamp
from twisted.words.xish import domish

from tests.helpers import FakeServer

CSI = "urn:xmpp:csi:0"


class AutoAwayTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer(awayAfter=300, xaAfter=1800)
        self.server.addUser("alice@example.com")
        self.server.addUser("bob@example.com")
        self.server.befriend("alice@example.com", "bob@example.com")
        self.bob = self.server.login("bob@example.com")
        self.alice = self.server.login("alice@example.com")
        self.bob.read()
        self.clock = self.server.clock

    def seen(self):
        """
        The shows Bob saw from Alice since last asked (None = online).
        """
        result = []
        for e in self.bob.read():
            if getattr(e, "name", None) == "presence" and e.getAttribute("from", "").startswith("alice"):
                show = e.show
                result.append(e.getAttribute("type") or (str(show) if show is not None else None))
        return result

    def state(self):
        return self.server.core.availability.stateOf("alice@example.com")

    def test_silenceChangesNothing(self):
        """
        Without an idle signal, hours of silence leave Alice online.
        """
        self.clock.advance(10 * 3600)
        self.assertEqual((self.seen(), self.state()), ([], "online"))

    def test_inactiveThenAwayThenXAThenBack(self):
        """
        After CSI inactive, Alice becomes away at 300 s and xa at 1800 s,
        each time with an idle stamp and an automatic status; activity brings
        her back online at once.
        """
        self.alice.send(f"<inactive xmlns='{CSI}'/>")
        idleSince = self.clock.seconds()
        self.clock.advance(299)
        self.assertEqual(self.seen(), [])
        self.clock.advance(1)
        presences = [e for e in self.bob.read() if e.name == "presence"]
        (away,) = presences
        self.assertEqual(str(away.show), "away")
        self.assertEqual(away.idle["since"], formatStamp(idleSince))
        self.assertIn("automatic", str(away.status))
        self.assertEqual(self.state(), "away")
        self.clock.advance(1499)
        self.assertEqual(self.seen(), [])
        self.clock.advance(1)
        self.assertEqual((self.seen(), self.state()), (["xa"], "xa"))
        self.alice.send(f"<active xmlns='{CSI}'/>")
        self.assertEqual((self.seen(), self.state()), ([None], "online"))

    def test_typingIsActivity(self):
        """
        A message Alice types counts as activity.
        """
        self.alice.send(f"<inactive xmlns='{CSI}'/>")
        self.clock.advance(400)
        self.assertEqual(self.seen(), ["away"])
        self.alice.send("<message to='bob@example.com' type='chat'><body>back</body></message>")
        self.assertEqual([p for p in self.seen()], [None])

    def test_clientIdlePresence(self):
        """
        A client presence with an XEP-0319 idle time starts the clock from
        that time: 200 s idle means away after 100 more.
        """
        since = formatStamp(self.clock.seconds() - 200)
        self.alice.send(f"<presence><idle xmlns='urn:xmpp:idle:1' since='{since}'/></presence>")
        self.assertEqual(self.seen(), [None])
        self.clock.advance(100)
        self.assertEqual(self.seen(), ["away"])

    def test_clientAutoAwayThenServerXA(self):
        """
        The client's own auto-away (away with an idle time) is taken over by
        the server, which moves it to xa at the user's interval.
        """
        since = formatStamp(self.clock.seconds() - 600)
        self.alice.send(
            "<presence><show>away</show><status>Auto Status (idle)</status>"
            f"<idle xmlns='urn:xmpp:idle:1' since='{since}'/></presence>"
        )
        self.assertEqual(self.seen(), ["away"])
        self.clock.advance(1200)
        self.assertEqual(self.seen(), ["xa"])
        self.alice.send("<presence/>")
        self.assertEqual(self.seen(), [None])
        self.clock.advance(3600)
        self.assertEqual(self.seen(), [])

    def test_manualAwaySticks(self):
        """
        Away set by hand stays away: no xa, and CSI changes nothing.
        """
        self.alice.send("<presence><show>away</show><status>Lunch</status></presence>")
        self.alice.send(f"<inactive xmlns='{CSI}'/>")
        self.assertEqual(self.seen(), ["away"])
        self.clock.advance(7200)
        self.alice.send(f"<active xmlns='{CSI}'/>")
        self.assertEqual((self.seen(), self.state()), ([], "away"))

    def test_dndSticks(self):
        """
        Do not disturb is never changed automatically.
        """
        self.alice.send("<presence><show>dnd</show></presence>")
        self.alice.send(f"<inactive xmlns='{CSI}'/>")
        self.clock.advance(7200)
        self.assertEqual((self.seen(), self.state()), (["dnd"], "dnd"))

    def test_onlineWithStatusSticks(self):
        """
        Online with a status text is a manual status too.
        """
        self.alice.send("<presence><status>Answering tickets</status></presence>")
        self.alice.send(f"<inactive xmlns='{CSI}'/>")
        self.clock.advance(7200)
        self.assertEqual(self.seen(), [None])

    def test_newManualStatusAfterAuto(self):
        """
        A status the user sets while auto-away replaces it and cancels the
        timers.
        """
        self.alice.send(f"<inactive xmlns='{CSI}'/>")
        self.clock.advance(300)
        self.alice.send("<presence><show>dnd</show></presence>")
        self.clock.advance(3600)
        self.assertEqual(self.seen(), ["away", "dnd"])

    def test_perUserIntervals(self):
        """
        A user's own intervals replace the defaults, also for a running idle
        clock.
        """
        self.alice.send(f"<inactive xmlns='{CSI}'/>")
        autoaway = [h for h in self.server.core.domain.accounts if type(h).__name__ == "AutoAwayHandler"][0]
        autoaway.setIntervals("alice@example.com", 60, 120)
        self.clock.advance(60)
        self.assertEqual(self.seen(), ["away"])
        self.clock.advance(60)
        self.assertEqual(self.seen(), ["xa"])
        self.assertEqual(self.server.store.getAutoAway("alice@example.com").result, (60, 120))

    def test_logoutStopsTimers(self):
        """
        A session that ends leaves no timers behind.
        """
        self.alice.send(f"<inactive xmlns='{CSI}'/>")
        self.alice.stream.connectionLost(None)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_suspendedSessionStaysOffline(self):
        """
        A session suspended by stream management is offline to everyone:
        auto-away does not bring it back as away or xa meanwhile.
        """
        self.alice.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
        self.alice.send(f"<inactive xmlns='{CSI}'/>")
        self.alice.stream.connectionLost(None)
        self.assertEqual(self.seen(), ["unavailable"])
        self.clock.advance(3600)
        self.assertEqual((self.seen(), self.state()), ([], "offline"))

    def test_badIdle(self):
        """
        A malformed or future idle time is C{bad-request}; nothing changes.
        """
        future = formatStamp(self.clock.seconds() + 3600)
        for since in ["yesterday", future, "2026-01-01T00:00:00"]:
            self.alice.send(f"<presence><idle xmlns='urn:xmpp:idle:1' since='{since}'/></presence>")
            self.assertEqual(self.alice.readOne().error.firstChildElement().name, "bad-request", since)
        self.clock.advance(7200)
        self.assertEqual(self.seen(), [])


FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "psi-autoaway.xml")


def psiStep(name):
    """
    The presence Psi 1.5 sent at one step of its auto-away, as captured.
    """
    steps = []
    stream = domish.elementStream()
    stream.DocumentStartEvent = lambda root: None
    stream.ElementEvent = steps.append
    stream.DocumentEndEvent = lambda: None
    with open(FIXTURE, "rb") as f:
        stream.parse(f.read())
    for step in steps:
        if step["name"] == name:
            return step.firstChildElement().toXml()
    raise KeyError(name)


class PsiAutoAwayTests(SynchronousTestCase):
    """
    Psi 1.5 goes away by itself with a bare C{<show>away</show>}: no idle
    time, no CSI, no status text (see fixtures/README.md).  The server asks
    it for its idle time to tell this from a user's choice.
    """

    def setUp(self):
        self.server = FakeServer(awayAfter=300, xaAfter=1800)
        for user in ("alice", "bob"):
            self.server.addUser(f"{user}@example.com")
        self.server.befriend("alice@example.com", "bob@example.com")
        self.bob = self.server.login("bob@example.com")
        self.alice = self.server.login("alice@example.com", "Psi", available=False)
        self.alice.send(psiStep("initial"))
        self.alice.read()
        self.bob.read()
        self.clock = self.server.clock

    def goAway(self, idleSeconds):
        """
        Psi sends its away; the server asks its idle time; Psi answers.
        """
        self.alice.send(psiStep("away"))
        (question,) = [e for e in self.alice.read() if e.name == "iq"]
        self.assertEqual((question["type"], question.query.uri), ("get", "jabber:iq:last"))
        self.assertEqual((question["from"], question["to"]), ("example.com", "alice@example.com/Psi"))
        if idleSeconds is not None:
            self.alice.send(
                f"<iq type='result' id='{question['id']}' to='example.com'>"
                f"<query xmlns='jabber:iq:last' seconds='{idleSeconds}'/></iq>"
            )

    def shows(self):
        return [
            e.getAttribute("type") or (str(e.show) if e.show is not None else None)
            for e in self.bob.read()
            if e.name == "presence"
        ]

    def test_psiAutoAwayTakenOver(self):
        """
        Psi idle for 600 s goes away; the server moves it to xa when 1800 s
        of idleness are reached, and Psi's "back" presence makes it online.
        """
        self.goAway(600)
        self.assertEqual(self.shows(), ["away"])
        self.clock.advance(1199)
        self.assertEqual(self.shows(), [])
        self.clock.advance(1)
        self.assertEqual(self.shows(), ["xa"])
        self.alice.send(psiStep("back"))
        self.assertEqual(self.shows(), [None])
        self.assertEqual(self.server.core.availability.stateOf("alice@example.com"), "online")

    def test_psiManualAwaySticks(self):
        """
        An away picked from Psi's menu (idle for 2 s) stays away.
        """
        self.goAway(2)
        self.clock.advance(7200)
        self.assertEqual(self.shows(), ["away"])

    def test_noAnswerMeansManual(self):
        """
        A client that does not answer keeps its away as a manual one.
        """
        self.goAway(None)
        self.clock.advance(7200)
        self.assertEqual(self.shows(), ["away"])
