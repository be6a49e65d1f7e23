# -*- test-case-name: tests.features.test_privacy -*-
"""
Privacy lists (XEP-0016), as far as clients use them to block contacts.

Psi 1.5 has no XEP-0191: its "Block" edits a privacy list (and is greyed
out where privacy lists are missing).  Lists are stored as the client sent
them; the JIDs that the default list (or a session's active list) denies
become the user's block list, enforced like XEP-0191 blocking, on the same
storage.  Other rules (groups, subscription states, allow-lists, per-stanza
filters) are kept but not enforced: a deny rule for a JID blocks everything.
"""


from twisted.internet import defer
from twisted.logger import Logger
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.xmlstream import XMPPHandler, toResponse
from twisted.words.xish import domish

from openmessenger.xmpp import events, jids, stanzas

NS_PRIVACY = "jabber:iq:privacy"
PRIVACY_IQ = f"/iq/query[@xmlns='{NS_PRIVACY}']"
DOCUMENT = "privacy lists"


def deniedJIDs(lst):
    """
    The addresses a list denies outright.
    """
    denied = set()
    for item in lst.elements(NS_PRIVACY, "item"):
        if item.getAttribute("type") == "jid" and item.getAttribute("action") == "deny":
            try:
                denied.add(jids.parse(item.getAttribute("value", "")).full())
            except jids.InvalidJID:
                pass
    return denied


class PrivacyHandler(XMPPHandler):
    log = Logger()

    def __init__(self, documents, blocking, sessions):
        """
        @param documents: an L{IDocumentStore} for the lists.
        @param blocking: the L{BlockingHandler} that enforces them.
        """
        XMPPHandler.__init__(self)
        self.documents = documents
        self.blocking = blocking
        self.sessions = sessions
        self.active = {}
        self._locks = {}

    def connectionInitialized(self):
        self.xmlstream.addObserver(PRIVACY_IQ, self.onPrivacy)
        self.xmlstream.addObserver(events.RESOURCE_UNBOUND, lambda s: self.active.pop(s.full, None))

    def load(self, user):
        def parsed(text):
            if text:
                return stanzas.parseStored(text)
            return domish.Element((NS_PRIVACY, "privacy"))

        return self.documents.getDocument(user, DOCUMENT).addCallback(parsed)

    def lists(self, state):
        return {lst["name"]: lst for lst in state.elements(NS_PRIVACY, "list")}

    def onPrivacy(self, iq):
        kind = iq.getAttribute("type")
        if kind not in ("get", "set"):
            return
        iq.handled = True
        session = getattr(iq, "origin", None)
        if session is None or iq.getAttribute("to") not in (None, session.bare):
            return self.send(StanzaError("service-unavailable").toResponse(iq))
        # One request of a user at a time, in order: Psi sends three sets at
        # once at login, each building on the one before.
        user = session.bare
        lock = self._locks.setdefault(user, defer.DeferredLock())

        def process():
            d = self.load(user)
            d.addCallback(self.get if kind == "get" else self.set, iq, session)
            return d.addErrback(self.failed, iq)

        def release(result):
            if not lock.locked and not lock.waiting:
                self._locks.pop(user, None)
            return result

        lock.run(process).addBoth(release)

    def get(self, state, iq, session):
        asked = list(iq.query.elements(NS_PRIVACY, "list"))
        lists = self.lists(state)
        reply = toResponse(iq, "result")
        query = reply.addElement((NS_PRIVACY, "query"))
        if len(asked) > 1:
            raise StanzaError("bad-request", text="Ask for one list at a time.")
        if asked:
            lst = lists.get(asked[0].getAttribute("name"))
            if lst is None:
                raise StanzaError("item-not-found")
            query.addChild(lst)
        else:
            active = self.active.get(session.full)
            if active:
                query.addElement("active")["name"] = active
            if state.getAttribute("default"):
                query.addElement("default")["name"] = state["default"]
            for name in sorted(lists):
                query.addElement("list")["name"] = name
        self.send(reply)

    def set(self, state, iq, session):
        children = list(iq.query.elements())
        if len(children) != 1:
            raise StanzaError("bad-request", text="One change at a time.")
        change = children[0]
        lists = self.lists(state)
        name = change.getAttribute("name")
        if change.name == "active":
            if name is not None and name not in lists:
                raise StanzaError("item-not-found")
            if name is None:
                self.active.pop(session.full, None)
            else:
                self.active[session.full] = name
            return self.save(state, iq, session, None)
        if change.name == "default":
            if name is not None and name not in lists:
                raise StanzaError("item-not-found")
            if name is None:
                state.attributes.pop("default", None)
            else:
                state["default"] = name
            return self.save(state, iq, session, None)
        if change.name != "list" or not name:
            raise StanzaError("bad-request")
        fresh = domish.Element((NS_PRIVACY, "privacy"), attribs=dict(state.attributes))
        for other in state.elements(NS_PRIVACY, "list"):
            if other["name"] != name:
                fresh.addChild(other)
        if list(change.elements(NS_PRIVACY, "item")):
            fresh.addChild(change)
        elif name == state.getAttribute("default") or name in self.active.values():
            raise StanzaError("conflict", text="The list is in use.")
        return self.save(fresh, iq, session, name)

    def save(self, state, iq, session, changedList):
        user = session.bare
        lists = self.lists(state)
        denied = set()
        for name in {state.getAttribute("default")} | {
            self.active.get(s.full) for s in self.sessions.sessionsOf(user)
        }:
            if name in lists:
                denied |= deniedJIDs(lists[name])
        d = self.documents.setDocument(user, DOCUMENT, state.toXml())
        d.addCallback(lambda _: self.blocking.replace(user, denied))

        def done(_):
            self.send(toResponse(iq, "result"))
            if changedList is not None:
                self.push(user, changedList)

        return d.addCallback(done)

    def push(self, user, name):
        for session in self.sessions.sessionsOf(user):
            push = domish.Element((stanzas.NS_CLIENT, "iq"))
            push["type"] = "set"
            push["id"] = stanzas.newId("privacy-", 4)
            push["to"] = session.full
            push.addElement((NS_PRIVACY, "query")).addElement("list")["name"] = name
            session.send(push)

    def failed(self, failure, iq):
        if failure.check(StanzaError):
            return self.send(failure.value.toResponse(iq))
        self.log.failure("Privacy list request failed", failure)
        self.send(StanzaError("internal-server-error").toResponse(iq))
