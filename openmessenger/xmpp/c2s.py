# -*- test-case-name: tests.xmpp.test_c2s -*-
"""
Client-to-server streams (RFC 6120): STARTTLS, SASL, resource binding, and
the stanza intake of bound sessions.

Twisted and wokkel only have the initiating side of these negotiations;
this is the receiving side, in a fixed order: TLS, then SASL, then stream
restart, then bind.  Each connection is a L{ClientStream} (the protocol, with
our hardened parser) driven by a L{ClientNegotiator} (its authenticator),
which leaves SASL to L{openmessenger.xmpp.authentication} and dead peers to
L{openmessenger.xmpp.watchdog}.  Once bound, elements go straight to
L{ClientNegotiator.stanzaReceived}: no XPath matching on the hot path.
"""

import os
import random

from twisted.internet import defer
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger
from twisted.words.protocols.jabber import error, xmlstream
from twisted.words.protocols.jabber.jid import JID
from twisted.words.xish import domish

from openmessenger.ratelimit import GuessingGuard, Throttle, TokenBucket
from openmessenger.text import xmlSafe
from openmessenger.xmpp import events, jids, stanzas
from openmessenger.xmpp.authentication import NS_SASL, Authentication
from openmessenger.xmpp.parser import RestrictedElementStream, StreamLimitError
from openmessenger.xmpp.sessions import Session
from openmessenger.xmpp.streammanagement import (
    NS_SM,
    REQUEST_EVERY,
    AckState,
    HandledCountTooHigh,
    Resumption,
)
from openmessenger.xmpp.watchdog import Watchdog

NS_CLIENT = "jabber:client"
NS_STREAMS = xmlstream.NS_STREAMS
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_ROSTERVER = "urn:xmpp:features:rosterver"
NS_XMPP_ERRORS = "urn:xmpp:errors"
NS_CSI = "urn:xmpp:csi:0"
NS_REGISTER = "jabber:iq:register"
NS_REGISTER_FEATURE = "http://jabber.org/features/iq-register"
NS_PING = "urn:xmpp:ping"

STANZA_NAMES = frozenset(("message", "presence", "iq"))
IQ_TYPES = frozenset(("get", "set", "result", "error"))
PRESENCE_TYPES = frozenset(
    (None, "unavailable", "subscribe", "subscribed", "unsubscribe",
     "unsubscribed", "probe", "error")
)

#: Seconds a client has from connecting until it has bound a resource.
NEGOTIATION_TIMEOUT = 120


