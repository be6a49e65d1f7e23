# -*- test-case-name: tests.features.test_entitytime -*-
"""
Entity time (XEP-0202) of the server.
"""


from twisted.words.protocols.jabber.xmlstream import XMPPHandler, toResponse
from zope.interface import implementer

from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel import disco
from wokkel.iwokkel import IDisco

from openmessenger.xmpp import stanzas

NS_TIME = "urn:xmpp:time"
TIME_GET = f"/iq[@type='get']/time[@xmlns='{NS_TIME}']"


@implementer(IDisco)
class EntityTimeHandler(XMPPHandler):
    def __init__(self, clock):
        XMPPHandler.__init__(self)
        self.now = clock.seconds

    def connectionInitialized(self):
        self.xmlstream.addObserver(TIME_GET, self.onTime)

    def onTime(self, iq):
        iq.handled = True
        reply = toResponse(iq, "result")
        element = reply.addElement((NS_TIME, "time"))
        # The server speaks UTC; clients convert.
        element.addElement("tzo", content="+00:00")
        element.addElement("utc", content=stanzas.formatStamp(self.now()))
        self.send(reply)

    def getDiscoInfo(self, requestor, target, nodeIdentifier=""):
        return [] if nodeIdentifier else [disco.DiscoFeature(NS_TIME)]

    def getDiscoItems(self, requestor, target, nodeIdentifier=""):
        return []
