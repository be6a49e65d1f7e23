"""
Tests for L{openmessenger.features.presence}: subscriptions (RFC 6121 3,
appendix A), broadcasts, probes and directed presence.
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import FakeServer, parse

NS_ROSTER = "jabber:iq:roster"


def presences(elements):
    return [
        (e.getAttribute("from"), e.getAttribute("type"))
        for e in elements
        if getattr(e, "name", None) == "presence"
    ]


def pushes(elements):
    """
    The roster items pushed, as C{(jid, subscription, ask)}.
    """
    result = []
    for e in elements:
        if getattr(e, "name", None) == "iq" and e.getAttribute("type") == "set":
            for item in e.query.elements(NS_ROSTER, "item"):
                result.append((item["jid"], item["subscription"], item.getAttribute("ask")))
    return result


class SubscriptionTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        for user in ["alice", "bob", "carol"]:
            self.server.addUser(f"{user}@example.com")
        self.alice = self.server.login("alice@example.com")
        self.bob = self.server.login("bob@example.com")

    def item(self, user, contact):
        return self.server.store.getItem(user, contact).result

    def test_handshake(self):
        """
        Alice asks, Bob approves: Alice's item goes none+ask to "to", Bob's
        gets "from", each step pushed; Alice then sees Bob's presence.
        """
        self.alice.send("<presence to='bob@example.com' type='subscribe'/>")
        self.assertEqual(pushes(self.alice.read()), [("bob@example.com", "none", "subscribe")])
        request = self.bob.read()
        self.assertEqual(presences(request), [("alice@example.com", "subscribe")])
        self.assertEqual(self.server.store.getRoster("bob@example.com").result.pendingIn, ("alice@example.com",))

        self.bob.send("<presence to='alice@example.com' type='subscribed'/>")
        self.assertEqual(pushes(self.bob.read()), [("alice@example.com", "from", None)])
        alice = self.alice.read()
        self.assertEqual(pushes(alice), [("bob@example.com", "to", None)])
        self.assertEqual(
            presences(alice), [("bob@example.com", "subscribed"), ("bob@example.com/test", None)]
        )
        self.assertEqual(self.item("alice@example.com", "bob@example.com").subscription, "to")
        self.assertEqual(self.item("bob@example.com", "alice@example.com").subscription, "from")
        self.assertEqual(self.server.store.getRoster("bob@example.com").result.pendingIn, ())

    def test_mutual(self):
        """
        Both asking and both approving gives "both" on each side, and each
        sees the other's presence changes.
        """
        for me, other, name in [(self.alice, self.bob, "bob"), (self.bob, self.alice, "alice")]:
            me.send(f"<presence to='{name}@example.com' type='subscribe'/>")
            other.send(f"<presence to='{me.jid.split('@')[0]}@example.com' type='subscribed'/>")
        self.assertEqual(self.item("alice@example.com", "bob@example.com").subscription, "both")
        self.assertEqual(self.item("bob@example.com", "alice@example.com").subscription, "both")
        self.alice.read(), self.bob.read()
        self.alice.send("<presence><show>away</show></presence>")
        (away,) = [e for e in self.bob.read() if e.name == "presence"]
        self.assertEqual((away["from"], str(away.show)), ("alice@example.com/test", "away"))

    def test_fromIsBareJID(self):
        """
        Subscription stanzas leave with the sender's bare JID and the
        contact's bare JID, whatever the client wrote.
        """
        self.alice.send("<presence to='bob@example.com/test' type='subscribe'/>")
        (request,) = [e for e in self.bob.read() if e.name == "presence"]
        self.assertEqual((request["from"], request["to"]), ("alice@example.com", "bob@example.com"))

    def test_duplicateRequestNotRedelivered(self):
        """
        A subscription request already waiting is not delivered again: one
        sender cannot fill the contact's screen with the same question.
        """
        for _ in range(20):
            self.alice.send("<presence to='bob@example.com' type='subscribe'/>")
        self.assertEqual(presences(self.bob.read()), [("alice@example.com", "subscribe")])

    def test_pendingRequestsBounded(self):
        """
        Requests waiting for an answer are bounded like the roster: beyond
        it they are dropped, not stored.
        """
        server = FakeServer(extra="[roster]\nmax_items = 2\n")
        server.addUser("bob@example.com")
        for n in range(4):
            server.addUser(f"u{n}@example.com")
            server.login(f"u{n}@example.com").send("<presence to='bob@example.com' type='subscribe'/>")
        self.assertEqual(len(server.store.getRoster("bob@example.com").result.pendingIn), 2)

    def test_requestWaitsForOfflineContact(self):
        """
        A request to an offline user is kept and handed over at their next
        initial presence.
        """
        self.alice.send("<presence to='carol@example.com' type='subscribe'/>")
        carol = self.server.client()
        carol.login("carol@example.com")
        carol.send("<presence/>")
        self.assertIn(("alice@example.com", "subscribe"), presences(carol.read()))

    def test_preApproval(self):
        """
        A pre-approved contact's request is granted without asking the user.
        """
        self.bob.send("<presence to='alice@example.com' type='subscribed'/>")
        self.assertEqual(self.item("bob@example.com", "alice@example.com").approved, True)
        self.bob.read()
        self.alice.send("<presence to='bob@example.com' type='subscribe'/>")
        self.assertNotIn(("alice@example.com", "subscribe"), presences(self.bob.read()))
        self.assertEqual(self.item("bob@example.com", "alice@example.com").subscription, "from")
        self.assertEqual(self.item("alice@example.com", "bob@example.com").subscription, "to")
        self.assertIn(("bob@example.com/test", None), presences(self.alice.read()))

    def test_alreadySubscribedAutoReply(self):
        """
        Asking again when already subscribed is answered by the contact's
        server, without bothering the contact or changing anything.
        """
        self.alice.send("<presence to='bob@example.com' type='subscribe'/>")
        self.bob.send("<presence to='alice@example.com' type='subscribed'/>")
        self.alice.read(), self.bob.read()
        self.alice.send("<presence to='bob@example.com' type='subscribe'/>")
        self.assertEqual(presences(self.bob.read()), [])
        self.assertEqual(pushes(self.alice.read()), [])
        self.assertEqual(self.item("alice@example.com", "bob@example.com").subscription, "to")

    def test_deny(self):
        """
        Denying a request clears the asker's pending state.
        """
        self.alice.send("<presence to='bob@example.com' type='subscribe'/>")
        self.bob.send("<presence to='alice@example.com' type='unsubscribed'/>")
        self.assertEqual(self.server.store.getRoster("bob@example.com").result.pendingIn, ())
        item = self.item("alice@example.com", "bob@example.com")
        self.assertEqual((item.subscription, item.ask), ("none", False))

    def subscribeAliceToBob(self):
        self.alice.send("<presence to='bob@example.com' type='subscribe'/>")
        self.bob.send("<presence to='alice@example.com' type='subscribed'/>")
        self.alice.read(), self.bob.read()

    def test_unsubscribe(self):
        """
        Unsubscribing removes the subscription on both sides and the user
        sees the contact go unavailable.
        """
        self.subscribeAliceToBob()
        self.alice.send("<presence to='bob@example.com' type='unsubscribe'/>")
        self.assertEqual(self.item("alice@example.com", "bob@example.com").subscription, "none")
        self.assertEqual(self.item("bob@example.com", "alice@example.com").subscription, "none")
        self.assertIn(("bob@example.com/test", "unavailable"), presences(self.alice.read()))
        self.assertIn(("alice@example.com", "unsubscribe"), presences(self.bob.read()))

    def test_revoke(self):
        """
        Cancelling a contact's subscription stops it, and the contact sees
        the user go unavailable.
        """
        self.subscribeAliceToBob()
        self.bob.send("<presence to='alice@example.com' type='unsubscribed'/>")
        self.assertEqual(self.item("alice@example.com", "bob@example.com").subscription, "none")
        self.assertEqual(self.item("bob@example.com", "alice@example.com").subscription, "none")
        received = presences(self.alice.read())
        self.assertIn(("bob@example.com/test", "unavailable"), received)
        self.assertIn(("bob@example.com", "unsubscribed"), received)
        self.bob.send("<presence><show>dnd</show></presence>")
        self.assertEqual(presences(self.alice.read()), [])

    def test_unsolicitedSubscribedIgnored(self):
        """
        A "subscribed" nobody asked for changes nothing.
        """
        self.bob.send("<presence to='alice@example.com' type='subscribed'/>")
        self.alice.read()
        self.assertIsNone(self.item("alice@example.com", "bob@example.com"))

    def test_unknownUser(self):
        """
        Asking a user who does not exist is answered "unsubscribed".
        """
        self.alice.send("<presence to='ghost@example.com' type='subscribe'/>")
        self.assertIn(("ghost@example.com", "unsubscribed"), presences(self.alice.read()))

    def test_rosterRemoveCancelsBothWays(self):
        """
        Removing a contact from the roster cancels subscriptions both ways.
        """
        self.subscribeAliceToBob()
        self.bob.send("<presence to='alice@example.com' type='subscribe'/>")
        self.alice.send("<presence to='bob@example.com' type='subscribed'/>")
        self.alice.read(), self.bob.read()
        self.alice.send(
            f"<iq type='set' id='r'><query xmlns='{NS_ROSTER}'>"
            "<item jid='bob@example.com' subscription='remove'/></query></iq>"
        )
        self.assertEqual(self.item("bob@example.com", "alice@example.com").subscription, "none")


class BroadcastTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        for user in ["alice", "bob", "carol"]:
            self.server.addUser(f"{user}@example.com")
        self.server.befriend("alice@example.com", "bob@example.com")
        self.bob = self.server.login("bob@example.com")
        self.carol = self.server.login("carol@example.com")

    def test_initialPresenceAndProbe(self):
        """
        Logging in, Alice's presence reaches Bob, and Bob's (by probe) Alice.
        """
        alice = self.server.login("alice@example.com", available=False)
        alice.send("<presence><priority>5</priority></presence>")
        self.assertIn(("bob@example.com/test", None), presences(alice.read()))
        self.assertIn(("alice@example.com/test", None), presences(self.bob.read()))
        self.assertEqual(presences(self.carol.read()), [])

    def test_disconnectBroadcastsUnavailable(self):
        """
        A connection that drops without goodbye makes the user unavailable
        to contacts, and last activity is recorded.
        """
        alice = self.server.login("alice@example.com")
        self.bob.read()
        self.server.clock.advance(30)
        alice.stream.connectionLost(None)
        self.assertEqual(presences(self.bob.read()), [("alice@example.com/test", "unavailable")])
        activity = self.server.store.getLastActivity("alice@example.com").result
        self.assertEqual(activity.stamp, self.server.clock.seconds())

    def test_logoutStatusRecorded(self):
        """
        An unavailable presence with a status is broadcast and its status kept
        as last activity.
        """
        alice = self.server.login("alice@example.com")
        self.bob.read()
        alice.send("<presence type='unavailable'><status>Logged out</status></presence>")
        self.assertEqual(presences(self.bob.read()), [("alice@example.com/test", "unavailable")])
        alice.stream.connectionLost(None)
        self.assertEqual(self.bob.read(), [])
        self.assertEqual(self.server.store.getLastActivity("alice@example.com").result.status, "Logged out")

    def test_ownResources(self):
        """
        A user's resources see each other's presence.
        """
        pc = self.server.login("alice@example.com", "pc")
        phone = self.server.login("alice@example.com", "phone", available=False)
        phone.send("<presence><show>xa</show></presence>")
        self.assertIn(("alice@example.com/pc", None), presences(phone.read()))
        self.assertIn(("alice@example.com/phone", None), presences(pc.read()))

    def test_ownPresenceEchoed(self):
        """
        The sending resource gets its own presence back, available and
        unavailable (RFC 6121 4.4.2), so clients show what others see.
        """
        alice = self.server.login("alice@example.com", available=False)
        alice.send("<presence><show>dnd</show></presence>")
        self.assertIn(("alice@example.com/test", None), presences(alice.read()))
        alice.send("<presence type='unavailable'/>")
        self.assertIn(("alice@example.com/test", "unavailable"), presences(alice.read()))

    def test_directedPresence(self):
        """
        Directed presence reaches a non-contact, who gets unavailable when
        the sender goes offline.
        """
        alice = self.server.login("alice@example.com")
        alice.send("<presence to='carol@example.com/test'/>")
        self.assertEqual(presences(self.carol.read()), [("alice@example.com/test", None)])
        alice.stream.connectionLost(None)
        self.assertEqual(presences(self.carol.read()), [("alice@example.com/test", "unavailable")])

    def test_directedWhileNotAvailable(self):
        """
        Directed presence from a session that never broadcast its own is
        revoked too: when it goes offline and when it leaves (RFC 6121
        4.6.3).
        """
        for leave in ("<presence type='unavailable'/>", None):
            alice = self.server.login("alice@example.com", available=False)
            alice.send("<presence to='carol@example.com/test'/>")
            self.assertEqual(presences(self.carol.read()), [("alice@example.com/test", None)])
            if leave:
                alice.send(leave)
            else:
                alice.stream.connectionLost(None)
            self.assertEqual(presences(self.carol.read()), [("alice@example.com/test", "unavailable")], leave)
            alice.stream.connectionLost(None)

    def test_directedToSubscriberOnce(self):
        """
        A subscriber who also got directed presence hears the goodbye once.
        """
        alice = self.server.login("alice@example.com")
        alice.send("<presence to='bob@example.com'/>")
        self.bob.read()
        alice.send("<presence type='unavailable'/>")
        self.assertEqual(presences(self.bob.read()), [("alice@example.com/test", "unavailable")])

    def test_badPresence(self):
        """
        An unknown show or an out-of-range priority is C{bad-request} and
        changes nothing.
        """
        alice = self.server.login("alice@example.com")
        self.bob.read()
        for payload in ["<show>sleeping</show>", "<priority>200</priority>",
                        "<priority>-129</priority>", "<priority>high</priority>"]:
            alice.send(f"<presence>{payload}</presence>")
            self.assertEqual(alice.readOne().error.firstChildElement().name, "bad-request", payload)
        self.assertEqual(self.bob.read(), [])
        self.assertEqual(self.server.sessions.get("alice@example.com/test").priority, 0)

    def probe(self, sender, to="alice@example.com"):
        # Clients may not probe; servers do, on their users' behalf.
        probe = parse(f"<presence xmlns='jabber:client' from='{sender}' to='{to}' type='probe'/>")
        self.server.core.router.route(probe)

    def test_probeFromSubscriber(self):
        """
        A probe from a subscriber is answered with each available resource's
        presence, or "unavailable" if there is none.
        """
        self.probe("bob@example.com")
        self.assertEqual(presences(self.bob.read()), [("alice@example.com", "unavailable")])
        self.server.login("alice@example.com", "pc")
        self.bob.read()
        self.probe("bob@example.com")
        self.assertEqual(presences(self.bob.read()), [("alice@example.com/pc", None)])

    def test_probeFromStranger(self):
        """
        A probe from someone not subscribed reveals nothing.
        """
        self.server.login("alice@example.com")
        self.carol.read()
        self.probe("carol@example.com")
        # The "unsubscribed" answer matches nothing in Carol's roster, so her
        # server drops it: she learns nothing either way.
        self.assertEqual(presences(self.carol.read()), [])

    def test_clientProbes(self):
        """
        A probe sent by a client is answered as a server's would be: with
        presence for a subscriber, with nothing revealed to a stranger.
        """
        self.server.login("alice@example.com", "pc")
        self.carol.send("<presence to='alice@example.com' type='probe'/>")
        self.assertEqual(self.carol.read(), [])
        self.bob.read()
        self.bob.send("<presence to='alice@example.com' type='probe'/>")
        self.assertEqual(presences(self.bob.read()), [("alice@example.com/pc", None)])
