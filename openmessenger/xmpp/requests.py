# -*- test-case-name: tests.xmpp.test_requests -*-
"""
IQ requests the server sends on its own behalf, and their answers.

Attached to the server bus, it sees the results and errors clients send
back to the domain and fires the Deferred of the matching request; a request
unanswered within its timeout fails with L{RequestTimeout}.
"""

from twisted.internet import defer
from twisted.words.protocols.jabber.error import exceptionFromStanza
from twisted.words.protocols.jabber.xmlstream import XMPPHandler

from openmessenger.xmpp import stanzas

RESULT = "/iq[@type='result']"
ERROR = "/iq[@type='error']"


class RequestTimeout(Exception):
    """
    The request was not answered in time.
    """


class IQRequests(XMPPHandler):
    def __init__(self, clock):
        XMPPHandler.__init__(self)
        self.clock = clock
        self.pending = {}

    def connectionInitialized(self):
        self.xmlstream.addObserver(RESULT, self.onAnswer)
        self.xmlstream.addObserver(ERROR, self.onAnswer)

    def request(self, iq, timeout=10):
        """
        Send C{iq} (from the domain, with C{to} set); fire with the result
        stanza, or fail with the error or L{RequestTimeout}.
        """
        iq["id"] = stanzas.newId("srv-")
        key = (iq["id"], iq["to"])
        d = defer.Deferred()
        call = self.clock.callLater(timeout, self.expire, key)
        self.pending[key] = (d, call)
        self.send(iq)
        return d

    def expire(self, key):
        d, _ = self.pending.pop(key)
        d.errback(RequestTimeout())

    def onAnswer(self, iq):
        key = (iq.getAttribute("id"), iq.getAttribute("from"))
        if key not in self.pending:
            return
        iq.handled = True
        d, call = self.pending.pop(key)
        call.cancel()
        if iq["type"] == "result":
            d.callback(iq)
        else:
            d.errback(exceptionFromStanza(iq))
