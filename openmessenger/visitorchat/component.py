# -*- test-case-name: tests.visitorchat.test_component -*-
"""
The XMPP side of visitor chat: the visitors sub-domains
(C{visitors.<domain>}), where every visitor has a JID for the length of a
chat.  Supporters write to it like to any contact.
"""

from twisted.words.protocols.jabber.xmlstream import toResponse
from twisted.words.xish import domish

from openmessenger.features.disco import NS_INFO
from openmessenger.visitorchat.service import (
    NOT_SHOWN,
    VISITOR_CAPABILITIES,
    VISITOR_CAPS_NODE,
    VISITOR_CAPS_VERSION,
)
from openmessenger.xmpp import stanzas

NS_VCARD = "vcard-temp"


class VisitorDomain:
    """
    The receiver of the visitors sub-domains (the assembly routes each
    C{visitors.<domain>} here).
    """

    def __init__(self, service, send):
        """
        @param send: routes a stanza.
        """
        self.service = service
        self.send = send

    def receive(self, stanza):
        chat = self.service.byVisitor.get(stanzas.bare(stanza.getAttribute("to", "")))
        kind = stanza.getAttribute("type")
        if stanza.name == "message":
            self.service.fromSupporter(stanza)
        elif stanza.name == "presence":
            if kind == "probe":
                self.answerProbe(stanza, chat)
        elif stanza.name == "iq" and kind in ("get", "set"):
            vcard = stanzas.child(stanza, NS_VCARD, "vCard")
            info = stanzas.child(stanza, NS_INFO, "query")
            if kind == "get" and info is not None and chat is not None:
                self.send(self.discoInfo(stanza, info.getAttribute("node")))
            elif kind == "get" and vcard is not None and chat is not None:
                reply = toResponse(stanza, "result")
                card = reply.addElement((NS_VCARD, "vCard"))
                card.addElement("FN", content=chat.name)
                card.addElement("NICKNAME", content=chat.name)
                if chat.email:
                    card.addElement("EMAIL").addElement("USERID", content=chat.email)
                self.send(reply)
            else:
                stanzas.answerWithError(self.send, stanza, "service-unavailable")

    def discoInfo(self, iq, node):
        """
        What a visitor's JID can do, for the node its presence announced too.
        """
        if node not in (None, f"{VISITOR_CAPS_NODE}#{VISITOR_CAPS_VERSION}"):
            return stanzas.errorReply(iq, "item-not-found")
        reply = toResponse(iq, "result")
        query = reply.addElement((NS_INFO, "query"))
        if node:
            query["node"] = node
        for entry in VISITOR_CAPABILITIES:
            query.addChild(entry.toElement())
        return reply

    def answerProbe(self, probe, chat):
        prober = stanzas.bare(probe.getAttribute("from", ""))
        if chat is not None and chat.supporter == prober and chat.ended is None:
            chat.visible = NOT_SHOWN  # send again, whatever was sent before
            self.service.sendPresence(chat)
        else:
            presence = domish.Element((stanzas.NS_CLIENT, "presence"))
            presence["from"] = probe["to"]
            presence["to"] = probe.getAttribute("from", "")
            presence["type"] = "unavailable"
            self.send(presence)
