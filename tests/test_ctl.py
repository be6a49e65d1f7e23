"""
Tests for L{openmessenger.ctl} and L{openmessenger.control}.
"""

import io
import os
import tempfile

from twisted.protocols import amp
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase

from openmessenger import config, control, ctl
from openmessenger.storage.interfaces import AccountExists, NoSuchAccount
from tests.helpers import FakeServer


def makeConfig(extra=""):
    directory = tempfile.mkdtemp(prefix="om-ctl-")
    path = os.path.join(directory, "om.conf")
    with open(path, "w") as f:
        f.write("[server]\ndomain = example.com\ndata_dir = data\n" + extra)
    return config.loadConfig(path)


class DirectTests(SynchronousTestCase):
    def setUp(self):
        self.config = makeConfig()

    def direct(self, command, **arguments):
        return ctl.runDirect(self.config, command, arguments)

    def test_lifecycle(self):
        """
        With no server running, ctl creates, lists, re-keys and deletes
        accounts in the database file (creating the data directory).
        """
        self.successResultOf(self.direct(control.AddUser, jid="Alice@Example.com", password="pw"))
        self.assertEqual(os.stat(self.config.server.data_dir).st_mode & 0o777, 0o700)
        listed = self.successResultOf(self.direct(control.ListUsers))
        self.assertEqual(listed, {"jids": ["alice@example.com"]})
        self.successResultOf(self.direct(control.SetPassword, jid="alice@example.com", password="new"))
        accounts = ctl.directAccounts(self.config)
        credentials = self.successResultOf(accounts.getCredentials("alice@example.com"))
        from openmessenger.xmpp.sasl import checkPassword
        self.assertTrue(checkPassword(credentials, "new"))
        self.successResultOf(self.direct(control.DeleteUser, jid="alice@example.com"))
        self.assertEqual(self.successResultOf(self.direct(control.ListUsers)), {"jids": []})

    def test_databaseOwnerOnly(self):
        """
        The database ctl creates is the owner's alone.
        """
        self.successResultOf(self.direct(control.ListUsers))
        self.assertEqual(os.stat(self.config.databasePath).st_mode & 0o777, 0o600)

    def test_databaseCheck(self):
        """
        C{db check} says ok for a sound database, and names the problem
        (exit status 1) for one that is not.
        """
        from openmessenger.storage.sqlite import openDatabase

        out = io.StringIO()
        os.makedirs(self.config.server.data_dir)
        openDatabase(self.config.databasePath).close()
        ctl.checkDatabase(self.config, out)
        self.assertEqual(out.getvalue(), f"{self.config.databasePath}: ok\n")
        with open(self.config.databasePath, "r+b") as f:
            f.write(b"garbage!")
        error = self.assertRaises(SystemExit, ctl.main, ["--config", os.path.join(self.config.base, "om.conf"),
                                                         "db", "check"])
        self.assertIn("not an SQLite database", str(error))

    def test_errors(self):
        """
        Duplicates, unknown users, foreign domains and empty passwords fail
        with their own errors.
        """
        self.successResultOf(self.direct(control.AddUser, jid="a@example.com", password="pw"))
        self.failureResultOf(self.direct(control.AddUser, jid="a@example.com", password="pw"), AccountExists)
        self.failureResultOf(self.direct(control.DeleteUser, jid="b@example.com"), NoSuchAccount)
        self.failureResultOf(self.direct(control.AddUser, jid="b@example.org", password="pw"), ValueError)
        self.failureResultOf(self.direct(control.AddUser, jid="b@example.com", password=""), ValueError)
        self.failureResultOf(self.direct(control.AddUser, jid="example.com", password="pw"), ValueError)


