# -*- test-case-name: tests.features.test_account -*-
"""
What the server answers for an account itself (RFC 6120 10.3.3): an iq a
client sends without C{to}, or to its own bare JID, is the account's to
answer.  Clients ping their server that way (Profanity turns its keep-alive
off when that fails) and ask the account's service discovery (XEP-0030,
identity C{account/registered}) to learn what it supports.
"""

from twisted.words.protocols.jabber.xmlstream import XMPPHandler, toResponse

from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel import disco

from openmessenger.xmpp.stanzas import ownSession

NS_PING = "urn:xmpp:ping"
PING = f"/iq[@type='get']/ping[@xmlns='{NS_PING}']"
INFO = f"/iq[@type='get']/query[@xmlns='{disco.NS_DISCO_INFO}']"
ITEMS = f"/iq[@type='get']/query[@xmlns='{disco.NS_DISCO_ITEMS}']"


class AccountHandler(XMPPHandler):
    """
    Answers a user's own clients for their account: pings, and service
    discovery of the account.
    """

    def connectionInitialized(self):
        self.xmlstream.addObserver(PING, self.onPing)
        self.xmlstream.addObserver(INFO, self.onInfo)
        self.xmlstream.addObserver(ITEMS, self.onItems)

    def onPing(self, iq):
        if ownSession(iq) is not None:
            iq.handled = True
            self.send(toResponse(iq, "result"))

    def onInfo(self, iq):
        if ownSession(iq) is None or iq.query.getAttribute("node"):
            return
        iq.handled = True
        info = disco.DiscoInfo()
        info.append(disco.DiscoIdentity("account", "registered"))
        info.append(disco.DiscoFeature(disco.NS_DISCO_INFO))
        info.append(disco.DiscoFeature(disco.NS_DISCO_ITEMS))
        self.answer(iq, info.toElement())

    def onItems(self, iq):
        if ownSession(iq) is None or iq.query.getAttribute("node"):
            return
        iq.handled = True
        self.answer(iq, disco.DiscoItems().toElement())

    def answer(self, iq, query):
        response = toResponse(iq, "result")
        response.addChild(query)
        self.send(response)
