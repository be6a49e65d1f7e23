"""
Tests for the storage backends: one set of behaviour tests, applied to
L{MemoryStore} and L{SQLiteStore}.
"""

import os
import shutil
import sqlite3
import tempfile

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from openmessenger.storage import interfaces
from openmessenger.storage.interfaces import (
    AccountExists,
    Company,
    Credentials,
    Group,
    Profile,
    Transcript,
    Supporter,
    LastActivity,
    NoSuchAccount,
    RosterItem,
    ScramKeys,
)
from openmessenger.storage.memory import MemoryStore
from openmessenger.storage.sqlite import (
    SCHEMA_VERSION,
    SQLiteStore,
    SynchronousPool,
    UnusableDatabase,
    integrityProblems,
    openDatabase,
    schemaSteps,
)

CREDENTIALS = Credentials({"SCRAM-SHA-1": ScramKeys(b"salt", b"stored", b"server", 4096)})
OTHER = Credentials({"SCRAM-SHA-256": ScramKeys(b"s2", b"k2", b"v2", 8192)})


class StorageTestsMixin:
    """
    Behaviour every backend shares.  C{self.store} is set by C{setUp}.
    """

    def result(self, d):
        return self.successResultOf(d)

    def createAlice(self):
        self.result(self.store.createAccount("alice@example.com", CREDENTIALS))

    def test_interfaces(self):
        """
        The store provides every storage interface.
        """
        for interface in [interfaces.IAccountStore, interfaces.IRosterStore,
                          interfaces.IOfflineStore, interfaces.ILastActivityStore,
                          interfaces.ISettingsStore, interfaces.IDocumentStore,
                          interfaces.IBlockStore, interfaces.IDirectoryStore,
                          interfaces.ITranscriptStore]:
            verifyObject(interface, self.store)

    def test_accounts(self):
        """
        Accounts are created once, read back, changed and listed by domain.
        """
        self.createAlice()
        self.result(self.store.createAccount("bob@example.org", CREDENTIALS))
        self.failureResultOf(self.store.createAccount("alice@example.com", OTHER), AccountExists)
        self.assertEqual(self.result(self.store.getCredentials("alice@example.com")), CREDENTIALS)
        self.assertIsNone(self.result(self.store.getCredentials("nobody@example.com")))
        self.result(self.store.setCredentials("alice@example.com", OTHER))
        self.assertEqual(self.result(self.store.getCredentials("alice@example.com")), OTHER)
        self.failureResultOf(self.store.setCredentials("nobody@example.com", OTHER), NoSuchAccount)
        self.assertEqual(self.result(self.store.listAccounts()), ["alice@example.com", "bob@example.org"])
        self.assertEqual(self.result(self.store.listAccounts("example.org")), ["bob@example.org"])

    def test_listByDomainIsExact(self):
        """
        Listing a domain does not match other domains by pattern characters.
        """
        self.result(self.store.createAccount("a@ex_mple.com", CREDENTIALS))
        self.result(self.store.createAccount("b@exymple.com", CREDENTIALS))
        self.assertEqual(self.result(self.store.listAccounts("ex_mple.com")), ["a@ex_mple.com"])

    def test_roster(self):
        """
        Items are stored whole, replaced, removed, and every change bumps the
        version.
        """
        self.createAlice()
        empty = self.result(self.store.getRoster("alice@example.com"))
        self.assertEqual((empty.items, empty.pendingIn, empty.version), ({}, (), 0))
        item = RosterItem("bob@example.com", "Bob", ("Friends", "Work"), "both", True, True)
        v1 = self.result(self.store.setItem("alice@example.com", item))
        self.assertEqual(self.result(self.store.getItem("alice@example.com", "bob@example.com")), item)
        renamed = item.evolve(name="Robert", groups=())
        v2 = self.result(self.store.setItem("alice@example.com", renamed))
        roster = self.result(self.store.getRoster("alice@example.com"))
        self.assertEqual(roster.items, {"bob@example.com": renamed})
        self.assertEqual(roster.version, v2)
        self.assertLess(v1, v2)
        v3 = self.result(self.store.removeItem("alice@example.com", "bob@example.com"))
        self.assertLess(v2, v3)
        self.assertIsNone(self.result(self.store.getItem("alice@example.com", "bob@example.com")))

    def test_pending(self):
        """
        Pending inbound requests are kept apart from items and cleared by
        removing the contact.
        """
        self.createAlice()
        self.result(self.store.setPendingIn("alice@example.com", "bob@example.com", True))
        self.result(self.store.setPendingIn("alice@example.com", "carol@example.com", True))
        self.result(self.store.setPendingIn("alice@example.com", "carol@example.com", False))
        roster = self.result(self.store.getRoster("alice@example.com"))
        self.assertEqual((roster.items, roster.pendingIn), ({}, ("bob@example.com",)))
        self.result(self.store.removeItem("alice@example.com", "bob@example.com"))
        self.assertEqual(self.result(self.store.getRoster("alice@example.com")).pendingIn, ())

    def test_noDataForMissingAccounts(self):
        """
        Writing data of an account that does not exist fails.
        """
        for d in [
            self.store.setItem("ghost@example.com", RosterItem("a@b")),
            self.store.setPendingIn("ghost@example.com", "a@b", True),
            self.store.storeMessage("ghost@example.com", "<message/>", 1.0, 10),
            self.store.setLastActivity("ghost@example.com", LastActivity(1.0)),
        ]:
            self.failureResultOf(d, NoSuchAccount)

    def test_offline(self):
        """
        Offline messages come back oldest first, up to the limit, and stay
        until deleted by id.
        """
        self.createAlice()
        for n in range(3):
            stored = self.result(self.store.storeMessage("alice@example.com", f"<m n='{n}'/>", 10.0 + n, 3))
            self.assertTrue(stored)
        self.assertFalse(self.result(self.store.storeMessage("alice@example.com", "<m/>", 20.0, 3)))
        rows = self.result(self.store.getMessages("alice@example.com"))
        self.assertEqual(
            [(text, stamp) for _, text, stamp in rows],
            [("<m n='0'/>", 10.0), ("<m n='1'/>", 11.0), ("<m n='2'/>", 12.0)],
        )
        self.assertEqual(self.result(self.store.getMessages("alice@example.com")), rows)
        self.result(self.store.deleteMessages("alice@example.com", [rows[0][0], rows[2][0]]))
        self.assertEqual(self.result(self.store.getMessages("alice@example.com")), [rows[1]])
        self.result(self.store.deleteMessages("alice@example.com", [rows[1][0]]))
        self.assertEqual(self.result(self.store.getMessages("alice@example.com")), [])

    def test_lastActivity(self):
        """
        The last activity is replaced by newer records.
        """
        self.createAlice()
        self.assertIsNone(self.result(self.store.getLastActivity("alice@example.com")))
        self.result(self.store.setLastActivity("alice@example.com", LastActivity(5.0, "bye")))
        self.result(self.store.setLastActivity("alice@example.com", LastActivity(7.0, "")))
        self.assertEqual(self.result(self.store.getLastActivity("alice@example.com")), LastActivity(7.0, ""))

    def test_autoAwaySettings(self):
        """
        Auto-away intervals are per user, replaced, and gone with the account.
        """
        self.createAlice()
        self.assertIsNone(self.result(self.store.getAutoAway("alice@example.com")))
        self.result(self.store.setAutoAway("alice@example.com", 60, 600))
        self.result(self.store.setAutoAway("alice@example.com", 120, 900))
        self.assertEqual(self.result(self.store.getAutoAway("alice@example.com")), (120, 900))
        self.failureResultOf(self.store.setAutoAway("ghost@example.com", 1, 2), NoSuchAccount)
        self.result(self.store.deleteAccount("alice@example.com"))
        self.result(self.store.createAccount("alice@example.com", CREDENTIALS))
        self.assertIsNone(self.result(self.store.getAutoAway("alice@example.com")))

    def test_documents(self):
        """
        Documents are kept per user and key, replaced and removed.
        """
        self.createAlice()
        self.assertIsNone(self.result(self.store.getDocument("alice@example.com", "vcard-temp")))
        self.result(self.store.setDocument("alice@example.com", "vcard-temp", "<vCard/>"))
        self.result(self.store.setDocument("alice@example.com", "private x", "<x/>"))
        self.result(self.store.setDocument("alice@example.com", "vcard-temp", "<vCard><FN>A</FN></vCard>"))
        self.assertEqual(self.result(self.store.getDocument("alice@example.com", "vcard-temp")),
                         "<vCard><FN>A</FN></vCard>")
        self.result(self.store.setDocument("alice@example.com", "private x", None))
        self.assertIsNone(self.result(self.store.getDocument("alice@example.com", "private x")))
        self.failureResultOf(self.store.setDocument("ghost@example.com", "k", "<x/>"), NoSuchAccount)

    def test_blocking(self):
        """
        Block lists add, remove and empty.
        """
        self.createAlice()
        self.result(self.store.block("alice@example.com", ["b@x", "a@x"]))
        self.result(self.store.block("alice@example.com", ["a@x", "c@x"]))
        self.assertEqual(self.result(self.store.getBlocked("alice@example.com")), ["a@x", "b@x", "c@x"])
        self.result(self.store.unblock("alice@example.com", ["b@x"]))
        self.assertEqual(self.result(self.store.getBlocked("alice@example.com")), ["a@x", "c@x"])
        self.assertEqual(self.result(self.store.allBlockLists()), {"alice@example.com": {"a@x", "c@x"}})
        self.result(self.store.unblock("alice@example.com"))
        self.assertEqual(self.result(self.store.getBlocked("alice@example.com")), [])
        self.assertEqual(self.result(self.store.allBlockLists()), {})

    def test_deleteAccount(self):
        """
        Deleting an account removes its data and its items in other rosters,
        and reports whose rosters held it.
        """
        self.createAlice()
        self.result(self.store.createAccount("bob@example.com", CREDENTIALS))
        self.result(self.store.createAccount("carol@example.com", CREDENTIALS))
        self.result(self.store.setItem("alice@example.com", RosterItem("bob@example.com")))
        self.result(self.store.setItem("bob@example.com", RosterItem("alice@example.com")))
        self.result(self.store.setItem("carol@example.com", RosterItem("alice@example.com")))
        self.result(self.store.setPendingIn("bob@example.com", "alice@example.com", True))
        self.result(self.store.storeMessage("alice@example.com", "<m/>", 1.0, 10))
        self.result(self.store.setLastActivity("alice@example.com", LastActivity(1.0)))
        before = self.result(self.store.getRoster("bob@example.com")).version
        holders = self.result(self.store.deleteAccount("alice@example.com"))
        self.assertEqual(holders, ["bob@example.com", "carol@example.com"])
        self.assertIsNone(self.result(self.store.getCredentials("alice@example.com")))
        bob = self.result(self.store.getRoster("bob@example.com"))
        self.assertEqual((bob.items, bob.pendingIn), ({}, ()))
        self.assertGreater(bob.version, before)
        self.result(self.store.createAccount("alice@example.com", CREDENTIALS))
        self.assertEqual(self.result(self.store.getRoster("alice@example.com")).items, {})
        self.assertEqual(self.result(self.store.getMessages("alice@example.com")), [])
        self.assertIsNone(self.result(self.store.getLastActivity("alice@example.com")))
        self.failureResultOf(self.store.deleteAccount("ghost@example.com"), NoSuchAccount)


