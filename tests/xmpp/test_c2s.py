"""
Tests for L{openmessenger.xmpp.c2s}: the client stream from the first
header to bound stanzas, with bad input at each step.
"""

import base64

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.xmpp import c2s
from tests.helpers import NS_BIND, NS_SASL, NS_STREAMS, NS_TLS, FakeServer, header


def b64(data):
    return base64.b64encode(data).decode()


ALICE_PLAIN = b64(b"\0alice\0pencil")
FOREIGN = b64(b"bob@example.com\0alice\0pencil")


class NegotiationTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        self.server.addUser("alice@example.com")
        self.client = self.server.client()

    def test_noOtherDomainAfterLogin(self):
        """
        After logging in on one served domain, the restarted stream cannot
        name another one (the account would change domains): host-unknown.
        """
        self.client.startTLS()
        self.assertEqual(self.client.authenticate("alice@example.com").name, "success")
        self.client.send(header(to="example.org"))
        self.assertEqual(self.client.streamError(), "host-unknown")

    def test_headerAndFeaturesBeforeTLS(self):
        """
        The server answers a header with its own and requires STARTTLS,
        offering no mechanism before it.
        """
        self.client.send(header())
        root, features = self.client.read()
        self.assertEqual((root.uri, root.name), (NS_STREAMS, "stream"))
        self.assertEqual(root["from"], "example.com")
        self.assertEqual(root["version"], "1.0")
        self.assertTrue(root.getAttribute("id"))
        self.assertIsNotNone(features.starttls.required)
        self.assertIsNone(features.mechanisms)

    def test_mechanismsAfterTLS(self):
        """
        After TLS the SCRAM mechanisms and PLAIN are offered.
        """
        self.client.startTLS()
        self.client.send(header())
        features = self.client.read()[1]
        self.assertEqual(
            [str(m) for m in features.mechanisms.elements(NS_SASL, "mechanism")],
            ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"],
        )
        self.assertIsNone(features.starttls)

    def test_noPlainWithoutTLS(self):
        """
        Where TLS is optional, PLAIN is still offered only over TLS.
        """
        server = FakeServer(requireTLS=False)
        client = server.client()
        client.send(header())
        features = client.read()[1]
        self.assertEqual(
            [str(m) for m in features.mechanisms.elements(NS_SASL, "mechanism")],
            ["SCRAM-SHA-256", "SCRAM-SHA-1"],
        )
        self.assertIsNone(features.starttls.required)

    def test_pipelinedAfterStartTLSDiscarded(self):
        """
        Bytes sent behind C{<starttls/>} in the same packet are dropped, not
        parsed (the STARTTLS command injection).
        """
        self.client.send(header())
        self.client.read()
        self.client.send(
            f"<starttls xmlns='{NS_TLS}'/>"
            f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{ALICE_PLAIN}</auth>"
            "<iq type='set' id='x'><query xmlns='jabber:iq:roster'>"
            "<item jid='mallory@evil.example'/></query></iq>"
        )
        self.assertEqual([e.name for e in self.client.read()], ["proceed"])
        self.assertTrue(self.client.transport.tlsStarted)
        self.assertFalse(self.client.disconnected)
        self.client._restart()
        self.client.send(header())
        features = self.client.read()[1]
        self.assertIsNotNone(features.mechanisms)

    def test_authBeforeTLSRefused(self):
        """
        Authentication before TLS, when TLS is required, ends the stream.
        """
        self.client.send(header())
        self.client.read()
        self.client.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{ALICE_PLAIN}</auth>")
        self.assertEqual(self.client.streamError(), "policy-violation")
        self.assertTrue(self.client.disconnected)

    def test_stanzaBeforeAuthentication(self):
        """
        A stanza before authentication is C{not-authorized}.
        """
        self.client.send(header())
        self.client.read()
        self.client.send("<message to='bob@example.com'><body>hi</body></message>")
        self.assertEqual(self.client.streamError(), "not-authorized")

    def test_scramLogin(self):
        """
        SCRAM-SHA-256 and SCRAM-SHA-1 logins succeed and restart the stream
        with bind offered.
        """
        for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-1"]:
            client = self.server.client()
            client.startTLS()
            self.assertEqual(client.authenticate("alice@example.com", mechanism=mechanism).name, "success")
            client.send(header())
            features = client.read()[1]
            self.assertIsNotNone(features.bind)
            self.assertIsNone(features.mechanisms)

    def test_plainLogin(self):
        """
        PLAIN over TLS succeeds with the right password.
        """
        self.client.startTLS()
        self.client.send(header())
        self.client.read()
        self.client.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{ALICE_PLAIN}</auth>")
        self.assertEqual(self.client.readOne().name, "success")

    def test_wrongPassword(self):
        """
        A wrong password is C{not-authorized}, and the client may try again.
        """
        self.client.startTLS()
        failure = self.client.authenticate("alice@example.com", "wrong")
        self.assertEqual((failure.name, next(failure.elements()).name), ("failure", "not-authorized"))
        self.assertFalse(self.client.disconnected)
        self.client.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{ALICE_PLAIN}</auth>")
        self.assertEqual(self.client.readOne().name, "success")

    def test_unknownUserLikeWrongPassword(self):
        """
        An unknown user fails exactly like a wrong password, after the full
        exchange.
        """
        self.client.startTLS()
        failure = self.client.authenticate("nobody@example.com")
        self.assertEqual(next(failure.elements()).name, "not-authorized")

    def test_throttle(self):
        """
        After five failures from one address within a minute, further
        attempts are refused with C{temporary-auth-failure}, even with the
        right password, until the window has passed; other addresses are
        not affected.
        """
        def plain(password):
            message = b64(b"\0alice\0" + password)
            return f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{message}</auth>"

        self.client.startTLS()
        self.client.send(header())
        self.client.read()
        for _ in range(5):
            self.client.send(plain(b"wrong"))
            self.assertEqual(next(self.client.readOne().elements()).name, "not-authorized")
        self.client.send(plain(b"pencil"))
        self.assertEqual(next(self.client.readOne().elements()).name, "temporary-auth-failure")
        other = self.server.client(peer="198.51.100.7")
        other.startTLS()
        self.assertEqual(other.authenticate("alice@example.com").name, "success")
        self.server.clock.advance(61)
        self.client.send(plain(b"pencil"))
        self.assertEqual(self.client.readOne().name, "success")

    def test_badMechanismAndEncoding(self):
        """
        Unknown mechanisms and bad base64 are refused with their conditions.
        """
        self.client.startTLS()
        self.client.send(header())
        self.client.read()
        self.client.send(f"<auth xmlns='{NS_SASL}' mechanism='DIGEST-MD5'/>")
        self.assertEqual(next(self.client.readOne().elements()).name, "invalid-mechanism")
        self.client.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>!!notbase64</auth>")
        self.assertEqual(next(self.client.readOne().elements()).name, "incorrect-encoding")

    def test_foreignAuthzid(self):
        """
        Authorizing as somebody else is C{invalid-authzid}.
        """
        self.client.startTLS()
        self.client.send(header())
        self.client.read()
        self.client.send(
            f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{FOREIGN}</auth>"
        )
        self.assertEqual(next(self.client.readOne().elements()).name, "invalid-authzid")

    def test_bind(self):
        """
        Binding gives the full JID; the session is in the registry.
        """
        self.client.startTLS()
        self.client.authenticate("alice@example.com")
        reply = self.client.bind("example.com", "Psi")
        self.assertEqual(str(reply.bind.jid), "alice@example.com/Psi")
        self.assertIsNotNone(self.server.sessions.get("alice@example.com/Psi"))

    def test_bindPicksResource(self):
        """
        Without a requested resource, the server picks one.
        """
        self.client.startTLS()
        self.client.authenticate("alice@example.com")
        self.client.send(header())
        self.client.read()
        self.client.send(f"<iq type='set' id='b'><bind xmlns='{NS_BIND}'/></iq>")
        jid = str(self.client.readOne().bind.jid)
        self.assertTrue(jid.startswith("alice@example.com/") and len(jid) > len("alice@example.com/"))

    def test_bindConflictReplacesOldSession(self):
        """
        A second login with the same resource ends the first with C{conflict}.
        """
        first = self.server.login("alice@example.com", resource="pc")
        second = self.server.login("alice@example.com", resource="pc")
        self.assertEqual(first.streamError(), "conflict")
        self.assertTrue(first.disconnected)
        self.assertIs(self.server.sessions.get("alice@example.com/pc").stream, second.stream)

    def test_bindBadResource(self):
        """
        An invalid resource is C{bad-request}.
        """
        self.client.startTLS()
        self.client.authenticate("alice@example.com")
        self.client.send(header())
        self.client.read()
        self.client.send(
            f"<iq type='set' id='b'><bind xmlns='{NS_BIND}'><resource>{'r' * 1100}</resource></bind></iq>"
        )
        reply = self.client.readOne()
        self.assertEqual(reply["type"], "error")
        self.assertIsNotNone(reply.error.firstChildElement())

    def test_otherIQBeforeBind(self):
        """
        Anything but bind after authentication is C{not-authorized}.
        """
        self.client.startTLS()
        self.client.authenticate("alice@example.com")
        self.client.send(header())
        self.client.read()
        self.client.send("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
        self.assertEqual(self.client.streamError(), "not-authorized")

    def test_sessionIQ(self):
        """
        The legacy session iq is answered with a result.
        """
        client = self.server.login("alice@example.com")
        client.send("<iq type='set' id='s'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
        self.assertEqual(client.readOne()["type"], "result")

    def test_closeStream(self):
        """
        When the client closes its stream, the server closes its own and the
        session leaves the registry.
        """
        client = self.server.login("alice@example.com")
        client.send("</stream:stream>")
        self.assertIn("</stream:stream>", client.read())
        self.assertTrue(client.disconnected)
        client.stream.connectionLost(None)
        self.assertIsNone(self.server.sessions.get("alice@example.com/test"))

    def test_negotiationTimeout(self):
        """
        A client that does not finish logging in within two minutes is
        disconnected with C{connection-timeout}.
        """
        self.client.send(header())
        self.client.read()
        self.server.clock.advance(c2s.NEGOTIATION_TIMEOUT)
        self.assertEqual(self.client.streamError(), "connection-timeout")

    def test_noTimeoutOnceBound(self):
        """
        A bound session is not timed out.
        """
        client = self.server.login("alice@example.com")
        self.server.clock.advance(c2s.NEGOTIATION_TIMEOUT * 10)
        self.assertFalse(client.disconnected)

    def test_deletedAccountCannotBind(self):
        """
        An account deleted during login cannot bind.
        """
        self.client.startTLS()
        self.client.authenticate("alice@example.com")
        self.server.core.accounts.delete("alice@example.com")
        self.client.send(header())
        self.client.read()
        self.client.send(f"<iq type='set' id='b'><bind xmlns='{NS_BIND}'/></iq>")
        self.assertEqual(self.client.streamError(), "not-authorized")


class StreamHeaderTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        self.client = self.server.client()

    def test_unknownHost(self):
        """
        A stream to a domain not served here is C{host-unknown}.
        """
        self.client.send(header(to="elsewhere.example"))
        self.assertEqual(self.client.streamError(), "host-unknown")

    def test_secondDomain(self):
        """
        Every configured domain is served.
        """
        self.client.send(header(to="example.org"))
        self.assertEqual(self.client.read()[0]["from"], "example.org")

    def test_wrongNamespace(self):
        """
        A stream that is not C{jabber:client} is C{invalid-namespace}.
        """
        self.client.send(header(ns="jabber:server"))
        self.assertEqual(self.client.streamError(), "invalid-namespace")

    def test_oldVersion(self):
        """
        Pre-1.0 streams are C{unsupported-version}.
        """
        self.client.send(header(version=None))
        self.assertEqual(self.client.streamError(), "unsupported-version")


class BadXMLTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        self.server.addUser("alice@example.com")

    def test_restrictedXML(self):
        """
        DOCTYPE, comments, processing instructions and XML 1.1 each end the
        stream with C{restricted-xml}.
        """
        for data in [
            "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]>" + header(),
            header() + "<!-- hello -->",
            header() + "<?target data?>",
            "<?xml version='1.1'?>" + header(),
        ]:
            client = self.server.client()
            client.send(data)
            self.assertEqual(client.streamError(), "restricted-xml", data)
            self.assertTrue(client.disconnected)

    def test_malformed(self):
        """
        Malformed XML is C{not-well-formed}.
        """
        client = self.server.login("alice@example.com")
        client.send("<message><body>hi</message>")
        self.assertEqual(client.streamError(), "not-well-formed")

    def test_dataAfterErrorIgnored(self):
        """
        Nothing in the packet after the offending part is acted upon.
        """
        self.server.addUser("bob@example.com")
        bob = self.server.login("bob@example.com")
        client = self.server.login("alice@example.com", available=False)
        client.send("<!-- x --><message to='bob@example.com/test'><body>sneaked</body></message>")
        self.assertEqual(client.streamError(), "restricted-xml")
        self.assertEqual([e for e in bob.read() if e.name == "message"], [])

    def test_oversizeBeforeAuth(self):
        """
        Before authentication, a stanza over the small pre-auth limit is a
        C{policy-violation} with C{stanza-too-big}.
        """
        client = self.server.client()
        client.send(header())
        client.read()
        client.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + "A" * 9000)
        elements = client.read()
        error = [e for e in elements if getattr(e, "name", None) == "error"][0]
        names = [(c.uri, c.name) for c in error.elements()]
        self.assertIn(("urn:ietf:params:xml:ns:xmpp-streams", "policy-violation"), names)
        self.assertIn(("urn:xmpp:errors", "stanza-too-big"), names)

    def test_oversizeAfterAuth(self):
        """
        After authentication the limit is the configured stanza size.
        """
        server = FakeServer(max_stanza_size=20000)
        server.addUser("alice@example.com")
        client = server.login("alice@example.com")
        client.send("<message to='alice@example.com'><body>" + "x" * 15000 + "</body></message>")
        self.assertFalse(client.disconnected)
        client.read()
        client.send("<message to='alice@example.com'><body>" + "x" * 30000)
        self.assertEqual(client.streamError(), "policy-violation")

    def test_deepNesting(self):
        """
        Deeply nested elements are a C{policy-violation}, not a crash.
        """
        client = self.server.login("alice@example.com")
        client.send("<message>" + "<a>" * 2000 + "</a>" * 2000 + "</message>")
        self.assertEqual(client.streamError(), "policy-violation")

    def test_oneSessionDoesNotAffectAnother(self):
        """
        A session killed for bad XML leaves other sessions working.
        """
        self.server.addUser("bob@example.com")
        alice = self.server.login("alice@example.com")
        bob = self.server.login("bob@example.com")
        bob.send("<!-- x -->")
        self.assertEqual(bob.streamError(), "restricted-xml")
        alice.send("<message to='alice@example.com/test' type='chat'><body>still here</body></message>")
        self.assertEqual(str(alice.readOne().body), "still here")


class StanzaTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        self.server.addUser("alice@example.com")
        self.server.addUser("bob@example.com")
        self.alice = self.server.login("alice@example.com")
        self.bob = self.server.login("bob@example.com")

    def test_forgedFromOverwritten(self):
        """
        A forged C{from} is replaced by the sender's full JID.
        """
        self.alice.send(
            "<message from='boss@example.com/x' to='bob@example.com/test' type='chat'>"
            "<body>pay me</body></message>"
        )
        message = self.bob.readOne()
        self.assertEqual(message["from"], "alice@example.com/test")

    def test_addressesPrepared(self):
        """
        C{to} addresses are normalised before routing.
        """
        self.alice.send("<message to='BOB@Example.COM/test' type='chat'><body>x</body></message>")
        self.assertEqual(self.bob.readOne()["to"], "bob@example.com/test")

    def test_malformedTo(self):
        """
        A malformed C{to} is answered with C{jid-malformed} and goes nowhere.
        """
        for to in ["a..b", "@example.com", "bob@example.com/", "x" * 1100 + "@example.com"]:
            self.alice.send(f"<message to='{to}' id='m'><body>x</body></message>")
            reply = self.alice.readOne()
            self.assertEqual(reply["type"], "error")
            self.assertEqual(reply.error.firstChildElement().name, "jid-malformed")
            self.assertEqual(reply["to"], "alice@example.com/test")
            self.assertFalse(reply.hasAttribute("from"))
        self.assertEqual(self.bob.read(), [])

    def test_iqWithoutId(self):
        """
        An iq without C{id} is C{bad-request}.
        """
        self.alice.send("<iq type='get'><query xmlns='jabber:iq:roster'/></iq>")
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "bad-request")

    def test_iqPayloadCount(self):
        """
        An iq get with no or two payloads is C{bad-request}.
        """
        self.alice.send("<iq type='get' id='a'/>")
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "bad-request")
        self.alice.send("<iq type='get' id='b'><a xmlns='x'/><b xmlns='y'/></iq>")
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "bad-request")

    def test_unknownNamespace(self):
        """
        An iq in a namespace nobody serves is C{service-unavailable}, both to
        the server and to an account.
        """
        for to in ["example.com", "bob@example.com", None]:
            attribute = f" to='{to}'" if to else ""
            self.alice.send(f"<iq type='get' id='u'{attribute}><query xmlns='urn:example:nothing'/></iq>")
            reply = self.alice.readOne()
            self.assertEqual(reply.error.firstChildElement().name, "service-unavailable", to)

    def test_unsupportedStanza(self):
        """
        A top-level element that is not a stanza is C{unsupported-stanza-type}.
        """
        self.alice.send("<foo xmlns='jabber:client'/>")
        self.assertEqual(self.alice.streamError(), "unsupported-stanza-type")

    def test_unknownPresenceType(self):
        """
        A presence of unknown type is C{bad-request}.
        """
        self.alice.send("<presence type='invisible'/>")
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "bad-request")

    def test_remoteDomain(self):
        """
        Other domains are unreachable: C{remote-server-not-found}.
        """
        self.alice.send("<message to='romeo@montague.example' id='r'><body>x</body></message>")
        reply = self.alice.readOne()
        self.assertEqual(reply.error.firstChildElement().name, "remote-server-not-found")
        self.assertEqual(reply["from"], "romeo@montague.example")

    def test_crossDomain(self):
        """
        Users of two domains served here reach each other.
        """
        self.server.addUser("carol@example.org")
        carol = self.server.login("carol@example.org")
        self.alice.send("<message to='carol@example.org' type='chat'><body>hi</body></message>")
        self.assertEqual(str(carol.readOne().body), "hi")

    def test_disconnectEndsSession(self):
        """
        A dropped connection takes the session out of the registry.
        """
        self.alice.stream.connectionLost(None)
        self.assertIsNone(self.server.sessions.get("alice@example.com/test"))


class DeadPeerTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer(dead_peer_timeout=90)
        self.server.addUser("alice@example.com")
        self.server.addUser("bob@example.com")
        self.alice = self.server.login("alice@example.com")
        self.clock = self.server.clock

    def test_pingThenDisconnect(self):
        """
        A silent client is pinged after 45 s and, still silent, dropped at
        90 s: its session ends and contacts would see it offline.
        """
        self.clock.advance(44)
        self.assertEqual(self.alice.read(), [])
        self.clock.advance(1)
        (ping,) = self.alice.read()
        self.assertEqual((ping.name, ping["type"], ping.ping.uri), ("iq", "get", "urn:xmpp:ping"))
        self.assertEqual((ping["from"], ping["to"]), ("example.com", "alice@example.com/test"))
        self.clock.advance(44)
        self.assertIsNotNone(self.server.sessions.get("alice@example.com/test"))
        self.clock.advance(1)
        self.assertIsNone(self.server.sessions.get("alice@example.com/test"))
        self.assertTrue(self.alice.transport.disconnecting)

    def test_firstCheckSpread(self):
        """
        The first check after login comes up to a quarter of the quiet spell
        later, so sessions that logged in together are not pinged together.
        """
        server = FakeServer(dead_peer_timeout=80)
        server.factory.jitter = lambda: 0.5
        server.addUser("carol@example.com")
        carol = server.login("carol@example.com")
        server.clock.advance(44)
        self.assertEqual(carol.read(), [])
        server.clock.advance(1)
        self.assertEqual(carol.readOne().name, "iq")

    def test_anyTrafficKeepsAlive(self):
        """
        Whitespace keepalives (what Psi sends every 55 s) keep a session.
        """
        for _ in range(20):
            self.clock.advance(55)
            self.alice.send(" ")
        self.assertIsNotNone(self.server.sessions.get("alice@example.com/test"))

    def test_answeredPing(self):
        """
        A client that answers the ping stays; after its next quiet spell it
        is pinged again.
        """
        self.clock.advance(45)
        (ping,) = self.alice.read()
        self.alice.send(f"<iq type='result' id='{ping['id']}' to='example.com'/>")
        self.clock.advance(44)
        self.assertEqual(self.alice.read(), [])
        self.clock.advance(1)
        (again,) = self.alice.read()
        self.assertEqual(again.ping.uri, "urn:xmpp:ping")
        self.alice.send(f"<iq type='result' id='{again['id']}' to='example.com'/>")
        self.clock.advance(60)
        self.assertIsNotNone(self.server.sessions.get("alice@example.com/test"))

    def test_answeringClientNeverDropped(self):
        """
        A client that answers every ping within the allowed time, and says
        nothing else, is never dropped: whatever the delay of its answers
        and wherever the checks fall (the clock stepped in half seconds over
        every phase, an hour each).
        """
        for delay in [0, 0.5, 1, 5, 15, 22.5, 30, 44, 44.5]:
            for jitter in [0, 0.25, 0.5, 0.999]:
                server = FakeServer(dead_peer_timeout=90)
                server.factory.jitter = lambda: jitter
                server.addUser("alice@example.com")
                alice = server.login("alice@example.com")
                answers = []
                for tick in range(2 * 3600):
                    server.clock.advance(0.5)
                    for element in alice.read():
                        if getattr(element, "name", None) == "iq" and element.ping is not None:
                            answers.append((server.clock.seconds() + delay, element["id"]))
                    while answers and answers[0][0] <= server.clock.seconds():
                        alice.send(f"<iq type='result' id='{answers.pop(0)[1]}' to='example.com'/>")
                    self.assertFalse(alice.disconnected, (delay, jitter, tick / 2))

    def test_contactSeesOffline(self):
        """
        Bob, subscribed to Alice, sees her unavailable when she is dropped.
        """
        from openmessenger.storage.interfaces import RosterItem

        server = FakeServer(dead_peer_timeout=90)
        server.addUser("alice@example.com")
        server.addUser("bob@example.com")
        server.store.setItem("bob@example.com", RosterItem("alice@example.com", subscription="to"))
        server.store.setItem("alice@example.com", RosterItem("bob@example.com", subscription="from"))
        alice = server.login("alice@example.com")
        bob = server.login("bob@example.com")
        bob.read()
        # Checked in 30 s steps, Alice is pinged at 60 s and has 45 s to answer.
        for _ in range(4):
            server.clock.advance(30)
            bob.send(" ")
        gone = [e for e in bob.read() if e.name == "presence"]
        self.assertEqual([(e["from"], e.getAttribute("type")) for e in gone],
                         [("alice@example.com/test", "unavailable")])
        self.assertEqual(server.core.availability.stateOf("alice@example.com"), "offline")
        self.assertTrue(alice.transport.disconnecting)


