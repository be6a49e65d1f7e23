"""
Tests for L{openmessenger.directory}.
"""

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.directory import DirectoryError, defaultCompanyId, ensureDefaultCompany
from openmessenger.storage.memory import MemoryStore
from tests.helpers import FakeServer


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
        self.assertEqual(d.supportersOf("nobody"), [])

    def test_persisted(self):
        """
        What the directory says, storage has.
        """
        self.successResultOf(self.directory.addGroup("sales", "acme", "Sales"))
        self.successResultOf(self.directory.addMember("sales", "bob@example.com"))
        snapshot = self.successResultOf(self.server.store.loadDirectory())
        self.assertEqual([g.members for g in snapshot.groups], [("bob@example.com",)])

    def test_accountDeleted(self):
        """
        A deleted account leaves groups and support staff.
        """
        d = self.directory
        self.successResultOf(d.addGroup("sales", "acme", "Sales"))
        self.successResultOf(d.addMember("sales", "bob@example.com"))
        self.successResultOf(d.addSupporter("acme", "bob@example.com", "bob", "Bob"))
        self.successResultOf(self.server.core.accounts.delete("bob@example.com"))
        self.assertEqual((d.group("sales").members, d.supportersOf("acme")), ((), []))

    def test_removeCompany(self):
        """
        Removing a company removes its groups and supporters.
        """
        d = self.directory
        self.successResultOf(d.addGroup("sales", "acme", "Sales"))
        self.successResultOf(d.addSupporter("acme", "bob@example.com", "bob", "Bob"))
        self.successResultOf(d.removeCompany("acme"))
        self.assertEqual((d.companies, d.groups, d.supporters), ({}, {}, {}))


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