class MemoryStoreTests(StorageTestsMixin, SynchronousTestCase):
    def setUp(self):
        self.store = MemoryStore()


class SQLiteStoreTests(StorageTestsMixin, SynchronousTestCase):
    def setUp(self):
        self.pool = SynchronousPool(":memory:")
        self.store = SQLiteStore(self.pool)
        self.successResultOf(self.store.migrate())
        self.addCleanup(self.pool.close)

    def test_migrateIsIdempotent(self):
        """
        Migrating twice leaves the schema at the current version.
        """
        self.successResultOf(self.store.migrate())
        version = self.pool.connection.execute("PRAGMA user_version").fetchone()[0]
        self.assertEqual(version, SCHEMA_VERSION)

    def test_upgradeFromVersion1(self):
        """
        A version 1 database is upgraded in place, keeping its data.
        """
        pool = SynchronousPool(":memory:")
        self.addCleanup(pool.close)
        steps = schemaSteps()
        pool.connection.executescript(steps[1] + "PRAGMA user_version = 1;")
        pool.connection.execute("INSERT INTO account VALUES ('a@b', '{}')")
        pool.connection.commit()
        store = SQLiteStore(pool)
        self.successResultOf(store.migrate())
        self.assertEqual(self.successResultOf(store.listAccounts()), ["a@b"])
        self.successResultOf(store.setAutoAway("a@b", 1, 2))
        self.assertEqual(pool.connection.execute("PRAGMA user_version").fetchone()[0], SCHEMA_VERSION)

    def test_transcriptsIndexedOnUpgrade(self):
        """
        Chats stored before version 8 are found by supporter and text after
        the upgrade.
        """
        pool = SynchronousPool(":memory:")
        self.addCleanup(pool.close)
        steps = schemaSteps()
        pool.connection.executescript("".join(steps[v] for v in range(1, 8)) + "PRAGMA user_version = 7;")
        pool.connection.execute(
            "INSERT INTO visitor_chat (id, company, public_id, visitor_name, parameters, supporters, started) "
            "VALUES ('old', 'acme', 'acme', 'Vera', '[[\"Order\", \"4711\"]]', '[\"sven@example.com\"]', 1.0)")
        pool.connection.commit()
        store = SQLiteStore(pool)
        self.successResultOf(store.migrate())
        for filters in ({"supporters": ["sven@example.com"]}, {"text": "4711"}, {"text": "vera"}):
            chats, _ = self.successResultOf(store.listTranscripts("acme", **filters))
            self.assertEqual([t.id for t in chats], ["old"], filters)

    def test_newerSchemaRefused(self):
        """
        A database from a newer release is not touched.
        """
        self.pool.connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        self.failureResultOf(self.store.migrate(), UnusableDatabase)

    def test_failedInteractionRollsBack(self):
        """
        An interaction that fails half-way leaves nothing behind.
        """
        def half(cursor):
            cursor.execute("INSERT INTO account (jid, credentials) VALUES ('x@y', '{}')")
            raise ValueError("boom")

        self.failureResultOf(self.pool.runInteraction(half), ValueError)
        self.assertEqual(self.successResultOf(self.store.listAccounts()), [])

    def test_committedDataSurvivesAnotherConnection(self):
        """
        What an interaction wrote is committed when its Deferred fires: a
        second connection to the file sees it at once.
        """
        directory = tempfile.mkdtemp()
        path = os.path.join(directory, "om.sqlite")
        pool = SynchronousPool(path)
        self.addCleanup(pool.close)
        store = SQLiteStore(pool)
        self.successResultOf(store.migrate())
        self.successResultOf(store.createAccount("alice@example.com", CREDENTIALS))
        self.successResultOf(store.storeMessage("alice@example.com", "<m/>", 1.0, 5))
        other = sqlite3.connect(path)
        self.addCleanup(other.close)
        self.assertEqual(other.execute("SELECT COUNT(*) FROM offline_message").fetchone(), (1,))