class ClientStateTests(SynchronousTestCase):
    def test_advertised(self):
        """
        Client state indication (XEP-0352) is offered after authentication.
        """
        server = FakeServer()
        server.addUser("alice@example.com")
        client = server.client()
        client.startTLS()
        client.authenticate("alice@example.com")
        client.send(header())
        features = client.read()[1]
        self.assertIsNotNone(features.csi)
        self.assertEqual(features.csi.uri, "urn:xmpp:csi:0")


class GuessingTests(SynchronousTestCase):
    """
    Password guessing: throttles that hold against parallel attempts, and
    that slow guessing from many addresses without locking the user out.
    """

    def plain(self, client, password):
        message = b64(b"\0alice\0" + password)
        client.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{message}</auth>")

    def opened(self, server, peer):
        client = server.client(peer=peer)
        client.startTLS()
        client.send(header())
        client.read()
        return client

    def test_parallelAttemptsCounted(self):
        """
        Attempts waiting for their password check at once count as they
        start: of 50 from one address only 5 reach the check.
        """
        from tests.helpers import HeldStore

        server = FakeServer(store=HeldStore(held=("getCredentials",)))
        server.addUser("alice@example.com")
        clients = [self.opened(server, "192.0.2.9") for _ in range(50)]
        for client in clients:
            self.plain(client, b"wrong")
        self.assertEqual(len(server.store.held), 5)
        refused = [c.readOne() for c in clients[5:]]
        self.assertEqual({next(r.elements()).name for r in refused}, {"temporary-auth-failure"})

    def test_manyAddressesSlowedUserNotLockedOut(self):
        """
        Failures from addresses the account never logged in from count
        against it: past the limit a new address is refused even with the
        right password, while the user's own address still logs in.
        """
        server = FakeServer(account_guesses=3, account_guess_window=600)
        server.addUser("alice@example.com")
        home = self.opened(server, "203.0.113.1")
        self.plain(home, b"pencil")
        self.assertEqual(home.readOne().name, "success")
        for n in range(3):
            guesser = self.opened(server, f"198.51.100.{n}")
            self.plain(guesser, b"wrong")
            self.assertEqual(next(guesser.readOne().elements()).name, "not-authorized")
        stranger = self.opened(server, "198.51.100.200")
        self.plain(stranger, b"pencil")
        self.assertEqual(next(stranger.readOne().elements()).name, "temporary-auth-failure")
        again = self.opened(server, "203.0.113.1")
        self.plain(again, b"pencil")
        self.assertEqual(again.readOne().name, "success")
        server.clock.advance(601)
        later = self.opened(server, "198.51.100.200")
        self.plain(later, b"pencil")
        self.assertEqual(later.readOne().name, "success")

    def test_stableSaltForUnknownUsers(self):
        """
        SCRAM shows an unknown account the same salt at every attempt, as it
        does a real one, so the salt does not tell which accounts exist.
        """
        server = FakeServer()

        def salt(user):
            client = self.opened(server, "192.0.2.50")
            first = b64(f"n,,n={user},r=abcdefgh".encode())
            client.send(f"<auth xmlns='{NS_SASL}' mechanism='SCRAM-SHA-256'>{first}</auth>")
            challenge = base64.b64decode(str(client.readOne())).decode()
            return dict(part.split("=", 1) for part in challenge.split(","))["s"]

        self.assertEqual(salt("nobody"), salt("nobody"))
        self.assertNotEqual(salt("nobody"), salt("someone"))


