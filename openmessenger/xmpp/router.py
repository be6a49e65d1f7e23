# -*- test-case-name: tests.xmpp.test_router -*-
"""
Routing between domains: each stanza goes to the receiver of the domain in
its C{to} address, or bounces with C{remote-server-not-found}.

Local domains and (later) components register here.  There is no
server-to-server federation yet, so every other domain is unreachable.
"""

from twisted.logger import Logger

from openmessenger.xmpp import stanzas


class Router:
    log = Logger()

    def __init__(self):
        self.routes = {}

    def addRoute(self, domain, receiver):
        """
        Send stanzas for C{domain} to C{receiver.receive(stanza)}.
        """
        self.routes[domain] = receiver

    def removeRoute(self, domain):
        self.routes.pop(domain, None)

    def follow(self, domains, receiver, prefix=""):
        """
        Route each of the L{ServedDomains} (with C{prefix}: its sub-domain)
        to C{receiver}, as domains come and go.
        """
        domains.follow(lambda domain: self.addRoute(prefix + domain, receiver),
                       lambda domain: self.removeRoute(prefix + domain))

    def route(self, stanza):
        """
        Pass a stanza on to its domain.  Its C{to} and C{from}, if present,
        are prepared JIDs: whoever makes or accepts a stanza checks them.
        """
        to = stanza.getAttribute("to")
        receiver = self.routes.get(stanzas.domainOf(to)) if to else None
        if receiver is not None:
            receiver.receive(stanza)
            return
        reply = stanzas.errorReply(stanza, "remote-server-not-found")
        if reply is not None and reply.getAttribute("to"):
            origin = self.routes.get(stanzas.domainOf(reply["to"]))
            if origin is not None:
                origin.receive(reply)