class DirectoryStorageTestsMixin:
    """
    The directory part of every backend.
    """

    def setUpDirectory(self):
        for user in ["alice@example.com", "bob@example.com"]:
            self.successResultOf(self.store.createAccount(user, CREDENTIALS))

    def test_directoryRoundTrip(self):
        """
        Companies, groups, supporters and profiles come back as stored.
        """
        self.setUpDirectory()
        acme = Company("acme", "ACME Inc.", ("example.com",), False, True, "dot", 30, 120, 600)
        sales = Group("sales", "acme", "Sales", True, ("alice@example.com", "bob@example.com"))
        alice = Supporter("acme", "alice@example.com", "alice", "Alice", 1, "sales")
        profile = Profile("bob@example.com", "Bob B.", False, True)
        for d in [self.store.putCompany(acme), self.store.putGroup(sales),
                  self.store.putSupporter(alice), self.store.putProfile(profile)]:
            self.successResultOf(d)
        snapshot = self.successResultOf(self.store.loadDirectory())
        self.assertEqual(snapshot.companies, (acme,))
        self.assertEqual(snapshot.groups, (sales,))
        self.assertEqual(snapshot.supporters, (alice,))
        self.assertEqual(snapshot.profiles, (profile,))

    def test_replaceAndDelete(self):
        """
        Replacing a group replaces its members; deleting a company takes its
        groups and supporters along; deleting an account its memberships.
        """
        self.setUpDirectory()
        self.successResultOf(self.store.putCompany(Company("acme", "ACME", ("example.com",))))
        self.successResultOf(self.store.putGroup(Group("sales", "acme", "Sales", True, ("alice@example.com",))))
        self.successResultOf(self.store.putGroup(Group("sales", "acme", "Sales!", False, ("bob@example.com",))))
        self.successResultOf(self.store.putGroup(Group("ops", "acme", "Ops", True, ("alice@example.com", "bob@example.com"))))
        self.successResultOf(self.store.deleteAccount("alice@example.com"))
        groups = {g.id: g for g in self.successResultOf(self.store.loadDirectory()).groups}
        self.assertEqual(groups["sales"], Group("sales", "acme", "Sales!", False, ("bob@example.com",)))
        self.assertEqual(groups["ops"].members, ("bob@example.com",))
        self.successResultOf(self.store.putSupporter(Supporter("acme", "bob@example.com", "bob", "Bob")))
        # Changing the company keeps what hangs on it.
        self.successResultOf(self.store.putCompany(Company("acme", "ACME!", ("example.com",), retentionDays=7)))
        self.assertEqual(len(self.successResultOf(self.store.loadDirectory()).groups), 2)
        self.successResultOf(self.store.putTranscript(Transcript("c1", "acme", "acme", "Vera", started=1.0)))
        self.successResultOf(self.store.deleteCompany("acme"))
        snapshot = self.successResultOf(self.store.loadDirectory())
        self.assertEqual((snapshot.companies, snapshot.groups, snapshot.supporters), ((), (), ()))
        self.assertIsNone(self.successResultOf(self.store.getTranscript("c1")))

    def test_membersMustExist(self):
        """
        A group cannot list an account that does not exist.
        """
        self.setUpDirectory()
        self.successResultOf(self.store.putCompany(Company("acme", "ACME", ("example.com",))))
        self.failureResultOf(
            self.store.putGroup(Group("x", "acme", "X", True, ("ghost@example.com",))), NoSuchAccount
        )


