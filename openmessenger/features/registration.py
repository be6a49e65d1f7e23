# -*- test-case-name: tests.features.test_registration -*-
"""
In-band registration (XEP-0077): new accounts from the client, when the
operator allows it, throttled per IP address; and, always, password changes
and account removal by logged-in users.
"""

from twisted.internet.defer import succeed
from twisted.logger import Logger
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.xmlstream import XMPPHandler, toResponse
from zope.interface import implementer

from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel import disco
from wokkel.iwokkel import IDisco

from openmessenger.storage.interfaces import AccountExists
from openmessenger.xmpp import stanzas
from openmessenger.ratelimit import Throttle
from openmessenger.xmpp.c2s import NS_REGISTER

REGISTER_IQ = f"/iq/query[@xmlns='{NS_REGISTER}']"


def fields(query):
    return {
        name: str(stanzas.child(query, NS_REGISTER, name) or "").strip()
        for name in ("username", "password")
    }


class Registration:
    """
    Account creation before login, for the client streams.

    @ivar throttle: registrations per IP address within a window.
    """

    log = Logger()

    def __init__(self, accounts, maxPerAddress, window, clock, reserved=()):
        """
        @param reserved: addresses nobody may register ([server] admins: an
            operator's account not made yet must not be taken by a stranger).
        """
        self.accounts = accounts
        self.throttle = Throttle(maxPerAddress, window, clock)
        self.reserved = frozenset(reserved)

    def openOn(self, domain):
        """
        Whether strangers may make accounts on C{domain}: on configured
        domains only; a company's own domain gets its users from its
        administrators.
        """
        return domain in self.accounts.domains.configured

    def handle(self, iq, domain, address):
        """
        Answer a registration iq from an unauthenticated stream; fires with
        the reply.
        """
        kind = iq.getAttribute("type")
        if kind == "get":
            reply = toResponse(iq, "result")
            query = reply.addElement((NS_REGISTER, "query"))
            query.addElement("instructions", content="Choose a user name and a password.")
            query.addElement("username")
            query.addElement("password")
            return succeed(reply)
        if kind != "set":
            return succeed(StanzaError("bad-request").toResponse(iq))
        values = fields(iq.query)
        if not values["username"] or not values["password"]:
            return succeed(StanzaError("not-acceptable", text="User name and password, please.").toResponse(iq))
        if not self.throttle.attempt(address):
            return succeed(StanzaError(
                "resource-constraint", text="Too many registrations from your address; try later."
            ).toResponse(iq))
        try:
            user = self.accounts.prepare(f"{values['username']}@{domain}")
        except ValueError as e:
            self.throttle.forgive(address)
            return succeed(StanzaError("not-acceptable", text=str(e)).toResponse(iq))
        if user in self.reserved:
            return succeed(StanzaError("conflict", text="This user name is taken.").toResponse(iq))
        d = self.accounts.create(user, values["password"])

        def created(_):
            self.log.info("Registered {user} from {address}", user=user, address=address)
            return toResponse(iq, "result")

        def failed(failure):
            if failure.check(AccountExists):
                return StanzaError("conflict", text="This user name is taken.").toResponse(iq)
            if failure.check(ValueError):
                return StanzaError("not-acceptable", text=str(failure.value)).toResponse(iq)
            self.log.failure("Registration failed", failure)
            return StanzaError("internal-server-error").toResponse(iq)

        return d.addCallbacks(created, failed)


@implementer(IDisco)
class AccountSettingsHandler(XMPPHandler):
    """
    Password changes and account removal by logged-in users (XEP-0077 3.2,
    3.3), always available.
    """

    log = Logger()

    def __init__(self, accounts):
        XMPPHandler.__init__(self)
        self.accounts = accounts

    def connectionInitialized(self):
        self.xmlstream.addObserver(REGISTER_IQ, self.onRegister)

    def getDiscoInfo(self, requestor, target, nodeIdentifier=""):
        return [] if nodeIdentifier else [disco.DiscoFeature(NS_REGISTER)]

    def getDiscoItems(self, requestor, target, nodeIdentifier=""):
        return []

    def onRegister(self, iq):
        kind = iq.getAttribute("type")
        if kind not in ("get", "set"):
            return
        iq.handled = True
        user = stanzas.bare(iq["from"])
        if not self.accounts.exists(user):
            return self.send(StanzaError("forbidden").toResponse(iq))
        if kind == "get":
            reply = toResponse(iq, "result")
            query = reply.addElement((NS_REGISTER, "query"))
            query.addElement("registered")
            query.addElement("username", content=user.partition("@")[0])
            query.addElement("password")
            return self.send(reply)
        if stanzas.child(iq.query, NS_REGISTER, "remove") is not None:
            # The answer goes out before the stream closes (XEP-0077 3.2).
            self.send(toResponse(iq, "result"))
            self.accounts.delete(user).addErrback(
                lambda f: self.log.failure("Removing the account {user} failed", f, user=user))
            return
        values = fields(iq.query)
        if values["username"] and values["username"] != user.partition("@")[0]:
            return self.send(StanzaError("not-authorized", text="That is not your account.").toResponse(iq))
        if not values["password"]:
            return self.send(StanzaError("bad-request", text="The new password, please.").toResponse(iq))
        d = self.accounts.setPassword(user, values["password"])
        d.addCallback(lambda _: self.send(toResponse(iq, "result")))
        d.addErrback(self.failed, iq)

    def failed(self, failure, iq):
        if failure.check(ValueError):
            return self.send(StanzaError("not-acceptable", text=str(failure.value)).toResponse(iq))
        self.log.failure("Account change failed", failure)
        self.send(StanzaError("internal-server-error").toResponse(iq))