class ClientStream(xmlstream.XmlStream):
    """
    The server end of one client connection.

    @ivar elementHandler: called with each top-level element; the negotiator
        points it at the right method for the stream's state.
    @ivar session: the L{Session}, once a resource is bound.
    """

    log = Logger()
    session = None
    closed = False
    cleanClose = False
    lastReceived = 0.0
    #: The L{AckState} once the client enabled stream management.
    sm = None

    #: While the transport's buffer is full (the client does not read):
    #: what waits to be written, as C{(element or text, bytes)}.
    held = None
    heldBytes = 0
    #: The timer that resumes reading from a client over its rate.
    shaping = None

    def __init__(self, negotiator, maxStanzaSize):
        self.maxStanzaSize = maxStanzaSize
        xmlstream.XmlStream.__init__(self, negotiator)
        self.elementHandler = negotiator.negotiationElement
        #: The pings sent by L{confirmed}, by id, with their Deferreds.
        self.confirming = {}

    def connectionMade(self):
        settings, clock = self.factory.settings, self.factory.clock
        self.bytesIn = TokenBucket(settings.rate_bytes, settings.rate_burst, clock)
        self.stanzasIn = TokenBucket(settings.rate_stanzas, settings.rate_burst, clock)
        self.wait = 0.0
        xmlstream.XmlStream.connectionMade(self)

    def _initializeStream(self):
        self.stream = RestrictedElementStream(self.maxStanzaSize)
        self.stream.DocumentStartEvent = self.onDocumentStart
        self.stream.ElementEvent = self.onElement
        self.stream.DocumentEndEvent = self.onDocumentEnd

    def reset(self, maxStanzaSize=None):
        """
        Start a new stream after STARTTLS or SASL: a fresh parser, and the
        old one detached so nothing it still holds is acted upon.
        """
        if maxStanzaSize is not None:
            self.maxStanzaSize = maxStanzaSize
        self.stream.detach()
        xmlstream.XmlStream.reset(self)

    def dataReceived(self, data):
        if self.closed:
            return
        if self.rawDataInFn:
            self.rawDataInFn(data)
        self.lastReceived = self.factory.clock.seconds()
        parser = self.stream
        try:
            parser.parse(data)
        except StreamLimitError as e:
            if parser is self.stream:
                self.closeWithError(e.condition, e.text, e.appCondition)
        self.shape(self.bytesIn.take(len(data)))

    def shape(self, wait):
        """
        A client over its rate is read from no more until it is back within
        it: TCP then slows it down, and other clients are served meanwhile.
        """
        wait = max(wait, self.wait)
        self.wait = 0.0
        if wait > 0 and not self.closed and self.shaping is None:
            self.transport.pauseProducing()
            self.shaping = self.factory.clock.callLater(wait, self.unshape)

    def unshape(self):
        self.shaping = None
        if not self.closed:
            self.transport.resumeProducing()

    def onElement(self, element):
        if self.closed:
            return
        self.wait = max(self.wait, self.stanzasIn.take(1))
        if element.uri == NS_STREAMS and element.name == "error":
            self.transport.loseConnection()
            return
        try:
            self.elementHandler(element)
        except Exception:
            self.log.failure("Error handling {element}", element=element.toXml)
            self.closeWithError("internal-server-error")

    def onDocumentEnd(self):
        """
        The client closed its stream: close ours (RFC 6120 4.4).
        """
        if not self.closed:
            self.closed = True
            self.cleanClose = True
            # It read what came before its goodbye.
            self.endConfirmations(True)
            self.authenticator.endSession()
            self.sendFooter()
            self.transport.loseConnection()

    def write(self, obj):
        """
        Serialise an element (or take text) and write it, dropping whatever
        XML 1.0 forbids: whatever a stanza picked up on its way, the client
        never gets a stream it must reject as not well-formed.
        """
        element = obj if domish.IElement.providedBy(obj) else None
        if element is not None:
            obj = obj.toXml(
                prefixes=self.prefixes,
                defaultUri=self.namespace,
                prefixesInScope=list(self.prefixes.values()),
            )
        data = xmlSafe(obj)
        if self.held is None:
            xmlstream.XmlStream.send(self, data)
            return
        self.held.append((element or data, data))
        self.heldBytes += len(data)
        if self.heldBytes > self.factory.settings.max_output_buffer:
            self.overflowed()

    # The client's reading, seen from the transport (IPushProducer): its
    # buffer full means the client is not reading.

    def pauseProducing(self):
        if self.held is None:
            self.held = []

    def resumeProducing(self):
        held, self.held, self.heldBytes = self.held or [], None, 0
        for _, data in held:
            xmlstream.XmlStream.send(self, data)

    def stopProducing(self):
        pass

    def overflowed(self):
        """
        The client has not read what it was sent for longer than the server
        will hold it: the session ends, and what it was not sent goes where
        it would for an offline user (with stream management, everything it
        did not acknowledge does).
        """
        self.log.info("{jid} reads nothing: disconnecting", jid=self.session.full if self.session else "?")
        self.closeWithError("resource-constraint", "The client reads nothing of what it is sent.")
        # Closing waits for the buffer to drain, which it never will.
        self.transport.abortConnection()

    def abandonHeld(self):
        """
        Once the session has ended: what was held for the client and never
        written goes where it would for an offline user.  (With stream
        management it is in the queue, which is routed again or kept for a
        resumption already.)
        """
        held, self.held, self.heldBytes = self.held or [], None, 0
        if self.sm is None:
            self.factory.reroute([item for item, _ in held if domish.IElement.providedBy(item)])

    def send(self, obj):
        self.write(obj)
        sm = self.sm
        if sm is None or not domish.IElement.providedBy(obj):
            return
        if obj.name in STANZA_NAMES and obj.uri in (NS_CLIENT, None):
            sm.outbound(obj)
            if len(sm.queue) > self.factory.smSettings.max_unacked:
                self.closeWithError("resource-constraint", "Too many unacknowledged stanzas.")
            elif sm.sent % REQUEST_EVERY == 0:
                self.write(domish.Element((NS_SM, "r")))

    def confirmed(self):
        """
        Fire with C{True} once the client has shown it has every stanza sent
        to it so far: with stream management by acknowledging them,
        otherwise by answering a ping sent after them (or by closing its
        stream); with C{False} if the connection ends before.
        """
        if self.closed:
            return defer.succeed(False)
        if self.sm is not None:
            d = self.sm.confirmed()
            if not d.called:
                self.write(domish.Element((NS_SM, "r")))
            return d
        self.confirming[self.ping("confirm")] = d = defer.Deferred()
        return d

    def ping(self, purpose):
        """
        Ping the client from the server (XEP-0199); return the ping's id.
        """
        ping = domish.Element((NS_CLIENT, "iq"))
        ping["type"] = "get"
        ping["id"] = stanzas.newId(f"{purpose}-")
        ping["from"] = self.session.jid.host
        ping["to"] = self.session.full
        ping.addElement((NS_PING, "ping"))
        self.send(ping)
        return ping["id"]

    def answersConfirmation(self, stanza):
        """
        Whether C{stanza} answers a ping of L{confirmed}: it fires that.
        """
        if stanza.name != "iq" or stanza.getAttribute("type") not in ("result", "error"):
            return False
        d = self.confirming.pop(stanza.getAttribute("id", ""), None)
        if d is None:
            return False
        d.callback(True)
        return True

    def endConfirmations(self, outcome):
        confirming, self.confirming = self.confirming, {}
        for d in confirming.values():
            d.callback(outcome)

    def closeWithError(self, condition, text=None, appCondition=None):
        """
        Send a stream error (RFC 6120 4.9) and close the connection.
        """
        if self.closed:
            return
        self.closed = True
        self.authenticator.endSession()
        self.abandonHeld()
        app = domish.Element((NS_XMPP_ERRORS, appCondition)) if appCondition else None
        self.sendStreamError(error.StreamError(condition, text=text, appCondition=app))

    def connectionLost(self, reason):
        self.closed = True
        if self.shaping is not None and self.shaping.active():
            self.shaping.cancel()
        self.endConfirmations(False)
        # A connection that broke (not closed by either side) may be resumed.
        self.authenticator.endSession(resumable=not self.cleanClose)
        self.abandonHeld()
        xmlstream.XmlStream.connectionLost(self, reason)


