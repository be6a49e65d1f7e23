# -*- test-case-name: tests.features.test_presence -*-
"""
Presence (RFC 6121 3-4): subscriptions, broadcasts, probes and directed
presence.  The only writer of a session's presence.

Subscription requests and answers follow the state tables of RFC 6121
appendix A, on the sender's roster when a local client sends them
(outbound) and on the recipient's when they arrive (inbound).  Both sides
run here when both users are local, one after the other, as two servers
would.
"""


from twisted.internet import defer
from twisted.logger import Logger
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.xmlstream import XMPPHandler

from openmessenger.storage.interfaces import LastActivity
from openmessenger.xmpp import events, stanzas
from openmessenger.xmpp.localdomain import SUBSCRIPTION_TYPES

NS_CLIENT = stanzas.NS_CLIENT
SHOW_VALUES = frozenset(("chat", "away", "xa", "dnd"))


#: How far in the future an idle time may lie (clock skew), in seconds.
IDLE_SKEW = 60


def parsePresence(presence, now):
    """
    Check an available presence; return its C{(priority, show)}.

    @raise StanzaError: C{bad-request} for an unknown show, a priority
        outside -128..127 (RFC 6121 4.7.2), or a malformed or future idle
        time (XEP-0319).
    """
    show = stanzas.child(presence, NS_CLIENT, "show")
    if show is not None:
        show = str(show).strip()
        if show not in SHOW_VALUES:
            raise StanzaError("bad-request", text="Unknown show value.")
    try:
        idle = stanzas.idleSince(presence)
    except ValueError:
        raise StanzaError("bad-request", text="Malformed idle time.") from None
    if idle is not None and idle > now + IDLE_SKEW:
        raise StanzaError("bad-request", text="Idle time lies in the future.")
    priority = stanzas.child(presence, NS_CLIENT, "priority")
    if priority is None:
        return 0, show
    try:
        value = int(str(priority).strip())
    except ValueError:
        raise StanzaError("bad-request", text="Priority is not a number.") from None
    if not -128 <= value <= 127:
        raise StanzaError("bad-request", text="Priority must be within -128..127.")
    return value, show


def statusOf(presence):
    status = stanzas.child(presence, NS_CLIENT, "status") if presence is not None else None
    return str(status) if status is not None else ""


def _grant(subscription):
    return {"none": "from", "to": "both"}.get(subscription, subscription)


def _revoke(subscription):
    return {"from": "none", "both": "to"}.get(subscription, subscription)


def _gain(subscription):
    return {"none": "to", "from": "both"}.get(subscription, subscription)


def _lose(subscription):
    return {"to": "none", "both": "from"}.get(subscription, subscription)


