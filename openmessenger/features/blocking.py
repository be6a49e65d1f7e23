# -*- test-case-name: tests.features.test_blocking -*-
"""
Blocking (XEP-0191): a user's block list, and its enforcement both ways.

Nothing from a blocked address reaches the user (messages and iq requests
are answered C{service-unavailable}, presence is dropped), and nothing the
user sends reaches it (the client gets C{not-acceptable} with
C{<blocked/>}; presence broadcasts are dropped).  An entry may be a full
JID, a bare JID or a domain.  Block lists are kept in memory (loaded at
start-up), since every stanza for a local user is checked.
"""


from twisted.logger import Logger
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.xmlstream import XMPPHandler, toResponse
from twisted.words.xish import domish
from zope.interface import implementer

from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel import disco
from wokkel.iwokkel import IDisco

from openmessenger.xmpp import events, jids, stanzas

NS_BLOCKING = "urn:xmpp:blocking"
NS_BLOCKED_ERROR = "urn:xmpp:blocking:errors"
BLOCKLIST_GET = f"/iq[@type='get']/blocklist[@xmlns='{NS_BLOCKING}']"
BLOCK_SET = f"/iq[@type='set']/block[@xmlns='{NS_BLOCKING}']"
UNBLOCK_SET = f"/iq[@type='set']/unblock[@xmlns='{NS_BLOCKING}']"


def matches(blocked, address):
    """
    Whether a block list covers an address (RFC 6121-style: full, bare or
    domain entries).
    """
    if not blocked or not address:
        return False
    bare = stanzas.bare(address)
    return address in blocked or bare in blocked or stanzas.domainOf(address) in blocked


