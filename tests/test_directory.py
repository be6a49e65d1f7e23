"""
Tests for L{openmessenger.directory}.
"""

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.directory import DirectoryError, defaultCompanyId, ensureDefaultCompany
from openmessenger.storage.memory import MemoryStore
from tests.helpers import FakeServer, HeldStore


class DirectoryTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer(domains=("example.com", "example.org", "example.net"))
        for user in ["alice@example.com", "bob@example.com", "carol@example.org"]:
            self.server.addUser(user)
        self.directory = self.server.core.directory
        self.successResultOf(self.directory.addCompany("acme", "ACME", ["example.com"]))

    def fails(self, d, words):
        failure = self.failureResultOf(d, DirectoryError)
        self.assertIn(words, str(failure.value))

    def test_idsShareOneNamespace(self):
        """
        Company and group IDs are checked and unique across both.
        """
        self.fails(self.directory.addGroup("acme", "acme", "Clash"), "taken")
        self.fails(self.directory.addCompany("Bad_ID", "x", []), "IDs are")
        self.fails(self.directory.addCompany("a", "x", []), "IDs are")
        self.successResultOf(self.directory.addGroup("sales", "acme", "Sales"))
        self.fails(self.directory.addCompany("sales", "x", []), "taken")

    def test_domainBelongsToOneCompany(self):
        """
        A domain belongs to one company, and must be served here.
        """
        self.fails(self.directory.addCompany("other", "Other", ["example.com"]), "belongs to acme")
        self.fails(self.directory.addCompany("other", "Other", ["elsewhere.example"]), "not a domain served here")
        self.successResultOf(self.directory.addCompany("other", "Other", ["example.org"]))
        self.assertEqual(self.directory.companyOf("carol@example.org").id, "other")

    def test_membersAreTheCompanysUsers(self):
        """
        Only existing users of the company's domains can be members.
        """
        self.successResultOf(self.directory.addGroup("sales", "acme", "Sales"))
        self.fails(self.directory.addMember("sales", "carol@example.org"), "not a user of acme")
        self.fails(self.directory.addMember("sales", "ghost@example.com"), "no account")
        self.successResultOf(self.directory.addMember("sales", "alice@example.com"))
        self.assertEqual(self.directory.group("sales").members, ("alice@example.com",))

    def test_supporters(self):
        """
        Supporters come in position order; slugs are unique per company; a
        group's supporters must be its members; disabled users are hidden.
        """
        d = self.directory
        self.successResultOf(d.addGroup("sales", "acme", "Sales"))
        self.successResultOf(d.addMember("sales", "alice@example.com"))
        self.successResultOf(d.addSupporter("acme", "bob@example.com", "bob", "Bob", 2))
        self.successResultOf(d.addSupporter("acme", "alice@example.com", "alice", "Alice", 1, "sales"))
        self.assertEqual([s.slug for s in d.supportersOf("acme")], ["alice", "bob"])
        self.assertEqual([s.slug for s in d.supportersOf("sales")], ["alice"])
        self.fails(d.addSupporter("acme", "alice@example.com", "bob", "X"), "taken")
        self.fails(d.addSupporter("acme", "bob@example.com", "b2", "X", 0, "sales"), "not a member")
        self.successResultOf(d.setProfile("bob@example.com", enabled=False))
        self.assertEqual([s.slug for s in d.supportersOf("acme")], ["alice"])
        self.assertEqual(d.supportersOf("nobody"), ())

    def test_publicStaffKeptUntilChange(self):
        """
        The public support staff of an ID are worked out once (a status
        button asks on every request), and again after any change.
        """
        d = self.directory
        self.successResultOf(d.addSupporter("acme", "bob@example.com", "bob", "Bob"))
        computed = []
        original = d.designated
        self.patch(d, "designated", lambda owner: computed.append(owner.id) or original(owner))
        for _ in range(3):
            self.assertEqual([s.slug for s in d.supportersOf("acme")], ["bob"])
        self.assertEqual(computed, ["acme"])
        self.successResultOf(d.addSupporter("acme", "alice@example.com", "alice", "Alice", -1))
        self.assertEqual([s.slug for s in d.supportersOf("acme")], ["alice", "bob"])
        self.successResultOf(self.server.core.accounts.delete("alice@example.com"))
        self.assertEqual([s.slug for s in d.supportersOf("acme")], ["bob"])
        self.successResultOf(d.setCompany("acme", approved=False))
        self.assertEqual(d.supportersOf("acme"), ())

    def test_persisted(self):
        """
        What the directory says, storage has.
        """
        self.successResultOf(self.directory.addGroup("sales", "acme", "Sales"))
        self.successResultOf(self.directory.addMember("sales", "bob@example.com"))
        snapshot = self.successResultOf(self.server.store.loadDirectory())
        self.assertEqual([g.members for g in snapshot.groups], [("bob@example.com",)])

    def test_groupsOf(self):
        """
        A user's groups follow every change: members added and removed, a
        rename, a deleted group, a deleted account, a reload.
        """
        d = self.directory
        self.successResultOf(d.addGroup("sales", "acme", "Sales"))
        self.successResultOf(d.addGroup("ops", "acme", "Ops"))
        self.successResultOf(d.setMembers("sales", ["alice@example.com", "bob@example.com"]))
        self.successResultOf(d.addMember("ops", "alice@example.com"))
        self.successResultOf(d.renameGroup("ops", "Operations", True))
        groups = lambda user: [(g.id, g.name) for g in d.groupsOf(user)]  # noqa: E731
        self.assertEqual(groups("alice@example.com"), [("ops", "Operations"), ("sales", "Sales")])
        self.successResultOf(d.removeMember("sales", "alice@example.com"))
        self.assertEqual(groups("alice@example.com"), [("ops", "Operations")])
        self.successResultOf(d.removeGroup("ops"))
        self.assertEqual(groups("alice@example.com"), [])
        d.load(self.successResultOf(self.server.store.loadDirectory()))
        self.assertEqual(groups("bob@example.com"), [("sales", "Sales")])
        self.successResultOf(self.server.core.accounts.delete("bob@example.com"))
        self.assertEqual((groups("bob@example.com"), d.group("sales").members), ([], ()))

    def test_accountDeleted(self):
        """
        A deleted account leaves groups and support staff.
        """
        d = self.directory
        self.successResultOf(d.addGroup("sales", "acme", "Sales"))
        self.successResultOf(d.addMember("sales", "bob@example.com"))
        self.successResultOf(d.addSupporter("acme", "bob@example.com", "bob", "Bob"))
        self.successResultOf(self.server.core.accounts.delete("bob@example.com"))
        self.assertEqual((d.group("sales").members, d.supportersOf("acme")), ((), ()))

    def test_idTakenWhileBeingStored(self):
        """
        While a new company is being stored, its ID is taken already: two
        requests at once cannot both have it.  A failed write frees it.
        """
        store = HeldStore()
        directory = FakeServer(domains=("example.com", "example.org"), store=store).core.directory
        first = directory.addCompany("acme", "ACME", ["example.com"])
        self.fails(directory.addCompany("acme", "Other", ["example.org"]), "taken")
        store.held.pop().callback(None)
        self.assertEqual(self.successResultOf(first).name, "ACME")
        failing = directory.addCompany("beta", "Beta", ["example.org"])
        store.held.pop().errback(OSError("disk full"))
        self.failureResultOf(failing, OSError)
        self.assertNotIn("beta", directory.reserved)

    def test_removeCompany(self):
        """
        Removing a company removes its groups and supporters.
        """
        d = self.directory
        self.successResultOf(d.addGroup("sales", "acme", "Sales"))
        self.successResultOf(d.addSupporter("acme", "bob@example.com", "bob", "Bob"))
        self.successResultOf(d.removeCompany("acme"))
        self.assertEqual((d.companies, d.groups, d.staff), ({}, {}, {}))


