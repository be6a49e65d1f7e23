# -*- test-case-name: tests.xmpp.test_c2s -*-
"""
The SASL negotiation of one client stream (RFC 6120 6): SCRAM-SHA-256,
SCRAM-SHA-1 and, over TLS only, PLAIN.

Every attempt is counted before its password is checked, against the
client's address and against guessing the account's password from many
addresses (L{openmessenger.ratelimit}); one that succeeds is taken back.
An unknown account runs the exchange to its end with a stable decoy salt,
so the answers tell nobody which accounts exist; a disabled one is told
only once the password proved right.
"""

import base64
import binascii

from twisted.words.protocols.jabber.jid import JID
from twisted.words.xish import domish

from openmessenger.xmpp import jids, sasl

NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"


class Authentication:
    """
    @param negotiator: the L{ClientNegotiator}: its stream, factory (the
        throttles, accounts, secret, C{mayLogIn}), whether TLS is on, the
        client's address; told C{authenticated(user)}.
    """

    def __init__(self, negotiator):
        self.negotiator = negotiator
        #: The exchange going on: a marker while credentials are looked
        #: up, then C{(ScramExchange, user)}; C{None} between exchanges.
        self.exchange = None

    @property
    def xmlstream(self):
        return self.negotiator.xmlstream

    @property
    def factory(self):
        return self.negotiator.factory

    def mechanisms(self):
        if self.negotiator.tls:
            return sasl.SCRAM_MECHANISMS + ("PLAIN",)
        return sasl.SCRAM_MECHANISMS

    def element(self, element):
        """
        Handle a SASL element of the client.
        """
        name = element.name
        if name == "auth":
            self.authReceived(element)
        elif name == "response" and self.exchange is not None:
            self.responseReceived(element)
        elif name == "abort":
            self.exchange = None
            self.saslFailure("aborted")
        else:
            self.xmlstream.closeWithError("not-authorized")

    def saslFailure(self, condition, text=None):
        failure = domish.Element((NS_SASL, "failure"))
        failure.addElement(condition)
        if text:
            failure.addElement("text", content=text)
        self.xmlstream.send(failure)

    def authReceived(self, element):
        mechanism = element.getAttribute("mechanism")
        self.exchange = None
        if mechanism not in self.mechanisms():
            return self.saslFailure("invalid-mechanism")
        address = self.negotiator.peerAddress
        # Counted before the check, so parallel attempts cannot all pass.
        if not self.factory.throttle.attempt(address):
            return self.saslFailure(
                "temporary-auth-failure", "Too many failed logins; try again later."
            )
        try:
            initial = decode(str(element))
            if mechanism == "PLAIN":
                authzid, username, password = sasl.parsePlain(initial)
                user = self.userJID(username, authzid)
            else:
                username, authzid = sasl.parseScramFirst(initial)
                user = self.userJID(username, authzid)
        except sasl.SASLFailure as e:
            return self.failed(e)
        if not self.factory.guard.attempt(user.userhost(), address):
            return self.saslFailure(
                "temporary-auth-failure", "Too many failed logins to this account; try again later."
            )
        exchange = self.exchange = object()

        def gotCredentials(credentials):
            if self.exchange is not exchange or self.xmlstream.closed:
                return
            try:
                if mechanism == "PLAIN":
                    if credentials is None or not sasl.checkPassword(credentials, password):
                        raise sasl.SASLFailure("not-authorized")
                    self.succeeded(user, b"")
                else:
                    keys = credentials.keys.get(mechanism) if credentials else None
                    scram = sasl.ScramExchange(mechanism, keys, decoySalt=sasl.decoySalt(
                        self.factory.secret, mechanism, user.userhost()))
                    challenge = scram.challenge(initial)
                    self.exchange = (scram, user)
                    self.xmlstream.send(encoded("challenge", challenge))
            except sasl.SASLFailure as e:
                self.failed(e)

        d = self.factory.accounts.getCredentials(user.userhost())
        d.addCallback(gotCredentials)
        d.addErrback(self.negotiator.internalError)

    def responseReceived(self, element):
        if not isinstance(self.exchange, tuple):
            return self.xmlstream.closeWithError("not-authorized")
        scram, user = self.exchange
        try:
            final = scram.finish(decode(str(element)))
        except sasl.SASLFailure as e:
            return self.failed(e)
        self.succeeded(user, final)

    def userJID(self, username, authzid):
        try:
            user = JID(tuple=(jids.prepUser(username), self.xmlstream.thisEntity.host, None))
        except jids.InvalidJID:
            raise sasl.SASLFailure("not-authorized") from None
        if authzid is not None:
            try:
                wanted = jids.parse(authzid)
            except jids.InvalidJID:
                raise sasl.SASLFailure("invalid-authzid") from None
            if wanted.userhost() != user.userhost() or wanted.resource:
                raise sasl.SASLFailure("invalid-authzid")
        return user

    def failed(self, failure):
        # The attempt was counted when it began.
        self.exchange = None
        self.saslFailure(failure.condition, failure.text)

    def succeeded(self, user, additional):
        self.exchange = None
        address = self.negotiator.peerAddress
        self.factory.throttle.forgive(address)
        self.factory.guard.succeeded(user.userhost(), address)
        if not self.factory.mayLogIn(user.userhost()):
            # Only after the password proved right: nobody learns otherwise.
            return self.saslFailure("account-disabled", "This account is disabled.")
        self.xmlstream.send(encoded("success", additional))
        self.negotiator.authenticated(user)


def decode(text):
    """
    The bytes of a SASL element's base64 text (C{=} is empty).
    """
    text = text.strip()
    if text == "=" or not text:
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise sasl.SASLFailure("incorrect-encoding") from None


def encoded(name, data):
    """
    A SASL element carrying C{data} in base64.
    """
    element = domish.Element((NS_SASL, name))
    if data:
        element.addContent(base64.b64encode(data).decode("ascii"))
    return element
