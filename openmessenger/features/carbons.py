# -*- test-case-name: tests.features.test_carbons -*-
"""
Message carbons (XEP-0280): every resource of a user that asked for them
sees the chats the user's other resources send and receive.
"""

from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.xmlstream import XMPPHandler, toResponse
from twisted.words.xish import domish
from zope.interface import implementer

from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel import disco
from wokkel.iwokkel import IDisco

from openmessenger.xmpp import events, stanzas

NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_HINTS = "urn:xmpp:hints"
CARBONS_SET = f"/iq[@type='set']/*[@xmlns='{NS_CARBONS}']"


def copied(message):
    """
    Whether a message is one carbons copy (XEP-0280 6): chats, and normal
    messages with a body, unless marked private or no-copy.
    """
    kind = message.getAttribute("type", "normal")
    if kind not in ("chat", "normal"):
        return False
    if kind == "normal" and message.body is None:
        return False
    for child in message.elements():
        if (child.uri, child.name) in ((NS_CARBONS, "private"), (NS_HINTS, "no-copy"),
                                       (NS_CARBONS, "sent"), (NS_CARBONS, "received")):
            return False
    return True


@implementer(IDisco)
class CarbonsHandler(XMPPHandler):
    def __init__(self, sessions):
        XMPPHandler.__init__(self)
        self.sessions = sessions
        self.enabled = set()

    def connectionInitialized(self):
        bus = self.xmlstream
        bus.addObserver(CARBONS_SET, self.onSet)
        bus.addObserver(events.MESSAGE_SENT, self.onSent)
        bus.addObserver(events.MESSAGE_DELIVERED, self.onDelivered)
        bus.addObserver(events.RESOURCE_UNBOUND, self.onUnbound)

    def getDiscoInfo(self, requestor, target, nodeIdentifier=""):
        return [] if nodeIdentifier else [disco.DiscoFeature(NS_CARBONS)]

    def getDiscoItems(self, requestor, target, nodeIdentifier=""):
        return []

    def onSet(self, iq):
        iq.handled = True
        session = getattr(iq, "origin", None)
        action = iq.firstChildElement().name
        if session is None or iq.getAttribute("to") not in (None, session.bare):
            return self.send(StanzaError("service-unavailable").toResponse(iq))
        if action == "enable":
            self.enabled.add(session)
        elif action == "disable":
            self.enabled.discard(session)
        else:
            return self.send(StanzaError("bad-request").toResponse(iq))
        self.send(toResponse(iq, "result"))

    def onUnbound(self, session):
        self.enabled.discard(session)

    def copies(self, user, exclude):
        return [s for s in self.sessions.sessionsOf(user) if s in self.enabled and s not in exclude]

    def onSent(self, message):
        sender = message.origin
        if not self.enabled or not copied(message):
            return
        for session in self.copies(sender.bare, (sender,)):
            session.send(self.wrap("sent", message, session))

    def onDelivered(self, delivery):
        if not self.enabled or not delivery.sessions or not copied(delivery.stanza):
            return
        user = delivery.sessions[0].bare
        for session in self.copies(user, delivery.sessions):
            session.send(self.wrap("received", delivery.stanza, session))

    def wrap(self, direction, message, session):
        carbon = domish.Element((stanzas.NS_CLIENT, "message"))
        carbon["from"] = session.bare
        carbon["to"] = session.full
        carbon["type"] = message.getAttribute("type", "normal")
        forwarded = carbon.addElement((NS_CARBONS, direction)).addElement((NS_FORWARD, "forwarded"))
        forwarded.addChild(message)
        return carbon
