# -*- test-case-name: tests.features.test_disco -*-
"""
Service discovery (XEP-0030) for the server itself.

Identities, features and items come from the handlers on the same bus that
provide wokkel's L{IDisco} (ours and wokkel's own responders alike).  Unlike
wokkel's C{DiscoHandler}, addresses are parsed with L{jids.parse}, never
interned: requesters' JIDs are attacker-chosen.
"""

import base64
import hashlib

from twisted.internet import defer
from twisted.logger import Logger
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.xmlstream import XMPPHandler, toResponse
from twisted.words.xish import domish
from zope.interface import implementer

from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel import disco
from wokkel.iwokkel import IDisco

from openmessenger.xmpp import jids

NS_INFO = disco.NS_DISCO_INFO
NS_ITEMS = disco.NS_DISCO_ITEMS
NS_CAPS = "http://jabber.org/protocol/caps"
CAPS_NODE = "urn:openmessenger:server"
INFO_GET = f"/iq[@type='get']/query[@xmlns='{NS_INFO}']"
ITEMS_GET = f"/iq[@type='get']/query[@xmlns='{NS_ITEMS}']"


def capsVersion(entries):
    """
    The XEP-0115 verification string of some identities and features
    (section 5.1; no extended forms).
    """
    identities = sorted(
        f"{e.category}/{e.type}//{e.name or ''}" for e in entries if isinstance(e, disco.DiscoIdentity)
    )
    features = sorted({str(e) for e in entries if isinstance(e, disco.DiscoFeature)})
    text = "".join(f"{part}<" for part in identities + features)
    return base64.b64encode(hashlib.sha1(text.encode("utf-8")).digest()).decode("ascii")


@implementer(IDisco)
class DiscoHandler(XMPPHandler):
    log = Logger()

    def __init__(self, name, also=()):
        """
        @param name: the server's name, shown as its identity.
        @param also: another handler collection whose features the server
            offers (the account bus: vCards, blocking, carbons...).
        """
        XMPPHandler.__init__(self)
        self.name = name
        self.also = also

    def connectionInitialized(self):
        self.xmlstream.addObserver(INFO_GET, self.onInfo)
        self.xmlstream.addObserver(ITEMS_GET, self.onItems)

    def getDiscoInfo(self, requestor, target, nodeIdentifier=""):
        if nodeIdentifier:
            return []
        return [
            disco.DiscoIdentity("server", "im", self.name),
            disco.DiscoFeature(NS_INFO),
            disco.DiscoFeature(NS_ITEMS),
        ]

    def getDiscoItems(self, requestor, target, nodeIdentifier=""):
        return []

    def gather(self, method, iq):
        node = iq.query.getAttribute("node", "")
        d = self.collect(method, jids.parse(iq["from"]), jids.parse(iq["to"]), node)
        return d, node

    def collect(self, method, requestor, target, node=""):
        """
        Fire with the entries all handlers give for C{method}
        (C{getDiscoInfo} or C{getDiscoItems}).
        """
        calls = [
            defer.maybeDeferred(getattr(handler, method), requestor, target, node)
            for handler in list(self.parent) + list(self.also)
            if IDisco.providedBy(handler)
        ]
        d = defer.gatherResults(calls, consumeErrors=True)
        d.addCallback(lambda results: [entry for result in results for entry in result])
        return d

    def caps(self, domain):
        """
        The entity capabilities (XEP-0115) element for the stream features,
        so clients can cache what the server offers.
        """
        d = self.collect("getDiscoInfo", None, jids.parse(domain))
        element = domish.Element((NS_CAPS, "c"))
        element["hash"] = "sha-1"
        element["node"] = CAPS_NODE
        d.addCallback(lambda entries: element.__setitem__("ver", capsVersion(entries)))
        return d.addCallback(lambda _: element)

    def onInfo(self, iq):
        iq.handled = True
        d, node = self.gather("getDiscoInfo", iq)

        def reply(entries):
            if not entries:
                raise StanzaError("item-not-found")
            info = disco.DiscoInfo()
            info.nodeIdentifier = node
            seen = set()
            for entry in entries:
                key = (type(entry), str(entry) if isinstance(entry, str) else repr(vars(entry)))
                if key not in seen:
                    seen.add(key)
                    info.append(entry)
            return info.toElement()

        self.answer(iq, d.addCallback(reply))

    def onItems(self, iq):
        iq.handled = True
        d, node = self.gather("getDiscoItems", iq)

        def reply(entries):
            items = disco.DiscoItems()
            items.nodeIdentifier = node
            for entry in entries:
                items.append(entry)
            return items.toElement()

        self.answer(iq, d.addCallback(reply))

    def answer(self, iq, d):
        def send(query):
            response = toResponse(iq, "result")
            response.addChild(query)
            self.send(response)

        def failed(failure):
            failure = failure.value.subFailure if failure.check(defer.FirstError) else failure
            if not failure.check(StanzaError):
                self.log.failure("Service discovery failed", failure)
                failure = StanzaError("internal-server-error")
            else:
                failure = failure.value
            self.send(failure.toResponse(iq))

        d.addCallbacks(send, failed)