class DefaultCompanyTests(SynchronousTestCase):
    def test_firstStart(self):
        """
        A new install gets one company owning the configured domains, once.
        """
        store = MemoryStore()
        company = ensureDefaultCompany(store, ("chat.example.com", "example.org"))
        self.assertEqual((company.id, company.domains), ("chat-example-com", ("chat.example.com", "example.org")))
        self.assertIsNone(ensureDefaultCompany(store, ("chat.example.com",)))
        self.assertEqual(defaultCompanyId("localhost"), "localhost")


class CompanyDomainTests(SynchronousTestCase):
    """
    Companies with automatic domains (C{<id>.<base domain>}) and approval.
    """

    def setUp(self):
        self.server = FakeServer(domains=("example.com",),
                                 extra="[companies]\nbase_domain = chat.example.com\n")
        self.core = self.server.core
        self.directory = self.core.directory

    def test_automaticDomainIsServedAtOnce(self):
        """
        A company added without domains gets its own, served at once: its
        users can be created and log in, and stanzas reach them.
        """
        company = self.successResultOf(self.directory.addCompany("acme", "ACME"))
        self.assertEqual(company.domains, ("acme.chat.example.com",))
        self.assertIn("acme.chat.example.com", self.core.domains)
        self.assertIn("visitors.acme.chat.example.com", self.core.router.routes)
        self.server.addUser("alice@acme.chat.example.com")
        self.server.addUser("bob@example.com")
        alice = self.server.login("alice@acme.chat.example.com")
        bob = self.server.login("bob@example.com")
        bob.send("<message to='alice@acme.chat.example.com' type='chat'><body>hi</body></message>")
        self.assertEqual(alice.read()[0].body.children, ["hi"])

    def test_onlyConfiguredOrOwnDomains(self):
        """
        A company may not take another company's automatic domain or any
        unconfigured one.
        """
        self.fails(self.directory.addCompany("acme", "ACME", ["beta.chat.example.com"]), "not a domain served")
        self.fails(self.directory.addCompany("acme", "ACME", ["chat.example.com"]), "not a domain served")
        self.successResultOf(self.directory.addCompany("acme", "ACME", ["acme.chat.example.com"]))

    def test_noBaseDomain(self):
        """
        Without a base domain, a company needs a configured domain.
        """
        directory = FakeServer(domains=("example.com",)).core.directory
        self.fails(directory.addCompany("acme", "ACME"), "name a domain")

    def fails(self, d, words):
        self.assertIn(words, str(self.failureResultOf(d, DirectoryError).value))

    def test_removedWithItsAccounts(self):
        """
        Removing a company with an automatic domain deletes its accounts and
        stops serving the domain; stanzas to it bounce.
        """
        self.successResultOf(self.directory.addCompany("acme", "ACME"))
        self.server.addUser("alice@acme.chat.example.com")
        self.server.addUser("bob@example.com")
        alice = self.server.login("alice@acme.chat.example.com")
        self.successResultOf(self.directory.removeCompany("acme"))
        self.assertEqual(alice.streamError(), "not-authorized")
        self.assertFalse(self.core.accounts.exists("alice@acme.chat.example.com"))
        self.assertNotIn("acme.chat.example.com", self.core.domains)
        self.assertNotIn("visitors.acme.chat.example.com", self.core.router.routes)
        bob = self.server.login("bob@example.com")
        bob.send("<message id='m' to='alice@acme.chat.example.com' type='chat'><body>hi</body></message>")
        error = bob.read()[0]
        self.assertEqual((error["type"], error.error.firstChildElement().name),
                         ("error", "remote-server-not-found"))

    def test_awaitingApproval(self):
        """
        Until approved, a registered company's users cannot log in and its
        public ID resolves to nothing; approval changes both.
        """
        self.successResultOf(self.directory.addCompany("acme", "ACME", approved=False))
        self.server.addUser("boss@acme.chat.example.com")
        self.successResultOf(self.directory.addGroup("sales", "acme", "Sales"))
        client = self.server.client()
        client.startTLS()
        failure = client.authenticate("boss@acme.chat.example.com")
        self.assertEqual(failure.firstChildElement().name, "account-disabled")
        self.assertEqual((self.directory.resolve("acme"), self.directory.resolve("sales")), (None, None))
        self.successResultOf(self.directory.approveCompany("acme"))
        self.fails(self.directory.approveCompany("acme"), "approved already")
        self.assertEqual(self.directory.resolve("sales").id, "sales")
        self.server.login("boss@acme.chat.example.com")
        snapshot = self.successResultOf(self.server.store.loadDirectory())
        self.assertTrue(snapshot.companies[0].approved)

    def test_settings(self):
        """
        A company's icon set, retention and auto-away defaults are checked;
        its users without intervals of their own get its auto-away ones.
        """
        d = self.directory
        self.successResultOf(d.addCompany("acme", "ACME"))
        self.server.addUser("alice@acme.chat.example.com")
        self.fails(d.setCompany("acme", iconSet="rainbow"), "icon sets are")
        self.fails(d.setCompany("acme", retentionDays=-1), "36500")
        self.fails(d.setCompany("acme", awayAfter=600, xaAfter=300), "auto-away")
        self.fails(d.setCompany("acme", awayAfter=600), "auto-away")
        autoaway = self.core.autoaway
        self.assertEqual(autoaway.intervals("alice@acme.chat.example.com"), (300, 1800))
        self.successResultOf(d.setCompany("acme", iconSet="dot", retentionDays=30, awayAfter=120, xaAfter=600))
        self.assertEqual(autoaway.intervals("alice@acme.chat.example.com"), (120, 600))
        self.assertEqual(self.successResultOf(autoaway.storedIntervals("alice@acme.chat.example.com")), (120, 600))
        self.successResultOf(autoaway.setIntervals("alice@acme.chat.example.com", 60, 120))
        self.assertEqual(autoaway.intervals("alice@acme.chat.example.com"), (60, 120))
        company = self.successResultOf(self.server.store.loadDirectory()).companies[0]
        self.assertEqual((company.iconSet, company.retentionDays, company.awayAfter, company.xaAfter),
                         ("dot", 30, 120, 600))
