# -*- test-case-name: tests.test_ctl -*-
"""
C{openmessenger-ctl}: manage accounts, companies, groups and support staff
from the command line.

While the server runs, commands go over its control socket and take effect
at once; otherwise they edit the database directly.
"""

import argparse
import getpass
import os
import sys

from twisted.internet import defer, endpoints, error, task
from twisted.internet.protocol import Factory
from twisted.protocols import amp
from twisted.python import usage

from openmessenger import config as configuration
from openmessenger import control
from openmessenger.directory import Directory, DirectoryError, ensureDefaultCompany
from openmessenger.storage.interfaces import AccountExists, NoSuchAccount
from openmessenger.storage.sqlite import SQLiteStore, UnusableDatabase, integrityProblems, openDatabase
from openmessenger.xmpp import events
from openmessenger.xmpp.accounts import AccountManager
from openmessenger.xmpp.localdomain import LocalDomain
from openmessenger.xmpp.router import Router
from openmessenger.xmpp.domains import ServedDomains
from openmessenger.xmpp.rosters import RosterManager
from openmessenger.xmpp.sessions import SessionRegistry


def parser():
    top = argparse.ArgumentParser(
        prog="openmessenger-ctl", description="Manage an OpenMessenger server."
    )
    top.add_argument(
        "-c", "--config", default="/etc/openmessenger/openmessenger.conf",
        help="configuration file (default: %(default)s)",
    )
    areas = top.add_subparsers(dest="area", required=True)

    def command(parent, name, remote, text, arguments, *options):
        sub = parent.add_parser(name, help=text)
        for flags, settings in options:
            sub.add_argument(*flags, **settings)
        sub.set_defaults(amp=remote, arguments=arguments)
        return sub

    jid = (("jid",), {"help": "user@domain"})
    password = (("-p", "--password"), {"help": "the password (default: ask, or read stdin)"})
    withPassword = lambda a: {"jid": a.jid, "password": a.password or readPassword()}  # noqa: E731

    yesNo = {"choices": ("yes", "no")}
    users = areas.add_parser("user", help="manage user accounts").add_subparsers(dest="command", required=True)
    command(users, "add", control.AddUser, "create an account", withPassword, jid, password)
    command(users, "passwd", control.SetPassword, "change an account's password", withPassword, jid, password)
    command(users, "del", control.DeleteUser, "delete an account and all its data",
            lambda a: {"jid": a.jid}, jid)
    command(users, "set", control.SetProfile,
            "change an account's profile (company admins manage their company on the web)",
            lambda a: {key: value for key, value in [
                ("jid", a.jid), ("displayName", a.name),
                ("enabled", None if a.enabled is None else a.enabled == "yes"),
                ("companyAdmin", None if a.admin is None else a.admin == "yes"),
            ] if value is not None},
            jid, (("--name",), {"help": "display name"}),
            (("--enabled",), dict(yesNo, help="no: log in no more (ends the sessions)")),
            (("--admin",), dict(yesNo, help="company admin in the web administration")))
    command(users, "list", control.ListUsers, "list accounts",
            lambda a: {"domain": a.domain} if a.domain else {},
            (("domain",), {"nargs": "?", "help": "only this domain"}))

    companies = areas.add_parser("company", help="manage companies").add_subparsers(dest="command", required=True)
    command(companies, "add", control.AddCompany, "create a company",
            lambda a: {"id": a.id, "name": a.name or a.id, "domains": a.domain},
            (("id",), {"help": "public ID: 2-32 of a-z, 0-9, -"}),
            (("--name",), {"help": "display name"}),
            (("--domain",), {"action": "append", "default": [],
                             "help": "a domain of [server] domain (repeatable); "
                                     "default: <id>.<[companies] base_domain>"}))
    command(companies, "approve", control.ApproveCompany, "approve a registered company (its users may log in)",
            lambda a: {"id": a.id}, (("id",), {}))
    command(companies, "del", control.DeleteCompany, "delete a company, its groups and supporters",
            lambda a: {"id": a.id}, (("id",), {}))
    command(companies, "set", control.SetCompany, "change a company's name or settings",
            lambda a: {key: value for key, value in [
                ("id", a.id), ("name", a.name),
                ("ownCompanyOnly", None if a.own_company_only is None else a.own_company_only == "yes"),
                ("iconSet", a.icon_set), ("retentionDays", a.retention_days), ("autoAway", a.auto_away),
            ] if value is not None},
            (("id",), {}), (("--name",), {"help": "display name"}),
            (("--own-company-only",), dict(yesNo, help="yes: its users exchange nothing with other companies")),
            (("--icon-set",), {"help": "the icon set the embed-code generator offers first"}),
            (("--retention-days",), {"metavar": "DAYS|default",
                                     "help": "keep visitor-chat transcripts this long (0: for ever)"}),
            (("--auto-away",), {"metavar": "AWAY,XA|default",
                                "help": "minutes of idleness before away and extended away, for users "
                                        "without their own"}))
    command(companies, "list", control.ListCompanies, "list companies", lambda a: {})

    groups = areas.add_parser("group", help="manage groups").add_subparsers(dest="command", required=True)
    command(groups, "add", control.AddGroup, "create a group",
            lambda a: {"id": a.id, "company": a.company, "name": a.name or a.id, "shared": not a.no_shared_roster},
            (("id",), {"help": "public ID"}), (("--company",), {"required": True}),
            (("--name",), {}), (("--no-shared-roster",), {"action": "store_true",
                                                         "help": "members do not see each other"}))
    command(groups, "del", control.DeleteGroup, "delete a group", lambda a: {"id": a.id}, (("id",), {}))
    command(groups, "list", control.ListGroups, "list groups",
            lambda a: {"company": a.company} if a.company else {}, (("company",), {"nargs": "?"}))
    members = groups.add_parser("member", help="group members").add_subparsers(dest="action", required=True)
    for name, action, text in [("add", control.AddMember, "add a member"),
                               ("del", control.DeleteMember, "remove a member")]:
        command(members, name, action, text, lambda a: {"group": a.group, "jid": a.jid}, (("group",), {}), jid)

    supporters = areas.add_parser("supporter", help="manage support staff").add_subparsers(dest="command", required=True)
    command(supporters, "add", control.AddSupporter, "designate support staff",
            lambda a: dict({"company": a.company, "jid": a.jid, "slug": a.slug or a.jid.partition("@")[0],
                            "name": a.name or "", "position": a.position},
                           **({"group": a.group} if a.group else {})),
            (("company",), {}), jid, (("--slug",), {"help": "in public URLs (default: the user name)"}),
            (("--name",), {"help": "shown to visitors"}), (("--position",), {"type": int, "default": 0}),
            (("--group",), {"help": "for this group's button"}))
    command(supporters, "del", control.DeleteSupporter, "remove from support staff",
            lambda a: {"company": a.company, "jid": a.jid}, (("company",), {}), jid)

    database = areas.add_parser("db", help="the database").add_subparsers(dest="command", required=True)
    database.add_parser("check", help="run SQLite's full integrity check (also while the server runs)"
                        ).set_defaults(local=checkDatabase)
    return top