class CommandLineTests(SynchronousTestCase):
    def test_arguments(self):
        """
        Options may come before or after the address.
        """
        args = ctl.parser().parse_args(["-c", "x.conf", "user", "add", "a@b", "--password", "p"])
        self.assertEqual(ctl.commandArguments(args), {"jid": "a@b", "password": "p"})
        args = ctl.parser().parse_args(["user", "list", "example.com"])
        self.assertEqual(ctl.commandArguments(args), {"domain": "example.com"})
        args = ctl.parser().parse_args(["company", "set", "acme", "--own-company-only", "no"])
        self.assertEqual(ctl.commandArguments(args), {"id": "acme", "ownCompanyOnly": False})
        args = ctl.parser().parse_args(["user", "set", "a@b", "--admin", "yes", "--enabled", "no"])
        self.assertEqual(ctl.commandArguments(args), {"jid": "a@b", "companyAdmin": True, "enabled": False})
        args = ctl.parser().parse_args(["company", "set", "acme", "--icon-set", "dot", "--retention-days", "default",
                                        "--auto-away", "5,30"])
        self.assertEqual(ctl.commandArguments(args),
                         {"id": "acme", "iconSet": "dot", "retentionDays": "default", "autoAway": "5,30"})
        args = ctl.parser().parse_args(["company", "add", "acme"])
        self.assertEqual(ctl.commandArguments(args), {"id": "acme", "name": "acme", "domains": []})

    def test_passwordFromStdin(self):
        """
        Without C{--password}, a piped password is read from stdin.
        """
        self.assertEqual(ctl.readPassword(io.StringIO("s3cret\n")), "s3cret")

    def test_report(self):
        """
        Lists print one address per line; other commands print the address.
        """
        out = io.StringIO()
        ctl.report({"jids": ["a@b", "c@d"]}, out)
        ctl.report({"jid": "e@f"}, out)
        self.assertEqual(out.getvalue(), "a@b\nc@d\ne@f\n")


class ControlChannelTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        self.server.addUser("alice@example.com")
        factory = control.ControlFactory(self.server.core.accounts, self.server.core.directory)
        self.client, self.serverProtocol, self.pump = iosim.connectedServerAndClient(
            lambda: factory.buildProtocol(None), amp.AMP
        )

    def call(self, command, **arguments):
        """
        Call a command and return its result, or its L{Failure}.  (AMP calls
        an error unhandled if no errback is there when the answer arrives.)
        """
        results = []
        self.client.callRemote(command, **arguments).addBoth(results.append)
        self.pump.flush()
        return results[0]

    def test_deleteEndsSessions(self):
        """
        Deleting a user over the control channel ends their sessions at once.
        """
        alice = self.server.login("alice@example.com")
        self.assertEqual(self.call(control.DeleteUser, jid="alice@example.com"), {"jid": "alice@example.com"})
        self.assertEqual(alice.streamError(), "not-authorized")
        self.assertFalse(self.server.core.accounts.exists("alice@example.com"))

    def test_addedUserExistsAtOnce(self):
        """
        A user added over the control channel can log in at once.
        """
        self.assertEqual(self.call(control.AddUser, jid="bob@example.com", password="pencil"), {"jid": "bob@example.com"})
        self.assertEqual(self.server.login("bob@example.com").jid, "bob@example.com/test")

    def test_errorsCrossTheWire(self):
        """
        Errors arrive at ctl as the same exceptions.
        """
        self.assertTrue(self.call(control.AddUser, jid="alice@example.com", password="x").check(AccountExists))
        failure = self.call(control.AddUser, jid="x@nowhere.example", password="x")
        self.assertTrue(failure.check(ValueError))
        self.assertIn("not a domain served here", str(failure.value))
        # A directory error whose text has braces (from what was asked)
        # arrives as that text.
        failure = self.call(control.DeleteGroup, id="{x}")
        self.assertTrue(failure.check(control.DirectoryError))
        self.assertEqual(str(failure.value), "there is no group '{x}'")

    def test_setProfile(self):
        """
        ctl makes a user company admin and disables an account, which ends
        its sessions at once; a call that changes nothing is an error.
        """
        alice = self.server.login("alice@example.com")
        self.call(control.SetProfile, jid="Alice@example.com", companyAdmin=True, displayName="Alice A.")
        profile = self.server.core.directory.profile("alice@example.com")
        self.assertEqual((profile.companyAdmin, profile.displayName, profile.enabled), (True, "Alice A.", True))
        self.call(control.SetProfile, jid="alice@example.com", enabled=False)
        self.assertEqual(alice.streamError(), "not-authorized")
        self.assertTrue(self.server.core.directory.profile("alice@example.com").companyAdmin)
        self.assertTrue(self.call(control.SetProfile, jid="alice@example.com").check(ValueError))
        self.assertTrue(self.call(control.SetProfile, jid="nobody@example.com", enabled=True).check(control.DirectoryError))

    def test_deletePushesRemoval(self):
        """
        Deleting a user pushes its removal to contacts that are online.
        """
        self.server.addUser("bob@example.com")
        bob = self.server.login("bob@example.com")
        bob.send("<iq type='set' id='s'><query xmlns='jabber:iq:roster'><item jid='alice@example.com'/></query></iq>")
        bob.read()
        self.call(control.DeleteUser, jid="alice@example.com")
        (push,) = bob.read()
        item = push.query.firstChildElement()
        self.assertEqual((item["jid"], item["subscription"]), ("alice@example.com", "remove"))


