# -*- test-case-name: tests.features.test_vcard -*-
"""
vCards (XEP-0054) with avatar hashes in presence (XEP-0153).

Users read anyone's vCard and write their own, up to a size limit.  An
account without a stored vCard has one with its name, so clients (Psi) do
not greet a new user with an empty vCard editor.  The SHA-1 of the vCard
photo is added to the user's presence broadcasts (C{vcard-temp:x:update})
when the client did not add it, so contacts fetch a changed avatar.
"""

import base64
import binascii
import hashlib

from twisted.logger import Logger
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.xmlstream import XMPPHandler, toResponse
from twisted.words.xish import domish

from zope.interface import implementer

from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel import disco
from wokkel.iwokkel import IDisco

from openmessenger.xmpp import events, stanzas

NS_VCARD = "vcard-temp"
NS_UPDATE = "vcard-temp:x:update"
VCARD_GET = f"/iq[@type='get']/vCard[@xmlns='{NS_VCARD}']"
VCARD_SET = f"/iq[@type='set']/vCard[@xmlns='{NS_VCARD}']"


def defaultVCard(user):
    vcard = domish.Element((NS_VCARD, "vCard"))
    name = user.partition("@")[0]
    vcard.addElement("FN", content=name)
    vcard.addElement("NICKNAME", content=name)
    return vcard


def photoHash(vcard):
    """
    The XEP-0153 hash of the vCard's photo: SHA-1 of the image, hex; C{""}
    for no photo.
    """
    photo = stanzas.child(vcard, NS_VCARD, "PHOTO")
    binval = stanzas.child(photo, NS_VCARD, "BINVAL") if photo is not None else None
    if binval is None:
        return ""
    try:
        data = base64.b64decode("".join(str(binval).split()), validate=True)
    except (binascii.Error, ValueError):
        raise StanzaError("bad-request", text="The photo is not valid base64.") from None
    return hashlib.sha1(data).hexdigest()


@implementer(IDisco)
class VCardHandler(XMPPHandler):
    log = Logger()

    def getDiscoInfo(self, requestor, target, nodeIdentifier=""):
        return [] if nodeIdentifier else [disco.DiscoFeature(NS_VCARD)]

    def getDiscoItems(self, requestor, target, nodeIdentifier=""):
        return []

    def __init__(self, documents, accounts, maxSize):
        """
        @param documents: an L{IDocumentStore}.
        @param maxSize: the largest vCard accepted, in bytes of XML.
        """
        XMPPHandler.__init__(self)
        self.documents = documents
        self.accounts = accounts
        self.maxSize = maxSize
        self._hashes = {}

    def connectionInitialized(self):
        bus = self.xmlstream
        bus.addObserver(VCARD_GET, self.onGet)
        bus.addObserver(VCARD_SET, self.onSet)
        bus.addObserver(events.PRESENCE_OUTBOUND, self.onPresence, 1)
        bus.addObserver(events.RESOURCE_BOUND, self.onBound)

    def load(self, user):
        def parsed(text):
            return stanzas.parseStored(text) if text else defaultVCard(user)

        return self.documents.getDocument(user, NS_VCARD).addCallback(parsed)

    def onBound(self, session):
        def remember(vcard):
            try:
                self._hashes[session.bare] = photoHash(vcard)
            except StanzaError:
                self._hashes[session.bare] = ""

        self.load(session.bare).addCallbacks(remember, lambda f: self.log.failure(
            "Reading the vCard of {user} failed", f, user=session.bare))

    def onGet(self, iq):
        iq.handled = True
        user = stanzas.bare(iq.getAttribute("to") or iq["from"])
        if not self.accounts.exists(user):
            return self.send(StanzaError("item-not-found").toResponse(iq))

        def answer(vcard):
            reply = toResponse(iq, "result")
            reply.addChild(vcard)
            self.send(reply)

        self.load(user).addCallbacks(answer, self.failed, errbackArgs=(iq,))

    def onSet(self, iq):
        iq.handled = True
        user = stanzas.bare(iq["from"])
        if iq.getAttribute("to") not in (None, user):
            return self.send(StanzaError("forbidden").toResponse(iq))
        text = iq.vCard.toXml()
        if len(text.encode("utf-8")) > self.maxSize:
            return self.send(StanzaError(
                "not-acceptable", text=f"vCards are limited to {self.maxSize} bytes."
            ).toResponse(iq))
        try:
            digest = photoHash(iq.vCard)
        except StanzaError as e:
            return self.send(e.toResponse(iq))

        def stored(_):
            self._hashes[user] = digest
            self.send(toResponse(iq, "result"))

        self.documents.setDocument(user, NS_VCARD, text).addCallbacks(
            stored, self.failed, errbackArgs=(iq,)
        )

    def onPresence(self, presence):
        """
        Add the avatar hash to an available broadcast presence.
        """
        if presence.getAttribute("type") is not None or presence.getAttribute("to"):
            return
        digest = self._hashes.get(presence.origin.bare)
        if digest is None or stanzas.child(presence, NS_UPDATE, "x") is not None:
            return
        update = presence.addElement((NS_UPDATE, "x"))
        update.addElement("photo", content=digest or None)

    def failed(self, failure, iq):
        self.log.failure("vCard request failed", failure)
        self.send(StanzaError("internal-server-error").toResponse(iq))
