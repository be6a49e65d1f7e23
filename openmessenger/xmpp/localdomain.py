# -*- test-case-name: tests.xmpp.test_localdomain -*-
"""
The local domains: final delivery to sessions, and dispatch of everything
else to the feature handlers, by addressing class (RFC 6121 8.5).

Two handler buses sit here, each an L{XMPPHandlerCollection} whose
C{xmlstream} is a plain event dispatcher: C{server} sees stanzas addressed to
a served domain itself (disco, ping, version of the server); C{accounts} sees
stanzas addressed to a user account (a bare JID, a full JID whose resource is
gone, or no C{to} from the account's own client) and the events of
L{openmessenger.xmpp.events}.  Feature handlers therefore never see traffic
for someone else's full JID, which is what makes responders written for an
endpoint (like wokkel's) safe to attach here.
"""

from twisted.words.protocols.jabber.xmlstream import XMPPHandlerCollection
from twisted.words.xish.utility import EventDispatcher

from openmessenger.xmpp import events, stanzas

SUBSCRIPTION_TYPES = frozenset(("subscribe", "subscribed", "unsubscribe", "unsubscribed"))


class _Bus(EventDispatcher):
    """
    What a handler on a bus sees as its XML stream: stanzas and events are
    dispatched to it, and what it sends is routed.
    """

    def __init__(self, route):
        EventDispatcher.__init__(self)
        self.send = route

    def dispatch(self, obj, event=None):
        if event is None:
            return EventDispatcher.dispatch(self, obj)
        # A named event finds its observers by dictionary lookup; xish
        # compares every observer's event with it, a cost on every stanza
        # now that the guards are events.  Otherwise as xish does it.
        self._dispatchDepth += 1
        found = False
        for priority in sorted(self._eventObservers, reverse=True):
            byEvent = self._eventObservers[priority]
            callbacks = byEvent.get(event)
            if callbacks is not None:
                found = True
                callbacks.callback(obj)
                if callbacks.isEmpty() and byEvent.get(event) is callbacks:
                    del byEvent[event]
        self._dispatchDepth -= 1
        if self._dispatchDepth == 0:
            for update in self._updateQueue:
                update()
            self._updateQueue = []
        return found


class HandlerBus(XMPPHandlerCollection):
    """
    A set of feature handlers sharing one dispatcher.
    """

    def __init__(self, route):
        XMPPHandlerCollection.__init__(self)
        self.xmlstream = _Bus(route)
        self.send = route

    def addHandler(self, handler):
        XMPPHandlerCollection.addHandler(self, handler)
        handler.makeConnection(self.xmlstream)
        handler.connectionInitialized()

    def dispatch(self, stanza, event=None):
        stanza.handled = False
        self.xmlstream.dispatch(stanza, event)


class Delivery:
    """
    A message handed to some of a user's sessions (the argument of
    L{events.MESSAGE_DELIVERED}).
    """

    def __init__(self, stanza, sessions):
        self.stanza = stanza
        self.sessions = sessions


class LocalDomain:
    """
    The receiver of the served domains.
    """

    def __init__(self, domains, sessions, router):
        """
        @param domains: the L{ServedDomains} (the assembly routes each here).
        """
        self.domains = domains
        self.sessions = sessions
        self.router = router
        self.server = HandlerBus(router.route)
        self.accounts = HandlerBus(router.route)

    def fire(self, event, argument):
        """
        Tell the features of a named event (L{openmessenger.xmpp.events})
        with its argument: how the core and the features tell each other
        what happened, without knowing who listens.
        """
        self.accounts.xmlstream.dispatch(argument, event)

    def listen(self, event, observer, priority=0):
        """
        Call C{observer(argument)} when a named event is fired: for what is
        not a feature handler on the bus (the directory, the visitor chat).
        """
        self.accounts.xmlstream.addObserver(event, observer, priority)

    def outbound(self, stanza):
        """
        Take a stanza from a local client; its C{origin} is the session.
        """
        stanza.handled = False
        self.fire(events.STANZA_OUTBOUND, stanza)
        if stanza.handled:
            return
        if stanza.name == "presence":
            self.accounts.dispatch(stanza, events.PRESENCE_OUTBOUND)
            return
        if stanza.name == "message":
            self.fire(events.MESSAGE_SENT, stanza)
        if stanza.getAttribute("to") is None:
            # Addressed to the sender's own account (RFC 6120 10.3.3).
            self.accounts.dispatch(stanza)
        else:
            self.router.route(stanza)

    def receive(self, stanza):
        """
        Take a stanza addressed to one of our domains.
        """
        stanza.handled = False
        self.fire(events.STANZA_INBOUND, stanza)
        if stanza.handled:
            return
        to = stanza["to"]
        user, _, host = to.partition("/")[0].rpartition("@")
        if not user:
            if "/" in to:
                # A resource of the server itself: nothing lives there.
                self.bounce(stanza, "service-unavailable")
            else:
                self.server.dispatch(stanza)
            return
        if "/" in to and self.deliverToResource(stanza, to):
            return
        self.accounts.dispatch(stanza)

    def deliverToResource(self, stanza, to):
        """
        Deliver a stanza addressed to a full JID (RFC 6121 8.5.3).  Return
        false if it is to be handled as addressed to the bare JID instead.
        """
        kind = stanza.getAttribute("type")
        name = stanza.name
        if name == "presence" and (kind in SUBSCRIPTION_TYPES or kind == "probe"):
            return False
        session = self.sessions.get(to)
        if session is None and name == "message" and kind in (None, "normal", "chat"):
            # A resource whose connection broke and may come back
            # (XEP-0198) finds it in its queue; if it never does, the queue
            # is routed again as for a gone resource.
            session = self.sessions.suspended(to)
        if session is not None:
            session.send(stanza)
            if name == "message":
                self.fire(events.MESSAGE_DELIVERED, Delivery(stanza, [session]))
            return True
        if name == "message" and kind in (None, "normal", "chat"):
            return False
        if name == "message" and kind == "groupchat":
            self.bounce(stanza, "service-unavailable")
        elif name == "iq":
            self.bounce(stanza, "service-unavailable")
        # Headlines, errors and presence for a gone resource are dropped.
        return True

    def bounce(self, stanza, condition, text=None):
        stanzas.answerWithError(self.router.route, stanza, condition, text)
