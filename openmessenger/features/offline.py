# -*- test-case-name: tests.features.test_offline -*-
"""
Offline message storage (XEP-0160), delivered with delay stamps (XEP-0203).

A chat or normal message for an account with no available resource of
non-negative priority is stored, up to a limit per user (beyond it the
sender gets C{service-unavailable}), and handed to the user's next session
that sends initial presence.  Errors, headlines and groupchat messages are
never stored, nor messages that carry only chat states (XEP-0085 6.5).
"""

import time

from twisted.logger import Logger
from twisted.words.protocols.jabber.xmlstream import XMPPHandler

from openmessenger.compat import wokkel  # noqa: F401  (before wokkel.generic)
from wokkel.generic import parseXml

from openmessenger.xmpp import events, stanzas

NS_CHATSTATES = "http://jabber.org/protocol/chatstates"
STORED_TYPES = frozenset((None, "normal", "chat"))


def worthStoring(message):
    return any(
        getattr(child, "uri", None) != NS_CHATSTATES
        for child in message.elements()
    )


class OfflineHandler(XMPPHandler):
    log = Logger()

    def __init__(self, store, sessions, accounts, limit, clock=None):
        """
        @param store: an L{IOfflineStore}.
        @param limit: most messages kept per user.
        """
        XMPPHandler.__init__(self)
        self.store = store
        self.sessions = sessions
        self.accounts = accounts
        self.limit = limit
        self.now = clock.seconds if clock is not None else time.time

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
        stamp = self.now()
        d = self.store.storeMessage(user, message.toXml(), stamp, self.limit)

        def stored(accepted):
            if not accepted:
                reply = stanzas.errorReply(
                    message, "service-unavailable", "The recipient's offline storage is full."
                )
                if reply is not None:
                    self.send(reply)

        d.addCallback(stored)
        d.addErrback(lambda f: self.log.failure("Storing an offline message failed", f))

    def onAvailable(self, session):
        def deliver(messages):
            for text, stamp in messages:
                message = parseXml(text.encode("utf-8"))
                stanzas.addDelay(message, stamp, session.jid.host, "Offline storage")
                session.send(message)

        d = self.store.popMessages(session.bare)
        d.addCallback(deliver)
        d.addErrback(lambda f: self.log.failure("Delivering offline messages failed", f))
