# -*- test-case-name: tests.test_control -*-
"""
The local control channel: AMP over a UNIX socket in the data directory,
owner-only, through which C{openmessenger-ctl} changes accounts in the running
server so the change takes effect at once (a deleted user's sessions end).
"""

from twisted.internet.protocol import Factory
from twisted.protocols import amp

from openmessenger.storage.interfaces import AccountExists, NoSuchAccount

ERRORS = {
    AccountExists: b"ACCOUNT_EXISTS",
    NoSuchAccount: b"NO_SUCH_ACCOUNT",
    ValueError: b"INVALID",
}


class AddUser(amp.Command):
    arguments = [(b"jid", amp.Unicode()), (b"password", amp.Unicode())]
    response = [(b"jid", amp.Unicode())]
    errors = ERRORS


class SetPassword(amp.Command):
    arguments = [(b"jid", amp.Unicode()), (b"password", amp.Unicode())]
    response = [(b"jid", amp.Unicode())]
    errors = ERRORS


class DeleteUser(amp.Command):
    arguments = [(b"jid", amp.Unicode())]
    response = [(b"jid", amp.Unicode())]
    errors = ERRORS


class ListUsers(amp.Command):
    arguments = [(b"domain", amp.Unicode(optional=True))]
    response = [(b"jids", amp.ListOf(amp.Unicode()))]
    errors = ERRORS


class ControlProtocol(amp.AMP):
    """
    The server side: each command calls the L{AccountManager}.
    """

    def __init__(self, accounts):
        amp.AMP.__init__(self)
        self.accounts = accounts

    @AddUser.responder
    def addUser(self, jid, password):
        return self.accounts.create(jid, password).addCallback(lambda user: {"jid": user})

    @SetPassword.responder
    def setPassword(self, jid, password):
        return self.accounts.setPassword(jid, password).addCallback(
            lambda user: {"jid": user}
        )

    @DeleteUser.responder
    def deleteUser(self, jid):
        return self.accounts.delete(jid).addCallback(lambda user: {"jid": user})

    @ListUsers.responder
    def listUsers(self, domain=None):
        return self.accounts.list(domain).addCallback(lambda users: {"jids": users})


class ControlFactory(Factory):
    def __init__(self, accounts):
        self.accounts = accounts

    def buildProtocol(self, addr):
        return ControlProtocol(self.accounts)
