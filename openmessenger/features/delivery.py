# -*- test-case-name: tests.features.test_delivery -*-
"""
Default delivery of messages to an account (RFC 6121 8.5.2), after every
other feature had its say: runs at priority -1 and skips what was handled.
"""

from twisted.words.protocols.jabber.xmlstream import XMPPHandler

from openmessenger.xmpp import events, stanzas
from openmessenger.xmpp.localdomain import Delivery


class DeliveryHandler(XMPPHandler):
    def __init__(self, sessions, accounts):
        XMPPHandler.__init__(self)
        self.sessions = sessions
        self.accounts = accounts

    def connectionInitialized(self):
        self.xmlstream.addObserver("/message", self.onMessage, -1)

    def onMessage(self, message):
        if message.handled:
            return
        message.handled = True
        user = stanzas.bare(message.getAttribute("to") or message["from"])
        kind = message.getAttribute("type")
        if not self.accounts.exists(user) or kind == "groupchat":
            return self.bounce(message)
        if kind == "headline":
            recipients = [s for s in self.sessions.availableSessions(user) if s.priority >= 0]
        else:
            recipients = self.sessions.topSessions(user)
        for session in recipients:
            session.send(message)
        if recipients:
            self.xmlstream.dispatch(Delivery(message, recipients), events.MESSAGE_DELIVERED)
        if not recipients and kind in (None, "normal", "chat"):
            self.bounce(message)

    def bounce(self, message):
        stanzas.answerWithError(self.send, message, "service-unavailable")
