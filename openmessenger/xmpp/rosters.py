# -*- test-case-name: tests.xmpp.test_rosters -*-
"""
Rosters in memory, written through to storage, with roster pushes.

Both the roster feature (what clients edit) and the presence feature (what
subscriptions change) update rosters; this is the one object through which
they do, like Prosody's C{core.rostermanager}.  A user's roster is loaded once
and then kept: all changes pass through here, so the copy stays true, and
presence broadcasts read it without touching the database.  Each change is
applied to the copy at once (so state-machine steps never interleave), and
its push goes out only after storage has committed it.
"""

import hashlib

from twisted.internet import defer
from twisted.logger import Logger
from twisted.words.xish import domish

from openmessenger.storage.interfaces import RosterItem
from openmessenger.xmpp import events, stanzas

NS_ROSTER = "jabber:iq:roster"


class SharedContacts:
    """
    The argument of L{events.SHARED_CONTACTS}: C{contacts} maps each contact
    the listeners add to its L{RosterItem}.
    """

    def __init__(self, user):
        self.user = user
        self.contacts = {}


class CachedRoster:
    """
    A user's roster as kept in memory: the stored C{items}, plus the contacts
    shared through groups (subscribed both ways, never stored).
    """

    def __init__(self, roster, user, shared):
        self.items = dict(roster.items)
        self.pendingIn = set(roster.pendingIn)
        self.version = roster.version
        self.user = user
        self.shared = shared

    def allItems(self):
        """
        Stored and shared items; a contact in both is subscribed both ways
        and in the groups of both.
        """
        merged = dict(self.items)
        for contact, item in self.shared(self.user).items():
            stored = merged.get(contact)
            if stored is None:
                merged[contact] = item
            else:
                groups = stored.groups + tuple(g for g in item.groups if g not in stored.groups)
                merged[contact] = stored.evolve(subscription="both", groups=groups, ask=False)
        return merged

    def versionString(self):
        """
        The roster version (XEP-0237): the stored version, and a digest of
        the shared contacts, which change without a stored change.
        """
        shared = self.shared(self.user)
        if not shared:
            return str(self.version)
        text = "|".join(f"{c}:{','.join(i.groups)}:{i.name}" for c, i in sorted(shared.items()))
        return f"{self.version}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}"

    def get(self, contact) -> RosterItem:
        """
        The item for C{contact}, or an empty one (state "None") if absent.
        """
        return self.allItems().get(contact) or RosterItem(jid=contact)

    def subscribers(self):
        """
        Contacts that receive the user's presence.
        """
        return [item.jid for item in self.allItems().values() if item.subscribedFrom]

    def subscriptions(self):
        """
        Contacts whose presence the user receives.
        """
        return [item.jid for item in self.allItems().values() if item.subscribedTo]


def itemElement(item, removed=False):
    """
    Serialise a roster item (RFC 6121 2.1.2).
    """
    element = domish.Element((NS_ROSTER, "item"))
    element["jid"] = item.jid
    if removed:
        element["subscription"] = "remove"
        return element
    element["subscription"] = item.subscription
    if item.name:
        element["name"] = item.name
    if item.ask:
        element["ask"] = "subscribe"
    if item.approved:
        element["approved"] = "true"
    for group in item.groups:
        element.addElement("group", content=group)
    return element


