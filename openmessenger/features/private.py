# -*- test-case-name: tests.features.test_private -*-
"""
Private XML storage (XEP-0049): a user's clients keep data on the server
(Psi keeps its bookmarks and roster delimiter there), one document per
namespace, readable only by the user.
"""

from twisted.internet import defer
from twisted.logger import Logger
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.xmlstream import XMPPHandler, toResponse

from zope.interface import implementer

from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel import disco
from wokkel.iwokkel import IDisco

from openmessenger.xmpp import stanzas

NS_PRIVATE = "jabber:iq:private"
PRIVATE_IQ = f"/iq/query[@xmlns='{NS_PRIVATE}']"
PREFIX = "private "
RESERVED = frozenset(("jabber:client", "jabber:server", "jabber:component:accept", NS_PRIVATE, ""))


@implementer(IDisco)
class PrivateStorageHandler(XMPPHandler):
    log = Logger()

    def getDiscoInfo(self, requestor, target, nodeIdentifier=""):
        return [] if nodeIdentifier else [disco.DiscoFeature(NS_PRIVATE)]

    def getDiscoItems(self, requestor, target, nodeIdentifier=""):
        return []

    def __init__(self, documents, maxSize=65536, maxDocuments=100):
        """
        @param documents: an L{IDocumentStore}.
        @param maxSize: the largest document, in bytes, and C{maxDocuments}
            the most namespaces one user may keep.
        """
        XMPPHandler.__init__(self)
        self.documents = documents
        self.maxSize = maxSize
        self.maxDocuments = maxDocuments

    def connectionInitialized(self):
        self.xmlstream.addObserver(PRIVATE_IQ, self.onPrivate)

    def onPrivate(self, iq):
        kind = iq.getAttribute("type")
        if kind not in ("get", "set"):
            return
        iq.handled = True
        user = stanzas.bare(iq["from"])
        if iq.getAttribute("to") not in (None, user):
            return self.send(StanzaError("forbidden").toResponse(iq))
        children = list(iq.query.elements())
        if len(children) != 1:
            return self.send(StanzaError(
                "bad-request", text="Exactly one element, please."
            ).toResponse(iq))
        element = children[0]
        if element.uri in RESERVED:
            return self.send(StanzaError(
                "not-acceptable", text=f"The namespace {element.uri!r} is reserved."
            ).toResponse(iq))
        key = f"{PREFIX}{element.uri}"
        if kind == "get":
            d = self.documents.getDocument(user, key)
            d.addCallback(self.answer, iq, element)
        else:
            d = self.store(user, key, element.toXml(), iq)
        d.addErrback(self.failed, iq)

    @defer.inlineCallbacks
    def store(self, user, key, xml, iq):
        if len(xml.encode("utf-8")) > self.maxSize:
            return self.send(StanzaError(
                "not-acceptable", text=f"At most {self.maxSize} bytes, please.").toResponse(iq))
        if (yield self.documents.getDocument(user, key)) is None:
            if (yield self.documents.countDocuments(user, PREFIX)) >= self.maxDocuments:
                return self.send(StanzaError(
                    "resource-constraint", text=f"At most {self.maxDocuments} namespaces, please."
                ).toResponse(iq))
        yield self.documents.setDocument(user, key, xml)
        self.send(toResponse(iq, "result"))

    def answer(self, text, iq, asked):
        reply = toResponse(iq, "result")
        query = reply.addElement((NS_PRIVATE, "query"))
        query.addChild(stanzas.parseStored(text) if text else asked)
        self.send(reply)

    def failed(self, failure, iq):
        self.log.failure("Private storage request failed", failure)
        self.send(StanzaError("internal-server-error").toResponse(iq))