class MemoryDirectoryTests(DirectoryStorageTestsMixin, SynchronousTestCase):
    def setUp(self):
        self.store = MemoryStore()


class SQLiteDirectoryTests(DirectoryStorageTestsMixin, SynchronousTestCase):
    def setUp(self):
        self.pool = SynchronousPool(":memory:")
        self.store = SQLiteStore(self.pool)
        self.successResultOf(self.store.migrate())
        self.addCleanup(self.pool.close)


class TranscriptStorageTestsMixin:
    def test_transcripts(self):
        """
        Chats are kept with their lines, listed newest first per company,
        updated, and deleted singly or by age.
        """
        from openmessenger.storage.interfaces import TranscriptLine

        store = self.store
        first = Transcript("c1", "acme", "sales", "Vera", "vera@example.net",
                           (("URL", "www.example.com"),), ("alice@example.com",), 100.0)
        second = Transcript("c2", "acme", "acme", "Otto", started=200.0)
        other = Transcript("c3", "evil", "evil", "Eve", started=150.0)
        for t in (first, second, other):
            self.successResultOf(store.putTranscript(t))
        self.successResultOf(store.appendLine("c1", TranscriptLine(1, "visitor", "Vera", "Hallo", 101.0)))
        self.successResultOf(store.appendLine("c1", TranscriptLine(2, "supporter", "alice@example.com", "Hi!", 102.0)))
        ended = Transcript(**{**first.__dict__, "ended": 110.0, "endedHow": "visitor"})
        self.successResultOf(store.putTranscript(ended))
        transcript, lines = self.successResultOf(store.getTranscript("c1"))
        self.assertEqual(transcript, ended)
        self.assertEqual([l.body for l in lines], ["Hallo", "Hi!"])
        self.assertEqual(self.chatIds(store, "acme"), ["c2", "c1"])
        self.assertEqual(self.chatIds(store, "acme", 150.0), ["c2"])
        self.assertEqual(self.successResultOf(store.deleteTranscriptsBefore("acme", 150.0)), 1)
        self.assertIsNone(self.successResultOf(store.getTranscript("c1")))
        self.successResultOf(store.deleteTranscript("c2"))
        self.assertEqual(self.chatIds(store, "acme"), [])
        self.assertEqual(self.chatIds(store, "evil"), ["c3"])

    def chatIds(self, store, company, since=0.0, **filters):
        chats, more = self.successResultOf(store.listTranscripts(company, since, **filters))
        return [t.id for t in chats]

    def test_transcriptSearchAndPages(self):
        """
        Chats are found by supporter and by words of the visitor's name,
        e-mail or parameters (prefixes, case and accents aside), newest
        first, a page at a time.
        """
        store = self.store
        for n in range(7):
            self.successResultOf(store.putTranscript(Transcript(
                f"c{n}", "acme", "acme", "Jürgen Müller" if n % 2 else "Vera", "",
                (("Kundennummer", f"K-{n}56164"), ("URL", "https://shop.example/cart")),
                ("sven@example.com",) if n < 3 else ("alice@example.com", "sven@example.com") if n == 6 else
                ("alice@example.com",), 100.0 + n)))
        self.assertEqual(self.chatIds(store, "acme", supporters=["sven@example.com"]), ["c6", "c2", "c1", "c0"])
        self.assertEqual(self.chatIds(store, "acme", supporters=[]), [])
        self.assertEqual(self.chatIds(store, "acme", text="jurgen MUL"), ["c5", "c3", "c1"])
        self.assertEqual(self.chatIds(store, "acme", text="156164"), ["c1"])
        self.assertEqual(self.chatIds(store, "acme", text="shop"), [f"c{n}" for n in range(6, -1, -1)])
        self.assertEqual(self.chatIds(store, "acme", text='" OR x*'), [])
        first, more = self.successResultOf(store.listTranscripts("acme", limit=3))
        self.assertEqual(([t.id for t in first], more), (["c6", "c5", "c4"], True))
        last, more = self.successResultOf(store.listTranscripts("acme", offset=6, limit=3))
        self.assertEqual(([t.id for t in last], more), (["c0"], False))
        self.successResultOf(store.deleteTranscript("c1"))
        self.assertEqual(self.chatIds(store, "acme", text="156164"), [])