class SerialisationTests(SynchronousTestCase):
    def test_neverWritesWhatXMLForbids(self):
        """
        A stanza that picked up characters XML 1.0 forbids (every code point
        below 0x20, lone surrogates, U+FFFE/U+FFFF) still reaches the client
        as well-formed XML: the stream stays up.
        """
        from twisted.words.xish import domish

        server = FakeServer()
        server.addUser("alice@example.com")
        alice = server.login("alice@example.com")
        message = domish.Element(("jabber:client", "message"))
        message["to"] = "alice@example.com/test"
        message["from"] = "x\x01@visitors.example.com"
        message.addElement("body", content="".join(map(chr, range(32))) + "\ud800\ufffe\uffffend")
        server.core.router.route(message)
        [got] = alice.read()
        self.assertEqual(str(got.body), "\t\n\nend")
        self.assertEqual(got["from"], "x@visitors.example.com")
        self.assertFalse(alice.disconnected)


class RateTests(SynchronousTestCase):
    """
    What one connection may send and be sent is bounded.
    """

    def rested(self, **c2s):
        """
        A server with these limits, and Alice logged in long enough ago
        that her login no longer counts.
        """
        server = FakeServer(**c2s)
        server.addUser("alice@example.com")
        alice = server.login("alice@example.com")
        server.clock.advance(100)
        return server, alice

    def test_bytesShaped(self):
        """
        A client over its byte rate is read from no more until it is back
        within it; then reading resumes.
        """
        server, alice = self.rested(rate_bytes=1000, rate_burst=2, rate_stanzas=0)
        self.assertEqual(alice.transport.producerState, "producing")
        alice.send("<presence><status>" + "x" * 1500 + "</status></presence>")
        self.assertEqual(alice.transport.producerState, "producing")
        alice.send("<presence><status>" + "x" * 1500 + "</status></presence>")
        self.assertEqual(alice.transport.producerState, "paused")
        server.clock.advance(0.9)
        self.assertEqual(alice.transport.producerState, "paused")
        server.clock.advance(0.2)
        self.assertEqual(alice.transport.producerState, "producing")

    def test_stanzasShaped(self):
        """
        The same for stanzas: a flood of tiny ones pauses reading, for as
        long as the flood was over the rate.
        """
        server, alice = self.rested(rate_stanzas=10, rate_burst=2, rate_bytes=0)
        alice.send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>" * 50)
        self.assertEqual(alice.transport.producerState, "paused")
        # 50 stanzas at once, 20 allowed in a burst: 3 s of the rate over.
        server.clock.advance(2.9)
        self.assertEqual(alice.transport.producerState, "paused")
        server.clock.advance(0.2)
        self.assertEqual(alice.transport.producerState, "producing")

    def test_cheapAcknowledgementRequests(self):
        """
        Thousands of C{<r/>} cost no storage round trip: each is answered at
        once from memory.
        """
        server = FakeServer(rate_stanzas=0, rate_bytes=0)
        server.addUser("alice@example.com")
        alice = server.login("alice@example.com")
        alice.send("<enable xmlns='urn:xmpp:sm:3'/>")
        alice.read()
        server.core.accounts.store = None  # any storage use would fail
        alice.send("<r xmlns='urn:xmpp:sm:3'/>" * 5000)
        answers = alice.read()
        self.assertEqual(len(answers), 5000)
        self.assertEqual({a.name for a in answers}, {"a"})

    def test_unreadOutputBounded(self):
        """
        A client that does not read is held at most max_output_buffer bytes;
        beyond it the session ends and what it was not sent is stored
        offline for it, not lost and not kept in memory.
        """
        server = FakeServer(max_output_buffer=10000, rate_bytes=0, rate_stanzas=0)
        server.addUser("alice@example.com")
        server.addUser("bob@example.com")
        alice = server.login("alice@example.com")
        bob = server.login("bob@example.com")
        bob.stream.pauseProducing()  # its socket buffer is full
        for n in range(30):
            alice.send(f"<message to='bob@example.com/test' type='chat'><body>{n} {'x' * 500}</body></message>")
        self.assertIsNone(server.sessions.get("bob@example.com/test"))
        self.assertTrue(bob.transport.disconnecting)
        stored = [text for _, text, _ in server.store._offline["bob@example.com"]]
        # What was held and what came after, in order.
        self.assertEqual(len(stored), 30)
        self.assertEqual([text.count(f"<body>{n} ") for n, text in enumerate(stored)], [1] * 30)
        self.assertEqual(bob.stream.heldBytes, 0)

    def heldForBob(self):
        """
        Bob's client stops reading (its socket buffer is full), and Alice
        sends him three messages.
        """
        server = FakeServer(rate_bytes=0, rate_stanzas=0)
        server.addUser("alice@example.com")
        server.addUser("bob@example.com")
        alice = server.login("alice@example.com")
        bob = server.login("bob@example.com")
        bob.stream.pauseProducing()
        for n in range(3):
            alice.send(f"<message to='bob@example.com/test' type='chat'><body>{n}</body></message>")
        return server, bob

    def test_heldStoredOnShutdown(self):
        """
        What was held for a client that did not read, without stream
        management, is stored offline when the server stops.
        """
        server, bob = self.heldForBob()
        self.successResultOf(server.factory.shutdown())
        self.assertEqual(len(server.store._offline["bob@example.com"]), 3)

    def test_readingAgainFlushes(self):
        """
        What was held is written, in order, once the client reads again.
        """
        server, bob = self.heldForBob()
        self.assertEqual(bob.read(), [])
        bob.stream.resumeProducing()
        self.assertEqual([str(m.body) for m in bob.read()], ["0", "1", "2"])