class DirectoryCommandTests(SynchronousTestCase):
    def setUp(self):
        self.config = makeConfig()
        for user in ["alice@example.com", "bob@example.com"]:
            self.successResultOf(ctl.runDirect(self.config, control.AddUser, {"jid": user, "password": "pw"}))

    def run_(self, command, **arguments):
        return ctl.runDirect(self.config, command, arguments)

    def test_companyGroupSupporter(self):
        """
        Without a server, ctl manages companies, groups, members and support
        staff in the database; the default company owns the domain.
        """
        listed = self.successResultOf(self.run_(control.ListCompanies))["lines"]
        self.assertEqual(listed, ["example-com\texample.com\texample.com"])
        self.successResultOf(self.run_(control.AddGroup, id="sales", company="example-com", name="Sales", shared=True))
        self.successResultOf(self.run_(control.AddMember, group="sales", jid="Alice@Example.com"))
        self.successResultOf(self.run_(control.AddSupporter, company="example-com", jid="alice@example.com",
                                       slug="alice", name="Alice", position=1, group="sales"))
        groups = self.successResultOf(self.run_(control.ListGroups))["lines"]
        self.assertEqual(groups, ["sales\texample-com\tSales\tshared\talice@example.com"])
        failure = self.failureResultOf(self.run_(control.AddMember, group="nope", jid="bob@example.com"))
        self.assertIn("no group", str(failure.value))

    def test_setCompany(self):
        """
        ctl renames a company and keeps its users to themselves; the list
        shows it.
        """
        self.successResultOf(self.run_(control.SetCompany, id="example-com", name="Example", ownCompanyOnly=True))
        listed = self.successResultOf(self.run_(control.ListCompanies))["lines"]
        self.assertEqual(listed, ["example-com\tExample\texample.com\town company only"])
        self.failureResultOf(self.run_(control.SetCompany, id="example-com"), ValueError)
        self.failureResultOf(self.run_(control.SetCompany, id="nope", ownCompanyOnly=False), control.DirectoryError)

    def test_companySettings(self):
        """
        ctl sets a company's icon set, retention and auto-away defaults, and
        "default" gives them back to the server's settings.
        """
        self.successResultOf(self.run_(control.SetCompany, id="example-com", iconSet="dot",
                                       retentionDays="30", autoAway="5,30"))
        _, directory = ctl.directServer(self.config)
        company = directory.company("example-com")
        self.assertEqual((company.iconSet, company.retentionDays, company.awayAfter, company.xaAfter),
                         ("dot", 30, 300, 1800))
        self.successResultOf(self.run_(control.SetCompany, id="example-com", retentionDays="default",
                                       autoAway="default"))
        company = ctl.directServer(self.config)[1].company("example-com")
        self.assertEqual((company.retentionDays, company.awayAfter), (None, None))
        for bad in [{"retentionDays": "soon"}, {"autoAway": "5"}, {"iconSet": "rainbow"}]:
            self.failureResultOf(self.run_(control.SetCompany, id="example-com", **bad), ValueError)

    def test_automaticDomainAndApproval(self):
        """
        With a base domain, a company added without domains gets its own;
        the list shows one awaiting approval until ctl approves it.
        """
        self.config = makeConfig("[companies]\nbase_domain = chat.example.com\n")
        self.successResultOf(self.run_(control.AddCompany, id="acme", name="ACME", domains=[]))
        listed = self.successResultOf(self.run_(control.ListCompanies))["lines"]
        self.assertIn("acme\tACME\tacme.chat.example.com", listed)
        self.successResultOf(self.run_(control.AddUser, jid="boss@acme.chat.example.com", password="pw"))
        _, directory = ctl.directServer(self.config)
        self.successResultOf(directory.addCompany("beta", "Beta", approved=False))
        listed = self.successResultOf(self.run_(control.ListCompanies))["lines"]
        self.assertIn("beta\tBeta\tbeta.chat.example.com\tawaiting approval", listed)
        self.successResultOf(self.run_(control.ApproveCompany, id="beta"))
        self.assertIn("beta\tBeta\tbeta.chat.example.com", self.successResultOf(self.run_(control.ListCompanies))["lines"])
        failure = self.failureResultOf(self.run_(control.ApproveCompany, id="beta"), control.DirectoryError)
        self.assertIn("approved already", str(failure.value))

    def test_setProfile(self):
        """
        Without a server, ctl writes the profile to the database, where the
        next start finds it.
        """
        self.successResultOf(self.run_(control.SetProfile, jid="bob@example.com", companyAdmin=True))
        _, directory = ctl.directServer(self.config)
        self.assertTrue(directory.profile("bob@example.com").companyAdmin)
