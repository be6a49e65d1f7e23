# -*- test-case-name: tests.test_control -*-
"""
The local control channel: AMP over a UNIX socket in the data directory,
owner-only, through which C{openmessenger-ctl} changes accounts in the running
server so the change takes effect at once (a deleted user's sessions end).
"""

from twisted.internet.protocol import Factory
from twisted.protocols import amp

from twisted.internet import defer

from openmessenger.directory import DirectoryError
from openmessenger.storage.interfaces import AccountExists, NoSuchAccount

ERRORS = {
    AccountExists: b"ACCOUNT_EXISTS",
    NoSuchAccount: b"NO_SUCH_ACCOUNT",
    DirectoryError: b"DIRECTORY",
    ValueError: b"INVALID",
}


class Command(amp.Command):
    errors = ERRORS


def _command(name, arguments, response=((b"done", amp.Unicode()),)):
    return type(name, (Command,), {"arguments": list(arguments), "response": list(response)})


LINES = ((b"lines", amp.ListOf(amp.Unicode())),)
AddCompany = _command("AddCompany", [
    (b"id", amp.Unicode()), (b"name", amp.Unicode()), (b"domains", amp.ListOf(amp.Unicode())),
])
DeleteCompany = _command("DeleteCompany", [(b"id", amp.Unicode())])
ApproveCompany = _command("ApproveCompany", [(b"id", amp.Unicode())])
SetCompany = _command("SetCompany", [
    (b"id", amp.Unicode()), (b"name", amp.Unicode(optional=True)),
    (b"ownCompanyOnly", amp.Boolean(optional=True)), (b"iconSet", amp.Unicode(optional=True)),
    (b"retentionDays", amp.Unicode(optional=True)), (b"autoAway", amp.Unicode(optional=True)),
])
ListCompanies = _command("ListCompanies", [], LINES)
AddGroup = _command("AddGroup", [
    (b"id", amp.Unicode()), (b"company", amp.Unicode()), (b"name", amp.Unicode()),
    (b"shared", amp.Boolean()),
])
DeleteGroup = _command("DeleteGroup", [(b"id", amp.Unicode())])
ListGroups = _command("ListGroups", [(b"company", amp.Unicode(optional=True))], LINES)
AddMember = _command("AddMember", [(b"group", amp.Unicode()), (b"jid", amp.Unicode())])
DeleteMember = _command("DeleteMember", [(b"group", amp.Unicode()), (b"jid", amp.Unicode())])
AddSupporter = _command("AddSupporter", [
    (b"company", amp.Unicode()), (b"jid", amp.Unicode()), (b"slug", amp.Unicode()),
    (b"name", amp.Unicode()), (b"position", amp.Integer()), (b"group", amp.Unicode(optional=True)),
])
DeleteSupporter = _command("DeleteSupporter", [(b"company", amp.Unicode()), (b"jid", amp.Unicode())])
SetProfile = _command("SetProfile", [
    (b"jid", amp.Unicode()), (b"displayName", amp.Unicode(optional=True)),
    (b"enabled", amp.Boolean(optional=True)), (b"companyAdmin", amp.Boolean(optional=True)),
])


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


def serverDefaultOr(text, parse):
    """
    C{None} for "default" (the server's setting), else C{parse(text)}.
    """
    if text == "default":
        return None
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"{text!r}: give a number, or default") from None


def minutePair(text):
    """
    "5,30": away after 5 and extended away after 30 minutes, in seconds.
    """
    away, xa = (int(part) * 60 for part in text.split(","))
    return away, xa


class ControlProtocol(amp.AMP):
    """
    The server side: each command calls the L{AccountManager} or the
    L{Directory}.
    """

    def __init__(self, accounts, directory):
        amp.AMP.__init__(self)
        self.accounts = accounts
        self.directory = directory

    def done(self, d, what):
        return defer.maybeDeferred(d).addCallback(lambda _: {"done": what})

    @AddCompany.responder
    def addCompany(self, id, name, domains):
        return self.done(lambda: self.directory.addCompany(id, name, domains), id)

    @DeleteCompany.responder
    def deleteCompany(self, id):
        return self.done(lambda: self.directory.removeCompany(id), id)

    @ApproveCompany.responder
    def approveCompany(self, id):
        return self.done(lambda: self.directory.approveCompany(id), id)

    @SetCompany.responder
    def setCompany(self, id, retentionDays=None, autoAway=None, **given):
        changes = {key: value for key, value in given.items() if value is not None}
        if retentionDays is not None:
            changes["retentionDays"] = serverDefaultOr(retentionDays, lambda text: int(text))
        if autoAway is not None:
            away, xa = serverDefaultOr(autoAway, minutePair) or (None, None)
            changes.update(awayAfter=away, xaAfter=xa)
        if not changes:
            raise ValueError("nothing to change: give an option (see --help)")
        return self.done(lambda: self.directory.setCompany(id, **changes), id)

    @ListCompanies.responder
    def listCompanies(self):
        return {"lines": [
            "\t".join([c.id, c.name, ",".join(c.domains)]
                      + (["awaiting approval"] if not c.approved else [])
                      + (["own company only"] if c.ownCompanyOnly else []))
            for c in sorted(self.directory.companies.values(), key=lambda c: c.id)
        ]}

    @AddGroup.responder
    def addGroup(self, id, company, name, shared):
        return self.done(lambda: self.directory.addGroup(id, company, name, shared), id)

    @DeleteGroup.responder
    def deleteGroup(self, id):
        return self.done(lambda: self.directory.removeGroup(id), id)

    @ListGroups.responder
    def listGroups(self, company=None):
        groups = sorted(self.directory.groups.values(), key=lambda g: g.id)
        return {"lines": [
            f"{g.id}\t{g.company}\t{g.name}\t{'shared' if g.sharedRoster else 'not shared'}\t"
            + ",".join(g.members)
            for g in groups
            if company is None or g.company == company
        ]}

    @AddMember.responder
    def addMember(self, group, jid):
        return self.done(lambda: self.directory.addMember(group, self.accounts.prepare(jid)), jid)

    @DeleteMember.responder
    def deleteMember(self, group, jid):
        return self.done(lambda: self.directory.removeMember(group, self.accounts.prepare(jid)), jid)

    @AddSupporter.responder
    def addSupporter(self, company, jid, slug, name, position, group=None):
        return self.done(lambda: self.directory.addSupporter(
            company, self.accounts.prepare(jid), slug, name, position, group
        ), jid)

    @DeleteSupporter.responder
    def deleteSupporter(self, company, jid):
        return self.done(lambda: self.directory.removeSupporter(company, self.accounts.prepare(jid)), jid)

    @SetProfile.responder
    def setProfile(self, jid, **given):
        """
        What the web admin's user page changes: display name, enabled (a
        disabled account's sessions end), company admin.
        """
        changes = {key: value for key, value in given.items() if value is not None}
        if not changes:
            raise ValueError("nothing to change: give --name, --enabled or --admin")
        return self.done(lambda: self.directory.setProfile(self.accounts.prepare(jid), **changes), jid)

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
    def __init__(self, accounts, directory):
        self.accounts = accounts
        self.directory = directory

    def buildProtocol(self, addr):
        return ControlProtocol(self.accounts, self.directory)