def checkDatabase(config, out=sys.stdout):
    """
    C{db check}: the full integrity check; exit status 1 on any problem.
    """
    try:
        pool = openDatabase(config.databasePath)
    except UnusableDatabase as e:
        raise SystemExit(f"openmessenger-ctl: the database {config.databasePath} cannot be used: {e}")
    try:
        problems = integrityProblems(pool)
    finally:
        pool.close()
    if problems:
        raise SystemExit("openmessenger-ctl: the database is damaged:\n" + "\n".join(problems))
    print(f"{config.databasePath}: ok", file=out)


def readPassword(stdin=sys.stdin):
    """
    Ask for a password on a terminal (twice), or read one line from stdin.
    """
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise usage.UsageError("the passwords differ")
        return first
    return stdin.readline().rstrip("\r\n")


def commandArguments(args):
    """
    The AMP arguments of the command given on the command line.
    """
    return args.arguments(args)


def directAccounts(config):
    """
    An L{AccountManager} over the database itself, for when no server runs.
    """
    return directServer(config)[0]


def directServer(config):
    """
    The L{AccountManager} and L{Directory} over the database itself, for
    when no server runs (storage answers at once: nothing waits).
    """
    os.makedirs(config.server.data_dir, mode=0o700, exist_ok=True)
    store = SQLiteStore(openDatabase(config.databasePath))
    sessions = SessionRegistry()
    domains = ServedDomains(config.server.domain)
    router = Router()
    domain = LocalDomain(domains, sessions, router)
    rosters = RosterManager(store, sessions, router.route, domain.fire)
    accounts = AccountManager(store, sessions, rosters, domains, domain.fire)
    accounts.load()
    ensureDefaultCompany(store, config.server.domain)
    directory = Directory(store, accounts, domains, domain.fire, config.companies.base_domain)
    directory.load(store.loadDirectory().result)
    domain.listen(events.ACCOUNT_DELETED, directory.accountDeleted)
    return accounts, directory


def runDirect(config, command, arguments):
    responder = control.ControlProtocol(*directServer(config))
    name = command.commandName.decode("ascii")
    method = getattr(responder, name[0].lower() + name[1:])
    return defer.maybeDeferred(method, **arguments)


@defer.inlineCallbacks
def run(reactor, config, command, arguments):
    endpoint = endpoints.UNIXClientEndpoint(reactor, config.controlSocket)
    try:
        client = yield endpoint.connect(Factory.forProtocol(amp.AMP))
    except (error.ConnectError, OSError):
        result = yield runDirect(config, command, arguments)
    else:
        try:
            result = yield client.callRemote(command, **arguments)
        finally:
            client.transport.loseConnection()
    return result


def report(result, out=sys.stdout):
    for key in ("jids", "lines"):
        for line in result.get(key, ()):
            print(line, file=out)
    for key in ("jid", "done"):
        if key in result:
            print(result[key], file=out)


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        config = configuration.loadConfig(args.config)
        if getattr(args, "local", None):
            return args.local(config)
        arguments = commandArguments(args)
    except usage.UsageError as e:
        raise SystemExit(f"openmessenger-ctl: {e}")

    def go(reactor):
        d = run(reactor, config, args.amp, arguments)
        d.addCallback(report)
        d.addErrback(failed)
        return d

    task.react(go)


def failed(failure):
    known = {
        AccountExists: "this account exists already",
        NoSuchAccount: "there is no such account",
    }
    for kind, message in known.items():
        if failure.check(kind):
            raise SystemExit(f"openmessenger-ctl: {message}: {failure.value}")
    if failure.check(DirectoryError):
        raise SystemExit(f"openmessenger-ctl: {failure.value}")
    if failure.check(UnusableDatabase):
        raise SystemExit(f"openmessenger-ctl: the database cannot be used: {failure.value}")
    if failure.check(amp.RemoteAmpError):
        raise SystemExit(f"openmessenger-ctl: {failure.value.description}")
    if failure.check(ValueError):
        raise SystemExit(f"openmessenger-ctl: {failure.value}")
    return failure
