# -*- test-case-name: tests.features.test_lastactivity -*-
"""
Last Activity (XEP-0012): how long ago a contact went offline, and the
server's uptime.
"""


from twisted.logger import Logger
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.xmlstream import XMPPHandler, toResponse

from zope.interface import implementer

from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel import disco
from wokkel.iwokkel import IDisco

from openmessenger.xmpp import stanzas

NS_LAST = "jabber:iq:last"
LAST_GET = f"/iq[@type='get']/query[@xmlns='{NS_LAST}']"


def lastReply(iq, seconds, status=""):
    reply = toResponse(iq, "result")
    query = reply.addElement((NS_LAST, "query"), content=status or None)
    query["seconds"] = str(max(0, int(seconds)))
    return reply


class LastActivityHandler(XMPPHandler):
    """
    Answers for accounts: while online, how long the user has been idle (0
    if active); otherwise the time since the last session ended, with its
    last status text.  Only the user and contacts
    subscribed to the user's presence may ask.
    """

    log = Logger()

    def __init__(self, store, sessions, rosters, accounts, clock):
        XMPPHandler.__init__(self)
        self.store = store
        self.sessions = sessions
        self.rosters = rosters
        self.accounts = accounts
        self.now = clock.seconds

    def connectionInitialized(self):
        self.xmlstream.addObserver(LAST_GET, self.onLast)

    def onLast(self, iq):
        iq.handled = True
        requester = stanzas.bare(iq["from"])
        user = stanzas.bare(iq.getAttribute("to") or iq["from"])
        if not self.accounts.exists(user):
            return self.send(StanzaError("service-unavailable").toResponse(iq))

        def answer(roster):
            if requester != user and not roster.get(requester).subscribedFrom:
                raise StanzaError("forbidden")
            available = self.sessions.availableSessions(user)
            if available:
                # Online: how long the most active resource has been idle.
                now = self.now()
                return lastReply(iq, min(now - (s.idleSince or now) for s in available))
            return self.store.getLastActivity(user).addCallback(offline)

        def offline(activity):
            if activity is None:
                raise StanzaError("service-unavailable")
            return lastReply(iq, self.now() - activity.stamp, activity.status)

        def failed(failure):
            if failure.check(StanzaError):
                return failure.value.toResponse(iq)
            self.log.failure("Last activity query failed", failure)
            return StanzaError("internal-server-error").toResponse(iq)

        d = self.rosters.get(user)
        d.addCallback(answer)
        d.addErrback(failed)
        d.addCallback(self.send)


@implementer(IDisco)
class UptimeHandler(XMPPHandler):
    """
    Answers for the server itself: seconds since it started.
    """

    def getDiscoInfo(self, requestor, target, nodeIdentifier=""):
        return [] if nodeIdentifier else [disco.DiscoFeature(NS_LAST)]

    def getDiscoItems(self, requestor, target, nodeIdentifier=""):
        return []

    def __init__(self, clock):
        XMPPHandler.__init__(self)
        self.now = clock.seconds
        self.started = self.now()

    def connectionInitialized(self):
        self.xmlstream.addObserver(LAST_GET, self.onLast)

    def onLast(self, iq):
        iq.handled = True
        self.send(lastReply(iq, self.now() - self.started))