class RosterManager:
    log = Logger()

    def __init__(self, store, sessions, send, fire):
        """
        @param store: an L{IRosterStore}.
        @param sessions: the L{SessionRegistry}, for pushes.
        @param send: routes a stanza.
        @param fire: fires named events (L{LocalDomain.fire}): asks who
            adds shared contacts.
        """
        self.store = store
        self.sessions = sessions
        self.send = send
        self.fire = fire
        self._rosters = {}
        self._loading = {}

    def shared(self, user):
        """
        The contacts a user has without their being stored (through groups,
        visitors being served): whatever the listeners of
        L{events.SHARED_CONTACTS} add.
        """
        asked = SharedContacts(user)
        self.fire(events.SHARED_CONTACTS, asked)
        return asked.contacts

    def get(self, user):
        """
        Fire with the user's L{CachedRoster}.
        """
        if user in self._rosters:
            return defer.succeed(self._rosters[user])
        waiting = defer.Deferred()
        if user not in self._loading:
            self._loading[user] = [waiting]
            self.store.getRoster(user).addCallbacks(
                self._loaded, self._loadFailed, callbackArgs=(user,), errbackArgs=(user,)
            )
        else:
            self._loading[user].append(waiting)
        return waiting

    def _loaded(self, roster, user):
        cached = self._rosters[user] = CachedRoster(roster, user, self.shared)
        for waiting in self._loading.pop(user):
            waiting.callback(cached)

    def _loadFailed(self, failure, user):
        for waiting in self._loading.pop(user):
            waiting.errback(failure)

    def forget(self, user):
        """
        Drop the in-memory copy (the account is gone).
        """
        self._rosters.pop(user, None)

    def setItem(self, user, item):
        """
        Store an item and push it; fires once stored.
        """
        roster = self._rosters.get(user)
        if roster is not None:
            roster.items[item.jid] = item
        d = self.store.setItem(user, item)
        d.addCallbacks(self._changed, self._writeFailed, (user, item, False), None, (user,))
        return d

    def removeItem(self, user, contact):
        """
        Remove an item (and the contact's pending request) and push that.
        """
        roster = self._rosters.get(user)
        if roster is not None:
            roster.items.pop(contact, None)
            roster.pendingIn.discard(contact)
        d = self.store.removeItem(user, contact)
        item = RosterItem(jid=contact)
        d.addCallbacks(self._changed, self._writeFailed, (user, item, True), None, (user,))
        return d

    def setPendingIn(self, user, contact, pending):
        """
        Record or clear an inbound subscription request (no push: pending
        requests are not roster items).
        """
        roster = self._rosters.get(user)
        if roster is not None:
            (roster.pendingIn.add if pending else roster.pendingIn.discard)(contact)
        return self.store.setPendingIn(user, contact, pending).addErrback(
            self._writeFailed, user
        )

    def _changed(self, version, user, item, removed):
        roster = self._rosters.get(user)
        if roster is not None:
            roster.version = version
            # A shared contact stays, whatever happens to its stored item.
            item = roster.get(item.jid)
            removed = removed and item.jid not in roster.allItems()
            version = roster.versionString()
        self.push(user, itemElement(item, removed), version)
        return version

    def _writeFailed(self, failure, user):
        # The copy may now differ from storage: reload it next time.
        self.forget(user)
        return failure

    def push(self, user, item, version):
        """
        Send a roster push to every session that asked for the roster.
        """
        for session in self.sessions.sessionsOf(user):
            if not session.interested:
                continue
            iq = domish.Element((None, "iq"))
            iq["type"] = "set"
            iq["id"] = stanzas.newId("push-")
            iq["from"] = user
            iq["to"] = session.full
            query = iq.addElement((NS_ROSTER, "query"))
            query["ver"] = str(version)
            query.addChild(item)
            self.send(iq)

    def contactDeleted(self, holders, contact):
        """
        An account was deleted: push its removal to the rosters that held it
        (storage has removed the items already).
        """
        for user in holders:
            roster = self._rosters.get(user)
            if roster is None:
                # Not in memory: nobody is online with it, so nobody to push to.
                continue
            roster.items.pop(contact, None)
            roster.pendingIn.discard(contact)
            roster.version += 1
            self.push(user, itemElement(RosterItem(jid=contact), True), roster.versionString())

    def sharedChanged(self, user, contact):
        """
        A contact came or went through a group: push the item as it is now.
        """
        roster = self._rosters.get(user)
        if roster is None:
            return  # nobody online with it
        item = roster.allItems().get(contact)
        if item is None:
            self.push(user, itemElement(RosterItem(jid=contact), True), roster.versionString())
        else:
            self.push(user, itemElement(item), roster.versionString())