class ClientNegotiator(xmlstream.ListenAuthenticator):
    """
    Drives one client stream from the first header to a bound session, then
    checks and stamps every stanza the session sends.
    """

    namespace = NS_CLIENT
    log = Logger()

    def __init__(self, factory):
        self.factory = factory
        self.user = None
        self.tls = False
        self.authentication = Authentication(self)
        self.timeout = None
        self.watchdog = None

    # Stream set-up

    def connectionMade(self):
        xs = self.xmlstream
        self.tls = ISSLTransport.providedBy(xs.transport)
        self.timeout = self.factory.clock.callLater(
            NEGOTIATION_TIMEOUT, xs.closeWithError, "connection-timeout"
        )

    def streamStarted(self, root):
        xs = self.xmlstream
        xs.namespace = root.defaultUri
        xs.sid = stanzas.newId(size=8)
        xs.thisEntity = JID(self.factory.domains.primary)
        if (root.uri, root.name) != (NS_STREAMS, "stream"):
            return xs.closeWithError("invalid-namespace")
        if root.defaultUri != NS_CLIENT:
            return xs.closeWithError("invalid-namespace")
        try:
            domain = jids.prepDomain(root.getAttribute("to", ""))
        except jids.InvalidJID:
            return xs.closeWithError("host-unknown")
        if domain not in self.factory.domains or (
            self.user is not None and domain != self.user.host
        ):
            return xs.closeWithError("host-unknown")
        xs.thisEntity = JID(domain)
        if root.getAttribute("version") != "1.0":
            return xs.closeWithError("unsupported-version")
        xs.sendHeader()
        xs.send(self.features())

    def features(self):
        """
        The stream features for the stream's current state.
        """
        features = domish.Element((NS_STREAMS, "features"))
        settings = self.factory.settings
        if self.user is None:
            if not self.tls and self.factory.tlsContext is not None:
                starttls = features.addElement((NS_TLS, "starttls"))
                if settings.require_tls:
                    starttls.addElement("required")
            if self.tls or not settings.require_tls:
                mechanisms = features.addElement((NS_SASL, "mechanisms"))
                for name in self.authentication.mechanisms():
                    mechanisms.addElement("mechanism", content=name)
                if self.registrationOpen():
                    features.addElement((NS_REGISTER_FEATURE, "register"))
        else:
            features.addElement((NS_BIND, "bind"))
            features.addElement((NS_SESSION, "session")).addElement("optional")
            features.addElement((NS_ROSTERVER, "ver"))
            features.addElement((NS_CSI, "csi"))
            features.addElement((NS_SM, "sm"))
        for element in self.factory.extraFeatures:
            features.addChild(element)
        return features

    def registrationOpen(self):
        registration = self.factory.registration
        return registration is not None and registration.openOn(self.xmlstream.thisEntity.host)

    def negotiationElement(self, element):
        """
        Handle an element before a resource is bound.
        """
        xs = self.xmlstream
        uri, name = element.uri, element.name
        if uri == NS_TLS and name == "starttls" and self.user is None:
            self.startTLS()
        elif uri == NS_SASL and self.user is None:
            if not self.tls and self.factory.settings.require_tls:
                xs.closeWithError("policy-violation", "Use STARTTLS first.")
            else:
                self.authentication.element(element)
        elif self.user is not None and uri == NS_CLIENT and name == "iq":
            self.preBindIQ(element)
        elif self.user is not None and uri == NS_SM and name == "resume":
            self.resume(element)
        elif self.user is not None and uri == NS_SM:
            self.smFailed("unexpected-request")
        elif (
            self.user is None
            and self.registrationOpen()
            and uri == NS_CLIENT
            and name == "iq"
            and stanzas.child(element, NS_REGISTER, "query") is not None
            and (self.tls or not self.factory.settings.require_tls)
        ):
            d = self.factory.registration.handle(element, xs.thisEntity.host, self.peerAddress)
            d.addCallback(lambda reply: None if xs.closed else xs.send(reply))
            d.addErrback(self.internalError)
        else:
            xs.closeWithError("not-authorized")

    def startTLS(self):
        xs = self.xmlstream
        if self.tls or self.factory.tlsContext is None:
            xs.send(domish.Element((NS_TLS, "failure")))
            xs.closed = True
            xs.transport.loseConnection()
            return
        xs.send(domish.Element((NS_TLS, "proceed")))
        xs.transport.startTLS(self.factory.tlsContext)
        self.tls = True
        xs.reset()

    @property
    def peerAddress(self):
        peer = self.xmlstream.transport.getPeer()
        return getattr(peer, "host", str(peer))

    def authenticated(self, user):
        """
        SASL succeeded for C{user}: a new stream follows (RFC 6120 6.4.6).
        """
        self.user = user
        self.xmlstream.reset(self.factory.settings.max_stanza_size)

    def internalError(self, failure):
        self.log.failure("Handling a login failed", failure)
        self.xmlstream.closeWithError("internal-server-error")

    # Binding

    def preBindIQ(self, iq):
        bind = stanzas.child(iq, NS_BIND, "bind")
        if iq.getAttribute("type") != "set" or bind is None:
            return self.xmlstream.closeWithError("not-authorized", "Bind a resource first.")
        requested = str(stanzas.child(bind, NS_BIND, "resource") or "").strip()
        resource = requested or stanzas.newId()
        try:
            full = jids.parse(f"{self.user.userhost()}/{resource}")
        except jids.InvalidJID as e:
            return self.xmlstream.send(stanzas.errorReply(iq, "bad-request", str(e)))
        if not self.factory.accounts.exists(full.userhost()):
            return self.xmlstream.closeWithError("not-authorized", "Account deleted.")
        self.bind(iq, full)

    def bind(self, iq, full):
        xs = self.xmlstream
        registry = self.factory.sessions
        old = registry.get(full.full())
        if old is not None:
            old.close("conflict", "Replaced by new connection.")
        # One session per resource: a suspended one (XEP-0198) ends for good.
        self.factory.resumption.endSuspended(full.full())
        session = xs.session = Session(full, xs)
        registry.add(session)
        if self.timeout is not None and self.timeout.active():
            self.timeout.cancel()
        reply = xmlstream.toResponse(iq, "result")
        reply.addElement((NS_BIND, "bind")).addElement("jid", content=full.full())
        xs.send(reply)
        xs.elementHandler = self.stanzaReceived
        xs.transport.registerProducer(xs, True)
        # Spread the first check: sessions that logged in together would
        # otherwise all be pinged in one burst.
        quiet = self.factory.settings.dead_peer_timeout / 2
        self.watch(quiet + quiet / 4 * self.factory.jitter())
        self.factory.domain.fire(events.RESOURCE_BOUND, session)

    def watch(self, delay):
        """
        Start the dead-peer watchdog of the bound stream.
        """
        self.watchdog = Watchdog(self.xmlstream, self.factory.clock,
                                 self.factory.settings.dead_peer_timeout, self.peerGone)
        self.watchdog.start(delay)

    def peerGone(self):
        xs = self.xmlstream
        xs.closed = True
        self.endSession(resumable=True)
        xs.transport.abortConnection()

    def endSession(self, resumable=False):
        """
        Take the session, if any, out of the registry: exactly once.  With
        stream management and a broken connection it is only suspended.
        """
        if self.timeout is not None and self.timeout.active():
            self.timeout.cancel()
        if self.watchdog is not None:
            self.watchdog.stop()
        xs = self.xmlstream
        session = xs.session
        if session is None:
            return
        xs.session = None
        self.factory.sessions.remove(session)
        sm = xs.sm
        domain = self.factory.domain
        if sm is not None and sm.resumable and resumable and self.factory.accounts.exists(session.bare):
            self.factory.sessions.suspend(session)
            domain.fire(events.RESOURCE_SUSPENDED, session)
            self.factory.resumption.suspend(session, sm)
            return
        if sm is not None:
            self.factory.resumption.forget(sm)
        domain.fire(events.RESOURCE_UNBOUND, session)
        if sm is not None:
            self.factory.redeliver(sm)

    # Stream management (XEP-0198)

    def smFailed(self, condition, **attributes):
        failed = domish.Element((NS_SM, "failed"))
        for key, value in attributes.items():
            failed[key] = value
        failed.addElement(("urn:ietf:params:xml:ns:xmpp-stanzas", condition))
        self.xmlstream.send(failed)

    def smElement(self, element):
        """
        Handle a stream management element after bind.
        """
        xs = self.xmlstream
        name = element.name
        if name == "enable":
            if xs.sm is not None:
                return self.smFailed("unexpected-request")
            resumable = element.getAttribute("resume") in ("true", "1")
            xs.sm = AckState(resumable)
            enabled = domish.Element((NS_SM, "enabled"))
            if resumable:
                self.factory.resumption.register(xs.session, xs.sm)
                enabled["id"] = xs.sm.id
                enabled["resume"] = "true"
                enabled["max"] = str(self.factory.smSettings.resume_timeout)
            xs.send(enabled)
        elif xs.sm is None:
            self.smFailed("unexpected-request")
        elif name == "r":
            # Acknowledge only what storage has: wait for the writes that
            # the stanzas handled so far started (each answered with an
            # error stanza first if it failed).
            answer = self.answer(xs.sm)
            xs.sm.written().addCallback(lambda _: None if xs.closed else xs.send(answer))
        elif name == "a":
            try:
                xs.sm.acknowledged(int(element.getAttribute("h", "")))
            except HandledCountTooHigh:
                app = domish.Element((NS_SM, "handled-count-too-high"))
                app["h"] = element["h"]
                app["send-count"] = str(xs.sm.sent)
                xs.closed = True
                self.endSession()
                xs.sendStreamError(error.StreamError("undefined-condition", appCondition=app))
            except ValueError:
                xs.closeWithError("bad-format", "h must be a number.")

    def answer(self, sm):
        a = domish.Element((NS_SM, "a"))
        a["h"] = str(sm.received % 2**32)
        return a

    def resume(self, element):
        """
        Resume a session after logging in again (XEP-0198 5).
        """
        xs = self.xmlstream
        try:
            handled = int(element.getAttribute("h", ""))
        except ValueError:
            return self.smFailed("bad-request")
        entry = self.factory.resumption.take(element.getAttribute("previd", ""), self.user.userhost())
        if entry is None:
            return self.smFailed("item-not-found")
        session, sm = entry
        old = session.stream
        suspended = not isinstance(old, ClientStream)
        if not suspended:
            # The old connection is still there, half-open: it is taken over,
            # with its queue (which holds what it could not write, too).
            old.session = None
            old.sm = None
            old.held, old.heldBytes = None, 0
            self.factory.sessions.remove(session)
            old.closeWithError("conflict", "The session was resumed elsewhere.")
        try:
            sm.acknowledged(handled)
        except HandledCountTooHigh:
            self.factory.resumption.register(session, sm)
            self.factory.resumption.end(sm.id)
            return self.smFailed("undefined-condition")
        xs.session, xs.sm = session, sm
        session.stream = xs
        self.factory.sessions.unsuspend(session)
        self.factory.sessions.add(session)
        if self.timeout is not None and self.timeout.active():
            self.timeout.cancel()
        self.factory.resumption.register(session, sm)
        resumed = domish.Element((NS_SM, "resumed"))
        resumed["previd"] = sm.id
        resumed["h"] = str(sm.received % 2**32)
        xs.send(resumed)
        for stanza in sm.unacknowledged():
            xs.write(stanza)
        xs.elementHandler = self.stanzaReceived
        xs.transport.registerProducer(xs, True)
        self.watch(self.factory.settings.dead_peer_timeout / 2)
        if suspended:
            self.factory.domain.fire(events.RESOURCE_RESUMED, session)

    # Stanzas of a bound session

    def stanzaReceived(self, stanza):
        """
        Check a stanza from the client, stamp its sender and route it.
        """
        xs = self.xmlstream
        session = xs.session
        if stanza.uri == NS_SM:
            return self.smElement(stanza)
        if stanza.uri != NS_CLIENT or stanza.name not in STANZA_NAMES:
            if stanza.uri == NS_CSI and stanza.name in ("active", "inactive"):
                event = events.CLIENT_ACTIVE if stanza.name == "active" else events.CLIENT_INACTIVE
                return self.factory.domain.fire(event, session)
            return xs.closeWithError("unsupported-stanza-type")
        # Only stanzas count for stream management (XEP-0198 4), not CSI.
        if xs.sm is not None:
            xs.sm.received += 1
        if xs.confirming and xs.answersConfirmation(stanza):
            return
        stanza["from"] = session.full
        to = stanza.getAttribute("to")
        if to is not None:
            try:
                stanza["to"] = jids.parse(to).full()
            except jids.InvalidJID as e:
                return self.reject(stanza, "jid-malformed", str(e))
        kind = stanza.getAttribute("type")
        if stanza.name == "iq":
            if kind not in IQ_TYPES or not stanza.getAttribute("id"):
                return self.reject(stanza, "bad-request", "Invalid iq type or id.")
            if kind in ("get", "set") and len(list(stanza.elements())) != 1:
                return self.reject(stanza, "bad-request", "An iq get or set has one payload.")
            if kind == "set" and stanzas.child(stanza, NS_SESSION, "session") is not None:
                # RFC 3921 sessions are implicit today; answer as Prosody does.
                return xs.send(xmlstream.toResponse(stanza, "result"))
        elif stanza.name == "presence" and kind not in PRESENCE_TYPES:
            return self.reject(stanza, "bad-request", "Unknown presence type.")
        elif session.idleSince is not None and stanza.body is not None:
            # Someone typed a message: the user is back at the keyboard.
            self.factory.domain.fire(events.USER_ACTIVE, session)
        stanza.origin = session
        stanza.writes = []
        self.factory.domain.outbound(stanza)
        if xs.sm is not None:
            for write in stanza.writes:
                xs.sm.writing(write)

    def reject(self, stanza, condition, text):
        reply = stanzas.errorReply(stanza, condition, text)
        if reply is not None:
            reply.attributes.pop("from", None)
            reply["to"] = self.xmlstream.session.full
            self.xmlstream.send(reply)


