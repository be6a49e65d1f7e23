# -*- test-case-name: tests.features.test_offline -*-
"""
Offline message storage (XEP-0160), delivered with delay stamps (XEP-0203).

A chat or normal message for an account with no available resource of
non-negative priority is stored, up to a limit per user (beyond it the
sender gets C{service-unavailable}), and handed to the user's next session
that sends initial presence; it is deleted once that session confirmed
it has it.  A failed write is answered with an error stanza, before the
sender's stream management acknowledgement counts the message.  Errors,
headlines and groupchat messages are never stored, nor messages that carry
only chat states (XEP-0085 6.5).
"""


from twisted.logger import Logger
from twisted.words.protocols.jabber.xmlstream import XMPPHandler

from openmessenger.storage.interfaces import StorageFull
from openmessenger.text import xmlSafe
from openmessenger.xmpp import events, stanzas

NS_CHATSTATES = "http://jabber.org/protocol/chatstates"
STORED_TYPES = frozenset((None, "normal", "chat"))


def worthStoring(message):
    return any(
        getattr(child, "uri", None) != NS_CHATSTATES
        for child in message.elements()
    )


class OfflineHandler(XMPPHandler):
    """
    Stores messages for users who are offline and replays them.  A stored
    message is deleted only once a session has confirmed it has it
    (L{Session.confirmed}); until then it stays, so a crash or a broken
    connection after the replay loses nothing (the next login gets it again).
    """

    log = Logger()

    def __init__(self, store, sessions, accounts, limit, clock):
        """
        @param store: an L{IOfflineStore}.
        @param limit: most messages kept per user.
        """
        XMPPHandler.__init__(self)
        self.store = store
        self.sessions = sessions
        self.accounts = accounts
        self.limit = limit
        self.now = clock.seconds
        #: The ids of stored messages replayed and not yet confirmed, by
        #: user: a second session coming online meanwhile does not get them.
        self.replaying = {}

    def connectionInitialized(self):
        self.xmlstream.addObserver("/message", self.onMessage)
        self.xmlstream.addObserver(events.RESOURCE_AVAILABLE, self.onAvailable)

    def onMessage(self, message):
        if message.handled or message.getAttribute("type") not in STORED_TYPES:
            return
        user = stanzas.bare(message.getAttribute("to") or message["from"])
        if not self.accounts.exists(user) or self.sessions.topSessions(user):
            return
        message.handled = True
        if not worthStoring(message):
            return
        d = self.store.storeMessage(user, xmlSafe(message.toXml()), self.now(), self.limit)

        def stored(accepted):
            if not accepted:
                stanzas.answerWithError(self.send, message, "service-unavailable",
                                        "The recipient's offline storage is full.")
            return accepted

        def failed(failure):
            self.log.failure("Storing an offline message for {user} failed", failure, user=user)
            if failure.check(StorageFull):
                stanzas.answerWithError(self.send, message, "resource-constraint", "The server's storage is full.")
            else:
                stanzas.answerWithError(self.send, message, "internal-server-error",
                                        "The message could not be stored.")
            return False

        stanzas.storing(message, d.addCallbacks(stored, failed))

    def onAvailable(self, session):
        user = session.bare
        d = self.store.getMessages(user)
        d.addCallback(self.replay, session)
        d.addErrback(lambda f: self.log.failure("Delivering offline messages to {user} failed", f, user=user))

    def replay(self, rows, session):
        user = session.bare
        replaying = self.replaying.setdefault(user, set())
        ids = []
        for id, text, stamp in rows:
            if id in replaying:
                continue
            ids.append(id)
            try:
                # (Rows of older versions may hold characters XML forbids.)
                message = stanzas.parseStored(xmlSafe(text))
            except ValueError:
                # Damaged: kept in the log, as it cannot be sent.
                self.log.error("Dropping an unreadable offline message for {user}: {text!r}",
                               user=user, text=text)
                continue
            stanzas.addDelay(message, stamp, session.jid.host, "Offline storage")
            message.stored = True
            session.send(message)
        if not ids:
            self.forgetIfIdle(user)
            return
        replaying.update(ids)

        def confirmed(received):
            replaying.difference_update(ids)
            self.forgetIfIdle(user)
            if received:
                return self.store.deleteMessages(user, ids)

        session.confirmed().addCallback(confirmed).addErrback(
            lambda f: self.log.failure("Deleting delivered offline messages of {user} failed", f, user=user)
        )

    def forgetIfIdle(self, user):
        if not self.replaying.get(user, True):
            del self.replaying[user]
