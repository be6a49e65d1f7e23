# -*- test-case-name: tests.features.test_companyboundary -*-
"""
The company boundary: a company may keep its users to themselves.

Between companies on one server, XMPP works as between federated domains.
A company with C{ownCompanyOnly} set exchanges nothing with users of other
companies here, either way: messages and iq requests are answered
C{service-unavailable} (as for an address that does not exist), presence of
any kind is dropped.  The server, its components (visitor chat) and
addresses outside any company are not affected.
"""

from twisted.words.protocols.jabber.xmlstream import XMPPHandler

from openmessenger.xmpp import events, stanzas


class CompanyBoundary(XMPPHandler):
    """
    A guard on what arrives for local addresses (L{events.STANZA_INBOUND}):
    whatever crosses the boundary arrives at the local domain.
    """

    def __init__(self, directory):
        XMPPHandler.__init__(self)
        self.directory = directory
        #: The error being sent back across the boundary, which must pass.
        self.bouncing = None

    def connectionInitialized(self):
        # After blocking's guard: a blocked sender learns nothing more.
        self.xmlstream.addObserver(events.STANZA_INBOUND, self.onInbound, events.GUARD - 1)

    def onInbound(self, stanza):
        if not stanza.handled and self.stops(stanza):
            stanza.handled = True

    def stops(self, stanza):
        if stanza is self.bouncing:
            return False
        senderDomain = userDomain(stanza.getAttribute("from", ""))
        recipientDomain = userDomain(stanza.getAttribute("to", ""))
        if senderDomain is None or recipientDomain is None or senderDomain == recipientDomain:
            return False  # the common case, decided without looking companies up
        sender = self.directory.companyOfDomain(senderDomain)
        recipient = self.directory.companyOfDomain(recipientDomain)
        if sender is None or recipient is None or sender.id == recipient.id:
            return False
        if not (sender.ownCompanyOnly or recipient.ownCompanyOnly):
            return False
        if stanza.name == "message" or (stanza.name == "iq" and stanza.getAttribute("type") in ("get", "set")):
            self.bouncing = stanzas.errorReply(stanza, "service-unavailable")
            try:
                if self.bouncing is not None:
                    self.send(self.bouncing)  # delivered at once: routing is synchronous
            finally:
                self.bouncing = None
        return True


def userDomain(address):
    """
    The domain of a user's address; C{None} for the server's and
    components' own addresses.
    """
    user, at, domain = stanzas.bare(address).rpartition("@")
    return domain if at else None