@implementer(IDisco)
class BlockingHandler(XMPPHandler):
    log = Logger()

    def __init__(self, store, sessions, rosters, lists=None):
        """
        @param store: an L{IBlockStore}.
        @param rosters: the L{RosterManager}: who may see the user's presence.
        @param lists: every user's block list as loaded at start-up
            (user -> set of addresses).
        """
        XMPPHandler.__init__(self)
        self.store = store
        self.sessions = sessions
        self.rosters = rosters
        self.lists = {user: set(entries) for user, entries in (lists or {}).items()}
        self.interested = set()

    def connectionInitialized(self):
        self.xmlstream.addObserver(BLOCKLIST_GET, self.onGet)
        self.xmlstream.addObserver(BLOCK_SET, self.onBlock)
        self.xmlstream.addObserver(UNBLOCK_SET, self.onUnblock)
        self.xmlstream.addObserver(events.RESOURCE_UNBOUND, self.onUnbound)
        self.xmlstream.addObserver(events.STANZA_INBOUND, self.onInbound, events.GUARD)
        self.xmlstream.addObserver(events.STANZA_OUTBOUND, self.onOutbound, events.GUARD)

    def onUnbound(self, session):
        self.interested.discard(session.full)

    def getDiscoInfo(self, requestor, target, nodeIdentifier=""):
        return [] if nodeIdentifier else [disco.DiscoFeature(NS_BLOCKING)]

    def getDiscoItems(self, requestor, target, nodeIdentifier=""):
        return []

    # The guard, for every stanza the local domain sends and receives.

    def onInbound(self, stanza):
        if not stanza.handled and self.inbound(stanza):
            stanza.handled = True

    def onOutbound(self, stanza):
        if not stanza.handled and self.outbound(stanza):
            stanza.handled = True

    def inbound(self, stanza):
        to, sender = stanza.getAttribute("to"), stanza.getAttribute("from")
        if matches(self.lists.get(stanzas.bare(to)), sender):
            if stanza.name == "message" or (
                stanza.name == "iq" and stanza.getAttribute("type") in ("get", "set")
            ):
                stanzas.answerWithError(self.send, stanza, "service-unavailable")
            return True
        # Presence the server sends on behalf of a user who blocks the
        # recipient (broadcasts, probe answers) is dropped; what the user's
        # clients send was stopped on the way out.
        return stanza.name == "presence" and matches(self.lists.get(stanzas.bare(sender or "")), to)

    def outbound(self, stanza):
        session = stanza.origin
        to = stanza.getAttribute("to")
        if not matches(self.lists.get(session.bare), to):
            return False
        if stanzas.errorReply(stanza, "not-acceptable") is not None:
            # As XEP-0191 3.5 shows it: from the blocked address, so the
            # client puts it in that conversation.
            error = StanzaError("not-acceptable", "cancel", "You have blocked this address.")
            error.appCondition = domish.Element((NS_BLOCKED_ERROR, "blocked"))
            session.send(error.toResponse(stanza))
        return True

    # The protocol

    def onGet(self, iq):
        iq.handled = True
        session = getattr(iq, "origin", None)
        if session is None or iq.getAttribute("to") not in (None, session.bare):
            return self.send(StanzaError("service-unavailable").toResponse(iq))
        self.interested.add(session.full)
        reply = toResponse(iq, "result")
        blocklist = reply.addElement((NS_BLOCKING, "blocklist"))
        for address in sorted(self.lists.get(session.bare, ())):
            blocklist.addElement("item")["jid"] = address
        self.send(reply)

    def items(self, element):
        try:
            return [jids.parse(item.getAttribute("jid", "")).full()
                    for item in element.elements(NS_BLOCKING, "item")]
        except jids.InvalidJID as e:
            raise StanzaError("jid-malformed", text=str(e)) from None

    def onBlock(self, iq):
        iq.handled = True
        session = getattr(iq, "origin", None)
        if session is None or iq.getAttribute("to") not in (None, session.bare):
            return self.send(StanzaError("service-unavailable").toResponse(iq))
        try:
            addresses = self.items(iq.block)
        except StanzaError as e:
            return self.send(e.toResponse(iq))
        if not addresses:
            return self.send(StanzaError("bad-request", text="Name whom to block.").toResponse(iq))
        user = session.bare

        def listed(_):
            self.lists.setdefault(user, set()).update(addresses)
            self.send(toResponse(iq, "result"))
            self.push(user, "block", addresses)

        d = self.store.block(user, addresses)
        # Contacts now blocked see the user go offline (XEP-0191 3.3), before
        # the list stops everything to them.
        d.addCallback(lambda _: self.announce(user, addresses, available=False))
        d.addCallbacks(listed, self.failed, errbackArgs=(iq,))

    def onUnblock(self, iq):
        iq.handled = True
        session = getattr(iq, "origin", None)
        if session is None or iq.getAttribute("to") not in (None, session.bare):
            return self.send(StanzaError("service-unavailable").toResponse(iq))
        try:
            addresses = self.items(iq.unblock) or None
        except StanzaError as e:
            return self.send(e.toResponse(iq))
        user = session.bare

        def stored(_):
            before = set(self.lists.get(user, ()))
            if addresses is None:
                self.lists.pop(user, None)
            else:
                self.lists.get(user, set()).difference_update(addresses)
            self.send(toResponse(iq, "result"))
            self.push(user, "unblock", addresses or [])
            return self.announce(user, before - set(self.lists.get(user, ())), available=True)

        self.store.unblock(user, addresses).addCallbacks(stored, self.failed, errbackArgs=(iq,))

    def announce(self, user, addresses, available):
        """
        Those of the user's contacts allowed to see the user's presence whom
        block list entries (C{addresses}) cover: blocked ones see the user
        go offline, unblocked ones the user's presence again (XEP-0191 3.3,
        3.4).  Nobody else learns anything.
        """
        def send(roster):
            for contact in roster.subscribers():
                for address in addresses:
                    if matches({address}, contact) or stanzas.bare(address) == contact:
                        self.presenceTo(user, address if "/" in address else contact, available)

        return self.rosters.get(user).addCallback(send)

    def presenceTo(self, user, address, available):
        for own in self.sessions.availableSessions(user):
            if available:
                presence = stanzas.clone(own.presence)
                presence["to"] = address
            else:
                presence = stanzas.presence(address, own.full, "unavailable")
            self.send(presence)

    def replace(self, user, addresses):
        """
        Make C{addresses} the user's block list (for privacy lists, which
        say the whole list at once).
        """
        before = set(self.lists.get(user, ()))
        addresses = set(addresses)
        d = self.store.unblock(user)
        d.addCallback(lambda _: self.store.block(user, sorted(addresses)))

        def listed(_):
            self.lists[user] = addresses
            return self.announce(user, before - addresses, available=True)

        # Goodbyes first: once listed, nothing reaches the contact.
        d.addCallback(lambda _: self.announce(user, addresses - before, available=False))
        return d.addCallback(listed)

    def push(self, user, action, addresses):
        for session in self.sessions.sessionsOf(user):
            if session.full not in self.interested:
                continue
            iq = domish.Element((None, "iq"))
            iq["type"] = "set"
            iq["id"] = stanzas.newId("block-", 4)
            iq["to"] = session.full
            element = iq.addElement((NS_BLOCKING, action))
            for address in addresses:
                element.addElement("item")["jid"] = address
            session.send(iq)

    def failed(self, failure, iq):
        self.log.failure("Block list change failed", failure)
        self.send(StanzaError("internal-server-error").toResponse(iq))
