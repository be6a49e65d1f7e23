# -*- test-case-name: tests.xmpp.test_accounts -*-
"""
User accounts: creation, passwords, deletion, and which accounts exist.

The set of existing accounts is kept in memory (loaded at start-up, updated
by every change made here), because routing asks it for every stanza sent to
a bare JID.  Changes made while the server runs go through this object, from
the control channel of C{openmessenger-ctl}.
"""

from twisted.internet import defer

from openmessenger.messages import Message
from openmessenger.storage.interfaces import NoSuchAccount
from openmessenger.xmpp import events, jids, sasl


class AccountManager:
    def __init__(self, store, sessions, rosters, domains, fire, iterations=sasl.DEFAULT_ITERATIONS):
        """
        @param store: an L{IAccountStore}.
        @param rosters: the L{RosterManager}, told of deleted accounts.
        @param domains: the L{ServedDomains}; accounts live only there.
        @param fire: tells of named events (L{LocalDomain.fire}): an
            account deleted.
        """
        self.store = store
        self.sessions = sessions
        self.rosters = rosters
        self.domains = domains
        self.fire = fire
        self.iterations = iterations
        self.names = set()

    @defer.inlineCallbacks
    def load(self):
        """
        Read the list of accounts from storage; call once at start-up.
        """
        self.names = set((yield self.store.listAccounts()))

    def exists(self, user: str) -> bool:
        return user in self.names

    def getCredentials(self, user):
        return self.store.getCredentials(user)

    def prepare(self, address: str) -> str:
        """
        Check and normalise an account address (a bare JID on a served
        domain).

        @raise ValueError: with a message for the operator.
        """
        try:
            jid = jids.parse(address)
        except jids.InvalidJID as e:
            raise ValueError(Message("{address!r} is not a valid address: {why}", address=address, why=e)) from None
        if not jid.user or jid.resource:
            raise ValueError(Message("{address!r} is not an account address (user@domain)", address=address))
        if jid.host not in self.domains:
            raise ValueError(Message("{domain} is not a domain served here", domain=jid.host))
        return jid.userhost()

    @defer.inlineCallbacks
    def create(self, address, password):
        user = self.prepare(address)
        yield self.store.createAccount(user, sasl.makeCredentials(password, self.iterations))
        self.names.add(user)
        return user

    @defer.inlineCallbacks
    def setPassword(self, address, password):
        user = self.prepare(address)
        yield self.store.setCredentials(user, sasl.makeCredentials(password, self.iterations))
        return user

    @defer.inlineCallbacks
    def delete(self, address):
        """
        Delete an account: its sessions end, its contacts' rosters lose it.
        """
        user = self.prepare(address)
        if user not in self.names:
            raise NoSuchAccount(user)
        # Gone at once for logins; the sessions end while the roster is still
        # known, so contacts see the user go offline.
        self.names.discard(user)
        for session in self.sessions.sessionsOf(user):
            session.close("not-authorized", "Account deleted.")
        try:
            holders = yield self.store.deleteAccount(user)
        finally:
            self.rosters.forget(user)
        self.rosters.contactDeleted(holders, user)
        self.fire(events.ACCOUNT_DELETED, user)
        return user

    def list(self, domain=None):
        return self.store.listAccounts(domain)
