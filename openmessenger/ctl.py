# -*- test-case-name: tests.test_ctl -*-
"""
C{openmessenger-ctl}: manage accounts from the command line.

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
from openmessenger.storage.interfaces import AccountExists, NoSuchAccount
from openmessenger.storage.sqlite import SQLiteStore, SynchronousPool
from openmessenger.xmpp.accounts import AccountManager
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
    user = areas.add_parser("user", help="manage user accounts")
    commands = user.add_subparsers(dest="command", required=True)
    for name, command, text in [
        ("add", control.AddUser, "create an account"),
        ("passwd", control.SetPassword, "change an account's password"),
    ]:
        sub = commands.add_parser(name, help=text)
        sub.add_argument("jid", help="user@domain")
        sub.add_argument("-p", "--password", help="the password (default: ask, or read stdin)")
        sub.set_defaults(amp=command)
    sub = commands.add_parser("del", help="delete an account and all its data")
    sub.add_argument("jid", help="user@domain")
    sub.set_defaults(amp=control.DeleteUser)
    sub = commands.add_parser("list", help="list accounts")
    sub.add_argument("domain", nargs="?", help="only this domain")
    sub.set_defaults(amp=control.ListUsers)
    return top


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
    if args.amp is control.ListUsers:
        return {"domain": args.domain} if args.domain else {}
    arguments = {"jid": args.jid}
    if args.amp in (control.AddUser, control.SetPassword):
        arguments["password"] = args.password or readPassword()
    return arguments


def directAccounts(config):
    """
    An L{AccountManager} over the database itself, for when no server runs.
    """
    os.makedirs(config.server.data_dir, mode=0o700, exist_ok=True)
    store = SQLiteStore(SynchronousPool(config.databasePath))
    store.migrate()
    sessions = SessionRegistry()
    rosters = RosterManager(store, sessions, lambda stanza: None)
    accounts = AccountManager(store, sessions, rosters, config.server.domain)
    accounts.load()
    return accounts


def runDirect(config, command, arguments):
    responder = control.ControlProtocol(directAccounts(config))
    method = {
        control.AddUser: responder.addUser,
        control.SetPassword: responder.setPassword,
        control.DeleteUser: responder.deleteUser,
        control.ListUsers: responder.listUsers,
    }[command]
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
    if "jids" in result:
        for jid in result["jids"]:
            print(jid, file=out)
    else:
        print(result["jid"], file=out)


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        config = configuration.loadConfig(args.config)
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
    if failure.check(amp.RemoteAmpError):
        raise SystemExit(f"openmessenger-ctl: {failure.value.description}")
    if failure.check(ValueError):
        raise SystemExit(f"openmessenger-ctl: {failure.value}")
    return failure