class PresenceHandler(XMPPHandler):
    log = Logger()

    def __init__(self, rosters, sessions, accounts, lastActivity, availability, clock,
                 maxPending=1000):
        """
        @param rosters: the L{RosterManager}.
        @param sessions: the L{SessionRegistry}.
        @param accounts: the L{AccountManager}.
        @param lastActivity: an L{ILastActivityStore}, told when sessions end.
        @param availability: the L{Availability}, told of every change.
        @param clock: for the time of last activity.
        @param maxPending: the most subscription requests a user may have
            waiting for an answer; more are dropped.
        """
        XMPPHandler.__init__(self)
        self.maxPending = maxPending
        self.rosters = rosters
        self.sessions = sessions
        self.accounts = accounts
        self.lastActivity = lastActivity
        self.availability = availability
        self.now = clock.seconds

    def connectionInitialized(self):
        self.xmlstream.addObserver(events.PRESENCE_OUTBOUND, self.onOutbound)
        self.xmlstream.addObserver(events.RESOURCE_UNBOUND, self.onUnbound)
        self.xmlstream.addObserver(events.RESOURCE_SUSPENDED, self.onSuspended)
        self.xmlstream.addObserver(events.RESOURCE_RESUMED, self.onResumed)
        self.xmlstream.addObserver("/presence", self.onInbound)

    def run(self, d):
        d.addErrback(lambda f: self.log.failure("Presence processing failed", f))

    def subscribe(self, presence, d, session=None):
        """
        A subscription change under way: the sender's acknowledgement waits
        for its writes, and if they fail the sender (its C{session}, when it
        is the user's own client) gets an error instead of a change that was
        never kept.
        """
        def failed(failure):
            if failure.check(defer.FirstError):
                failure = failure.value.subFailure
            self.log.failure("Storing a subscription change failed", failure)
            reply = stanzas.errorReply(presence, "internal-server-error", "The subscription could not be stored.")
            if session is None:
                self.send(reply)
            else:
                reply["to"] = session.full
                session.send(reply)

        stanzas.storing(presence, d.addErrback(failed))

    # From a local client

    def onOutbound(self, presence):
        session = presence.origin
        kind = presence.getAttribute("type")
        to = presence.getAttribute("to")
        if kind in SUBSCRIPTION_TYPES:
            if to is None:
                return self.reject(presence, StanzaError("bad-request", text="No 'to'."))
            contact = stanzas.bare(to)
            presence["from"] = session.bare
            presence["to"] = contact
            if contact != session.bare:
                self.subscribe(presence, self.outboundSubscription(session.bare, contact, kind, presence),
                               session)
        elif kind == "probe":
            # Clients should leave probing to servers (RFC 6121 4.3), but
            # some (Psi after unblocking) ask: answer as a server would.
            if to is not None:
                presence["from"] = session.bare
                presence["to"] = stanzas.bare(to)
                self.send(presence)
        elif kind == "error":
            if to is not None:
                self.send(presence)
        elif to is None:
            if kind is None:
                self.available(session, presence)
            else:
                self.unavailable(session, presence)
        else:
            self.directed(session, presence, to)

    def reject(self, presence, error):
        reply = error.toResponse(presence)
        reply.attributes.pop("from", None)
        reply["to"] = presence.origin.full
        presence.origin.send(reply)

    def available(self, session, presence):
        try:
            session.priority, session.show = parsePresence(presence, self.now())
        except StanzaError as e:
            return self.reject(presence, e)
        initial = not session.available
        session.presence = presence
        self.changed(session)

        def broadcast(roster):
            self.broadcast(session, presence, roster)
            if initial:
                self.initialPresence(session, roster)

        self.run(self.rosters.get(session.bare).addCallback(broadcast))

    def changed(self, session):
        """
        Tell the availability model and the other features.
        """
        self.availability.refresh(session.bare)
        self.xmlstream.dispatch(session, events.PRESENCE_CHANGED)

    def initialPresence(self, session, roster):
        """
        A session became available: probe the contacts it is subscribed to,
        show it its other resources, hand over waiting subscription requests
        (RFC 6121 4.2.2, 3.1.3).
        """
        for contact in roster.subscriptions():
            self.send(stanzas.presence(contact, session.bare, "probe"))
        for other in self.sessions.availableSessions(session.bare):
            if other is not session:
                session.send(self.addressed(other.presence, session.full))
        for contact in sorted(roster.pendingIn):
            session.send(stanzas.presence(session.full, contact, "subscribe"))
        self.xmlstream.dispatch(session, events.RESOURCE_AVAILABLE)

    def unavailable(self, session, presence):
        was = session.available
        session.presence = None
        session.show = None
        self.changed(session)
        self.recordLastActivity(session, presence)
        if not was:
            self.revokeDirected(session, presence)
            return
        self.run(self.rosters.get(session.bare).addCallback(
            lambda roster: self.broadcast(session, presence, roster)
        ))

    def broadcast(self, session, presence, roster):
        """
        Send a session's presence to its subscribers, to all the user's
        available resources including itself (RFC 6121 4.4.2; clients show
        their own status from it) and, if unavailable, to whoever got
        directed presence from it.
        """
        subscribers = roster.subscribers()
        for contact in subscribers:
            self.send(self.addressed(presence, contact))
        own = self.sessions.availableSessions(session.bare)
        if session not in own and self.sessions.get(session.full) is session:
            own.append(session)  # going unavailable, still connected
        for other in own:
            other.send(self.addressed(presence, other.full))
        if presence.getAttribute("type") == "unavailable":
            self.revokeDirected(session, presence, covered=set(subscribers) | {session.bare})

    def revokeDirected(self, session, presence, covered=()):
        """
        Whoever got directed presence from the session gets its unavailable
        presence (RFC 6121 4.6.3), also if the session never broadcast its
        own; C{covered}: the bare JIDs that got it already.
        """
        for address in session.directed:
            if stanzas.bare(address) not in covered:
                self.send(self.addressed(presence, address))
        session.directed.clear()

    def directed(self, session, presence, to):
        if presence.getAttribute("type") is None:
            try:
                parsePresence(presence, self.now())
            except StanzaError as e:
                return self.reject(presence, e)
            session.directed.add(to)
        else:
            session.directed.discard(to)
        self.send(presence)

    def addressed(self, presence, to):
        copy = stanzas.clone(presence)
        copy["to"] = to
        return copy

    def onUnbound(self, session):
        """
        A session ended without saying goodbye, or after: tell the others.
        """
        goodbye = stanzas.presence(sender=session.full, kind="unavailable")
        if not session.available:
            self.revokeDirected(session, goodbye)
            return
        last = session.presence
        session.presence = None
        session.show = None
        # As for any change: auto-away stops watching (a suspended session
        # must not come back by itself).
        self.changed(session)
        self.recordLastActivity(session, last)
        self.run(self.rosters.get(session.bare).addCallback(
            lambda roster: self.broadcast(session, goodbye, roster)
        ))

    def onSuspended(self, session):
        """
        A connection broke but may be resumed: until then the user is
        offline to everyone (no ghosts); the presence is kept for later.
        """
        session.suspended = session.presence
        self.onUnbound(session)

    def onResumed(self, session):
        """
        A suspended session is back: it broadcasts its presence again.
        """
        presence, session.suspended = session.suspended, None
        if presence is not None:
            self.available(session, presence)

    def recordLastActivity(self, session, presence):
        if not self.accounts.exists(session.bare):
            return  # deleted meanwhile
        activity = LastActivity(stamp=self.now(), status=statusOf(presence))
        self.run(self.lastActivity.setLastActivity(session.bare, activity))

    @defer.inlineCallbacks
    def outboundSubscription(self, user, contact, kind, presence):
        """
        Apply a subscription stanza the user sent, then route it.

        The roster is read and changed without yielding in between, so two
        stanzas processed at once cannot overwrite each other's change; what
        goes out waits until storage has the change.
        """
        roster = yield self.rosters.get(user)
        item = roster.get(contact)
        known = contact in roster.items
        writes, after = [], []
        if kind == "subscribe":
            if not item.subscribedTo and not item.ask:
                writes.append(self.rosters.setItem(user, item.evolve(ask=True)))
            after.append(lambda: self.send(presence))
        elif kind == "subscribed":
            if contact in roster.pendingIn:
                granted = item.evolve(subscription=_grant(item.subscription), approved=False)
                writes.append(self.rosters.setPendingIn(user, contact, False))
                writes.append(self.rosters.setItem(user, granted))
                after.append(lambda: self.send(presence))
                after.append(lambda: self.sendCurrentPresence(user, contact))
            elif not item.subscribedFrom and not item.approved:
                # Pre-approval (RFC 6121 3.4).
                writes.append(self.rosters.setItem(user, item.evolve(approved=True)))
        elif kind == "unsubscribe":
            if item.subscribedTo or item.ask:
                lost = item.evolve(subscription=_lose(item.subscription), ask=False)
                writes.append(self.rosters.setItem(user, lost))
            if known:
                after.append(lambda: self.send(presence))
        elif kind == "unsubscribed":
            denied = contact in roster.pendingIn
            if denied:
                writes.append(self.rosters.setPendingIn(user, contact, False))
            if known and (item.subscribedFrom or item.approved):
                revoked = item.evolve(subscription=_revoke(item.subscription), approved=False)
                writes.append(self.rosters.setItem(user, revoked))
                after.append(lambda: self.sendUnavailable(user, contact))
                denied = True
            if denied:
                after.append(lambda: self.send(presence))
        yield self.commit(writes, after)

    def commit(self, writes, after):
        """
        Wait for the writes, then do what depends on them.
        """
        d = defer.gatherResults(writes, consumeErrors=True)
        d.addCallback(lambda _: [action() for action in after])
        return d

    def sendCurrentPresence(self, user, contact):
        for session in self.sessions.availableSessions(user):
            self.send(self.addressed(session.presence, contact))

    def sendUnavailable(self, user, contact):
        for session in self.sessions.availableSessions(user):
            self.send(stanzas.presence(contact, session.full, "unavailable"))

    # To a local account

    def onInbound(self, presence):
        user = stanzas.bare(presence["to"])
        contact = stanzas.bare(presence.getAttribute("from", ""))
        kind = presence.getAttribute("type")
        if not self.accounts.exists(user):
            if kind in ("subscribe", "probe"):
                self.send(stanzas.presence(contact, user, "unsubscribed"))
            return
        if kind in SUBSCRIPTION_TYPES:
            self.subscribe(presence, self.inboundSubscription(user, contact, kind, presence))
        elif kind == "probe":
            self.run(self.rosters.get(user).addCallback(self.answerProbe, user, contact))
        else:
            for session in self.sessions.availableSessions(user):
                session.send(presence)

    def answerProbe(self, roster, user, contact):
        if contact != user and not roster.get(contact).subscribedFrom:
            self.send(stanzas.presence(contact, user, "unsubscribed"))
            return
        available = self.sessions.availableSessions(user)
        for session in available:
            self.send(self.addressed(session.presence, contact))
        if not available:
            self.send(stanzas.presence(contact, user, "unavailable"))

    def deliver(self, user, presence):
        for session in self.sessions.availableSessions(user):
            session.send(presence)

    @defer.inlineCallbacks
    def inboundSubscription(self, user, contact, kind, presence):
        """
        Apply a subscription stanza addressed to the user, then deliver it
        or answer it; as in L{outboundSubscription}, without interleaving.
        """
        roster = yield self.rosters.get(user)
        item = roster.get(contact)
        known = contact in roster.items
        writes, after = [], []
        if kind == "subscribe":
            if item.subscribedFrom:
                after.append(lambda: self.send(stanzas.presence(contact, user, "subscribed")))
            elif known and item.approved:
                granted = item.evolve(subscription=_grant(item.subscription), approved=False)
                writes.append(self.rosters.setItem(user, granted))
                after.append(lambda: self.send(stanzas.presence(contact, user, "subscribed")))
                after.append(lambda: self.sendCurrentPresence(user, contact))
            elif contact not in roster.pendingIn and len(roster.pendingIn) < self.maxPending:
                writes.append(self.rosters.setPendingIn(user, contact, True))
                after.append(lambda: self.deliver(user, presence))
            # A request already waiting is not delivered again (it is at
            # each login), nor one beyond the bound.
        elif kind == "subscribed":
            if known and item.ask:
                gained = item.evolve(subscription=_gain(item.subscription), ask=False)
                writes.append(self.rosters.setItem(user, gained))
                after.append(lambda: self.deliver(user, presence))
        elif kind == "unsubscribe":
            if contact in roster.pendingIn:
                writes.append(self.rosters.setPendingIn(user, contact, False))
            if known and item.subscribedFrom:
                revoked = item.evolve(subscription=_revoke(item.subscription))
                writes.append(self.rosters.setItem(user, revoked))
                after.append(lambda: self.deliver(user, presence))
                after.append(lambda: self.sendUnavailable(user, contact))
        elif kind == "unsubscribed":
            if known and (item.subscribedTo or item.ask):
                lost = item.evolve(subscription=_lose(item.subscription), ask=False)
                writes.append(self.rosters.setItem(user, lost))
                after.append(lambda: self.deliver(user, presence))
        yield self.commit(writes, after)