def _isCarbon(message):
    return any(child.uri == "urn:xmpp:carbons:2" for child in message.elements())


class ClientFactory(ServerFactory):
    """
    Makes the client streams of one listening endpoint.

    @param domains: the L{ServedDomains}.
    @param accounts: the L{AccountManager}.
    @param sessions: the L{SessionRegistry}.
    @param domain: the L{LocalDomain} that takes the stanzas.
    @param tlsContext: the server's TLS context factory, or C{None}.
    @param settings: the C{[c2s]} configuration section.
    @param clock: an L{IReactorTime}.
    @param registration: what answers in-band registration before login,
        or C{None} where it is off.
    @param smSettings: the C{[stream_management]} configuration section.
    @param extraFeatures: elements added to every stream features list
        (entity capabilities).
    @param mayLogIn: whether an account may log in now (the directory's
        answer: disabled accounts and companies awaiting approval may not).
    @param guard: the L{GuessingGuard} of logins, shared with the web side.
    @param secret: bytes the server keeps, for the salts SCRAM shows for
        accounts that do not exist.
    """

    def __init__(
        self, domains, accounts, sessions, domain, tlsContext, settings, clock,
        registration=None, smSettings=None, extraFeatures=(), mayLogIn=lambda user: True, guard=None,
        secret=None,
    ):
        self.registration = registration
        self.mayLogIn = mayLogIn
        self.extraFeatures = tuple(extraFeatures)
        self.smSettings = smSettings
        self.resumption = Resumption(
            clock, smSettings.resume_timeout if smSettings else 0, self.expired
        )
        self.domains = domains
        self.accounts = accounts
        self.sessions = sessions
        self.domain = domain
        self.tlsContext = tlsContext
        self.settings = settings
        self.clock = clock
        self.throttle = Throttle(settings.auth_failures, settings.auth_failure_window, clock)
        self.guard = guard or GuessingGuard(
            settings.account_guesses, settings.account_guess_window, clock
        )
        self.secret = secret or os.urandom(32)
        #: Writes of stanzas routed again (L{reroute}) not finished yet.
        self.rerouting = set()

    log = Logger()
    #: Log every byte in and out (C{twistd openmessenger --verbose}).
    logTraffic = False
    #: A number in [0, 1) that spreads the first dead-peer checks.
    jitter = staticmethod(random.random)

    def expired(self, session, sm):
        """
        A suspended session was not resumed: it ends now.
        """
        self.sessions.unsuspend(session)
        self.domain.fire(events.RESOURCE_UNBOUND, session)
        self.redeliver(sm)

    def redeliver(self, sm):
        """
        A session with stream management ended for good: what it never
        acknowledged is routed again.
        """
        sm.abandoned()
        self.reroute(sm.unacknowledged())

    def reroute(self, stanzas):
        """
        Route again what a session that has ended did not get: messages
        then reach the user's other resources or offline storage; requests
        it never answered bounce.
        """
        writes = []
        for stanza in stanzas:
            if getattr(stanza, "stored", False):
                # Replayed from offline storage, which keeps it until a
                # session confirms it.
                continue
            if stanza.name == "message" and not _isCarbon(stanza):
                if stanza.getAttribute("to"):
                    stanza.writes = writes
                    self.domain.receive(stanza)
            elif stanza.name == "iq" and stanza.getAttribute("type") in ("get", "set"):
                self.domain.bounce(stanza, "service-unavailable")
        for write in writes:
            self.rerouting.add(write)
            write.addBoth(lambda result, write=write: (self.rerouting.discard(write), result)[1])

    def shutdown(self):
        """
        The server stops: every session ends with C{system-shutdown}, and
        suspended ones end too; fire once what they had not acknowledged is
        stored (offline, for their users' next login).
        """
        for session in self.sessions.all():
            session.close("system-shutdown", "The server is shutting down.")
        self.resumption.endAll()
        return defer.DeferredList(list(self.rerouting))

    def buildProtocol(self, addr):
        stream = ClientStream(
            ClientNegotiator(self), self.settings.max_stanza_size_before_auth
        )
        stream.factory = self
        if self.logTraffic:
            stream.rawDataInFn = lambda data: self.log.info("{peer} RECV {data!r}", peer=addr, data=data)
            stream.rawDataOutFn = lambda data: self.log.info("{peer} SEND {data!r}", peer=addr, data=data)
        return stream