class MemoryTranscriptTests(TranscriptStorageTestsMixin, SynchronousTestCase):
    def setUp(self):
        self.store = MemoryStore()


class SQLiteTranscriptTests(TranscriptStorageTestsMixin, SynchronousTestCase):
    def setUp(self):
        self.pool = SynchronousPool(":memory:")
        self.store = SQLiteStore(self.pool)
        self.successResultOf(self.store.migrate())
        self.addCleanup(self.pool.close)


class OpeningTests(SynchronousTestCase):
    """
    L{openDatabase}: a database that cannot be used is refused with a
    reason, never served or written.
    """

    def setUp(self):
        self.folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.folder)
        self.path = os.path.join(self.folder, "om.sqlite")

    def filled(self, rows=300):
        pool = openDatabase(self.path)
        store = SQLiteStore(pool)
        for n in range(rows):
            self.successResultOf(store.createAccount(f"user{n}@example.com", CREDENTIALS))
        pool.close()

    def test_newIsOwnerOnly(self):
        """
        A new database file is readable by its owner only.
        """
        openDatabase(self.path).close()
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o600)

    def test_notADatabase(self):
        """
        Another file (or a damaged header) is refused.
        """
        with open(self.path, "wb") as f:
            f.write(os.urandom(5000))
        error = self.assertRaises(UnusableDatabase, openDatabase, self.path)
        self.assertIn("not an SQLite database", str(error))

    def test_truncated(self):
        """
        A file cut short is refused as damaged, at once or at the first read
        of it at start-up.
        """
        self.filled()
        size = os.path.getsize(self.path)
        with open(self.path, "r+b") as f:
            f.truncate(size // 3)

        def openAndRead():
            pool = openDatabase(self.path)
            self.addCleanup(pool.close)
            from openmessenger.storage.sqlite import resultNow
            resultNow(SQLiteStore(pool).listAccounts())

        self.assertRaises(UnusableDatabase, openAndRead)

    def test_newerSchemaUntouched(self):
        """
        A database of a newer schema is refused and not written.
        """
        self.filled(1)
        connection = sqlite3.connect(self.path)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        connection.close()
        with open(self.path, "rb") as f:
            before = f.read()
        error = self.assertRaises(UnusableDatabase, openDatabase, self.path)
        self.assertIn("newer", str(error))
        with open(self.path, "rb") as f:
            self.assertEqual(f.read(), before)

    def test_backupBeforeMigration(self):
        """
        Before a migration the database is copied beside itself
        (owner-only), as it was.
        """
        connection = sqlite3.connect(self.path)
        connection.executescript(schemaSteps()[1] + "PRAGMA user_version = 1;")
        connection.execute("INSERT INTO account VALUES ('a@b', '{}')")
        connection.commit()
        connection.close()
        openDatabase(self.path).close()
        [backup] = [name for name in os.listdir(self.folder) if name.endswith(".backup")]
        self.assertTrue(backup.startswith("om.sqlite.v1."), backup)
        path = os.path.join(self.folder, backup)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        copy = sqlite3.connect(path)
        self.addCleanup(copy.close)
        self.assertEqual(copy.execute("PRAGMA user_version").fetchone(), (1,))
        self.assertEqual(copy.execute("SELECT jid FROM account").fetchall(), [("a@b",)])

    def test_missingTable(self):
        """
        A database at the current version that lacks a table is refused.
        """
        openDatabase(self.path).close()
        connection = sqlite3.connect(self.path)
        connection.execute("DROP TABLE offline_message")
        connection.close()
        error = self.assertRaises(UnusableDatabase, openDatabase, self.path)
        self.assertIn("offline_message", str(error))

    def test_integrityCheck(self):
        """
        The full check finds damaged pages the start-up checks do not read.
        """
        self.filled()
        pool = openDatabase(self.path)
        self.assertEqual(integrityProblems(pool), [])
        pool.close()
        with open(self.path, "r+b") as f:
            f.seek(os.path.getsize(self.path) - 2 * 4096 + 100)
            f.write(b"\xff" * 2000)
        pool = openDatabase(self.path)
        self.addCleanup(pool.close)
        self.assertNotEqual(integrityProblems(pool), [])
