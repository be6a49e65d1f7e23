# -*- test-case-name: tests.features.test_roster -*-
"""
Roster management (RFC 6121 2) with roster versioning (XEP-0237).
"""

from twisted.logger import Logger
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.xmlstream import XMPPHandler, toResponse

from openmessenger.xmpp import jids, stanzas
from openmessenger.xmpp.rosters import NS_ROSTER, itemElement

ROSTER_GET = f"/iq[@type='get']/query[@xmlns='{NS_ROSTER}']"
ROSTER_SET = f"/iq[@type='set']/query[@xmlns='{NS_ROSTER}']"

#: Longest item name or group name accepted, in characters.
MAX_NAME = 1023
#: Most groups one item may be in.
MAX_GROUPS = 64


class RosterHandler(XMPPHandler):
    """
    Answers roster gets and sets from a user's own clients.
    """

    log = Logger()

    def __init__(self, rosters, maxItems=1000, maxItemSize=4096):
        """
        @param maxItems: the most contacts a user's roster may hold, and
            C{maxItemSize} the most characters of an item's name and groups.
        """
        XMPPHandler.__init__(self)
        self.rosters = rosters
        self.maxItems = maxItems
        self.maxItemSize = maxItemSize

    def connectionInitialized(self):
        self.xmlstream.addObserver(ROSTER_GET, self.onGet)
        self.xmlstream.addObserver(ROSTER_SET, self.onSet)

    def onGet(self, iq):
        iq.handled = True
        session = stanzas.ownSession(iq)
        if session is None:
            return self.fail(iq, StanzaError("service-unavailable"))
        known = iq.query.getAttribute("ver")

        def answer(roster):
            session.interested = True
            reply = toResponse(iq, "result")
            version = roster.versionString()
            if known != version:
                query = reply.addElement((NS_ROSTER, "query"))
                if known is not None:
                    query["ver"] = version
                for item in roster.allItems().values():
                    query.addChild(itemElement(item))
            # With an unchanged version the empty result says "keep yours".
            self.send(reply)

        self.rosters.get(session.bare).addCallbacks(answer, self.internalError, errbackArgs=(iq,))

    def onSet(self, iq):
        iq.handled = True
        session = stanzas.ownSession(iq)
        if session is None:
            return self.fail(iq, StanzaError("service-unavailable"))
        try:
            contact, remove, name, groups = self.parseItem(iq, session.bare)
            if len(name) + sum(len(g) for g in groups) > self.maxItemSize:
                raise StanzaError(
                    "not-acceptable", text=f"At most {self.maxItemSize} characters of name and groups.")
        except StanzaError as e:
            return self.fail(iq, e)
        user = session.bare

        def change(roster):
            if remove:
                return self.remove(roster, user, contact)
            if contact not in roster.items and len(roster.items) >= self.maxItems:
                raise StanzaError("resource-constraint", text=f"At most {self.maxItems} contacts, please.")
            item = roster.get(contact).evolve(name=name, groups=groups)
            return self.rosters.setItem(user, item)

        d = self.rosters.get(user)
        d.addCallback(change)
        d.addCallback(lambda _: self.send(toResponse(iq, "result")))
        d.addErrback(self.failed, iq)

    def parseItem(self, iq, user):
        items = list(iq.query.elements(NS_ROSTER, "item"))
        if len(items) != 1:
            raise StanzaError("bad-request", text="A roster set has exactly one item.")
        item = items[0]
        try:
            contact = jids.parse(item.getAttribute("jid", "")).full()
        except jids.InvalidJID as e:
            raise StanzaError("jid-malformed", text=str(e)) from None
        if contact == user:
            raise StanzaError("not-allowed", text="You cannot add yourself.")
        name = item.getAttribute("name", "")
        groups = []
        for group in item.elements(NS_ROSTER, "group"):
            text = str(group).strip()
            if not text:
                raise StanzaError("not-acceptable", text="Empty group name.")
            if text in groups:
                raise StanzaError("bad-request", text=f"Group {text!r} given twice.")
            groups.append(text)
        if len(name) > MAX_NAME or any(len(g) > MAX_NAME for g in groups):
            raise StanzaError("not-acceptable", text="Name too long.")

        if len(groups) > MAX_GROUPS:
            raise StanzaError("not-acceptable", text="Too many groups.")
        return contact, item.getAttribute("subscription") == "remove", name, tuple(groups)

    def remove(self, roster, user, contact):
        """
        Remove a contact, cancelling subscriptions both ways (RFC 6121 2.5.2).
        """
        item = roster.items.get(contact)
        if item is None and contact not in roster.pendingIn:
            raise StanzaError("item-not-found")
        if item is not None and (item.subscribedTo or item.ask):
            self.send(stanzas.presence(contact, user, "unsubscribe"))
        if (item is not None and item.subscribedFrom) or contact in roster.pendingIn:
            self.send(stanzas.presence(contact, user, "unsubscribed"))
        return self.rosters.removeItem(user, contact)

    def fail(self, iq, error):
        self.send(error.toResponse(iq))

    def failed(self, failure, iq):
        if failure.check(StanzaError):
            return self.fail(iq, failure.value)
        return self.internalError(failure, iq)

    def internalError(self, failure, iq):
        self.log.failure("Roster request failed", failure)
        self.fail(iq, StanzaError("internal-server-error"))
