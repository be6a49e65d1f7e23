# -*- test-case-name: tests.storage.test_storage -*-
"""
Storage in SQLite: the default.  The only module that contains SQL.

All work runs through a pool's C{runInteraction}: in the server an
L{adbapi.ConnectionPool} with a single connection (SQLite serialises writers
anyway), which keeps the reactor free and commits each interaction before its
Deferred fires; in tests and in C{openmessenger-ctl}, L{SynchronousPool}.
"""

import base64
import json
import os
import re
import sqlite3
import time
from importlib import resources

from twisted.enterprise import adbapi
from twisted.internet.defer import maybeDeferred
from twisted.python.failure import Failure
from zope.interface import implementer

from openmessenger.storage.interfaces import (
    AccountExists,
    Company,
    Credentials,
    DirectorySnapshot,
    Group,
    IAccountStore,
    IBlockStore,
    IDirectoryStore,
    IDocumentStore,
    ILastActivityStore,
    ITranscriptStore,
    IOfflineStore,
    IRosterStore,
    ISettingsStore,
    LastActivity,
    NoSuchAccount,
    Profile,
    Roster,
    RosterItem,
    ScramKeys,
    StorageFull,
    Supporter,
    Transcript,
    TranscriptLine,
)

SCHEMA_VERSION = 8
#: The company settings' columns, in the order of L{Company}'s fields.
COMPANY_SETTINGS = "icon_set, retention_days, away_after, xa_after"


def _prepareConnection(connection):
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA journal_mode = WAL")
    # FULL: a committed change survives a crash of the machine, not only of
    # the process; we acknowledge to clients only after the commit.
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("PRAGMA busy_timeout = 5000")


def schemaSteps():
    """
    The upgrade scripts from C{schema.sql}, by the version each produces.
    """
    text = resources.files("openmessenger.storage").joinpath("schema.sql").read_text("utf-8")
    parts = re.split(r"^-- version (\d+)$", text, flags=re.MULTILINE)
    return {int(version): script for version, script in zip(parts[1::2], parts[2::2])}


class UnusableDatabase(Exception):
    """
    The database cannot be used: not an SQLite file, damaged, of a newer
    schema than this program, or missing tables.  The message says which.
    """


SQLITE_HEADER = b"SQLite format 3\x00"


def _migrate(cursor):
    (version,) = cursor.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        # Never write into it: a newer program's data would be damaged.
        raise UnusableDatabase(
            f"its schema version {version} is newer than this program's ({SCHEMA_VERSION}); "
            "run the newer version, or restore a backup"
        )
    steps = schemaSteps()
    path = cursor.execute("PRAGMA database_list").fetchone()[2]
    if 0 < version < SCHEMA_VERSION and path:  # (no backup of a database in memory)
        backup = f"{path}.v{version}.{time.strftime('%Y%m%d%H%M%S')}.backup"
        cursor.execute("VACUUM INTO ?", (backup,))
        os.chmod(backup, 0o600)
    for target in range(version + 1, SCHEMA_VERSION + 1):
        # executescript commits first; each step is applied whole, then marked.
        cursor.executescript(f"BEGIN; {steps[target]} PRAGMA user_version = {target}; COMMIT;")
    tables = {name for (name,) in cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = expectedTables() - tables
    if missing:
        raise UnusableDatabase(f"tables are missing: {', '.join(sorted(missing))}")


def expectedTables():
    """
    The tables the current schema has.
    """
    connection = sqlite3.connect(":memory:")
    try:
        for version in range(1, SCHEMA_VERSION + 1):
            connection.executescript(schemaSteps()[version])
        return {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        connection.close()


def openDatabase(path):
    """
    Open the database at C{path} for the server's start or the command-line
    tool, made owner-only if new, checked (its header, schema version and
    tables) and brought up to date, after a backup beside it
    (C{VACUUM INTO}) before any migration.

    @return: a L{SynchronousPool} on it.
    @raise UnusableDatabase: with what is wrong.
    """
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        with open(path, "rb") as f:
            header = f.read(len(SQLITE_HEADER))
    except OSError as e:
        raise UnusableDatabase(f"cannot open it: {e.strerror}") from None
    if header and header != SQLITE_HEADER:
        raise UnusableDatabase("it is not an SQLite database (damaged, or another file)")
    try:
        pool = SynchronousPool(path)
    except sqlite3.DatabaseError as e:
        raise UnusableDatabase(f"it cannot be opened: {e}") from None
    try:
        resultNow(SQLiteStore(pool).migrate())
    except BaseException:
        pool.close()
        raise
    return pool


def resultNow(d):
    """
    The result of a Deferred that fired already (a L{SynchronousPool}'s),
    its failure raised: L{UnusableDatabase} for a damaged database.
    """
    outcome = []
    d.addBoth(outcome.append)
    if isinstance(outcome[0], Failure):
        if outcome[0].check(sqlite3.DatabaseError):
            raise UnusableDatabase(f"it is damaged: {outcome[0].value}")
        outcome[0].raiseException()
    return outcome[0]


def integrityProblems(pool):
    """
    SQLite's full integrity check of the database: the problems it found
    (none: an empty list).
    """
    rows = resultNow(pool.runInteraction(lambda cursor: cursor.execute("PRAGMA integrity_check").fetchall()))
    return [] if rows == [("ok",)] else [row[0] for row in rows]


def connectionPool(path):
    """
    The production pool: one connection in a thread, for the database at
    C{path}.
    """
    return adbapi.ConnectionPool(
        "sqlite3",
        path,
        check_same_thread=False,
        cp_min=1,
        cp_max=1,
        cp_openfun=_prepareConnection,
    )


class SynchronousPool:
    """
    Run interactions at once in the calling thread, like
    L{adbapi.ConnectionPool.runInteraction}: commit on success, roll back on
    an exception.  For tests and for the command-line tool.
    """

    def __init__(self, path=":memory:"):
        self.connection = sqlite3.connect(path)
        _prepareConnection(self.connection)

    def runInteraction(self, interaction, *args, **kwargs):
        def run():
            cursor = self.connection.cursor()
            try:
                result = interaction(cursor, *args, **kwargs)
            except BaseException:
                self.connection.rollback()
                raise
            self.connection.commit()
            return result

        return maybeDeferred(run)

    def close(self):
        self.connection.close()


def _encodeCredentials(credentials):
    return json.dumps(
        {
            name: {
                "salt": base64.b64encode(keys.salt).decode(),
                "storedKey": base64.b64encode(keys.storedKey).decode(),
                "serverKey": base64.b64encode(keys.serverKey).decode(),
                "iterations": keys.iterations,
            }
            for name, keys in credentials.keys.items()
        }
    )


def _decodeCredentials(text):
    return Credentials(
        keys={
            name: ScramKeys(
                salt=base64.b64decode(value["salt"]),
                storedKey=base64.b64decode(value["storedKey"]),
                serverKey=base64.b64decode(value["serverKey"]),
                iterations=value["iterations"],
            )
            for name, value in json.loads(text).items()
        }
    )


def _item(row):
    contact, name, groups, subscription, ask, approved = row
    return RosterItem(
        jid=contact,
        name=name,
        groups=tuple(json.loads(groups)),
        subscription=subscription,
        ask=bool(ask),
        approved=bool(approved),
    )


@implementer(
    IAccountStore, IRosterStore, IOfflineStore, ILastActivityStore, ISettingsStore,
    IDocumentStore, IBlockStore, IDirectoryStore, ITranscriptStore,
)
class SQLiteStore:
    """
    @param pool: anything with C{runInteraction(fn, *args)} over an SQLite
        connection: L{connectionPool} or L{SynchronousPool}.
    """

    def __init__(self, pool):
        self.pool = pool

    def migrate(self):
        """
        Create or upgrade the schema.  Call once before anything else.
        """
        return self.pool.runInteraction(_migrate)

    def _run(self, fn, *args):
        return self.pool.runInteraction(fn, *args).addErrback(_storageFull)

    # IAccountStore

    def createAccount(self, user, credentials):
        def create(cursor):
            try:
                cursor.execute(
                    "INSERT INTO account (jid, credentials) VALUES (?, ?)",
                    (user, _encodeCredentials(credentials)),
                )
            except sqlite3.IntegrityError:
                raise AccountExists(user) from None

        return self._run(create)

    def getCredentials(self, user):
        def get(cursor):
            row = cursor.execute(
                "SELECT credentials FROM account WHERE jid = ?", (user,)
            ).fetchone()
            return _decodeCredentials(row[0]) if row else None

        return self._run(get)

    def setCredentials(self, user, credentials):
        def update(cursor):
            cursor.execute(
                "UPDATE account SET credentials = ? WHERE jid = ?",
                (_encodeCredentials(credentials), user),
            )
            if cursor.rowcount == 0:
                raise NoSuchAccount(user)

        return self._run(update)

    def deleteAccount(self, user):
        def delete(cursor):
            holders = [
                owner
                for (owner,) in cursor.execute(
                    "SELECT owner FROM roster_item WHERE contact = ? ORDER BY owner",
                    (user,),
                )
            ]
            cursor.execute("DELETE FROM account WHERE jid = ?", (user,))
            if cursor.rowcount == 0:
                raise NoSuchAccount(user)
            cursor.execute("DELETE FROM roster_item WHERE contact = ?", (user,))
            cursor.execute("DELETE FROM roster_pending WHERE contact = ?", (user,))
            for owner in holders:
                _bump(cursor, owner)
            return holders

        return self._run(delete)

    def listAccounts(self, domain=None):
        def listing(cursor):
            if domain is None:
                rows = cursor.execute("SELECT jid FROM account ORDER BY jid")
            else:
                rows = cursor.execute(
                    "SELECT jid FROM account WHERE jid LIKE ? ESCAPE '\\' ORDER BY jid",
                    ("%@" + domain.replace("%", "\\%").replace("_", "\\_"),),
                )
            return [jid for (jid,) in rows]

        return self._run(listing)

    # IRosterStore

    def getRoster(self, user):
        def get(cursor):
            items = {
                item.jid: item
                for item in map(
                    _item,
                    cursor.execute(
                        "SELECT contact, name, groups, subscription, ask, approved "
                        "FROM roster_item WHERE owner = ?",
                        (user,),
                    ),
                )
            }
            pending = tuple(
                contact
                for (contact,) in cursor.execute(
                    "SELECT contact FROM roster_pending WHERE owner = ? ORDER BY contact",
                    (user,),
                )
            )
            row = cursor.execute(
                "SELECT version FROM roster_version WHERE owner = ?", (user,)
            ).fetchone()
            return Roster(items=items, pendingIn=pending, version=row[0] if row else 0)

        return self._run(get)

    def getItem(self, user, contact):
        def get(cursor):
            row = cursor.execute(
                "SELECT contact, name, groups, subscription, ask, approved "
                "FROM roster_item WHERE owner = ? AND contact = ?",
                (user, contact),
            ).fetchone()
            return _item(row) if row else None

        return self._run(get)

    def setItem(self, user, item):
        def put(cursor):
            cursor.execute(
                "INSERT OR REPLACE INTO roster_item "
                "(owner, contact, name, groups, subscription, ask, approved) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    user,
                    item.jid,
                    item.name,
                    json.dumps(list(item.groups)),
                    item.subscription,
                    int(item.ask),
                    int(item.approved),
                ),
            )
            return _bump(cursor, user)

        return self._guardAccount(user, put)

    def removeItem(self, user, contact):
        def remove(cursor):
            cursor.execute(
                "DELETE FROM roster_item WHERE owner = ? AND contact = ?",
                (user, contact),
            )
            cursor.execute(
                "DELETE FROM roster_pending WHERE owner = ? AND contact = ?",
                (user, contact),
            )
            return _bump(cursor, user)

        return self._guardAccount(user, remove)

    def setPendingIn(self, user, contact, pending):
        def update(cursor):
            if pending:
                cursor.execute(
                    "INSERT OR IGNORE INTO roster_pending (owner, contact) VALUES (?, ?)",
                    (user, contact),
                )
            else:
                cursor.execute(
                    "DELETE FROM roster_pending WHERE owner = ? AND contact = ?",
                    (user, contact),
                )

        return self._guardAccount(user, update)

    def _guardAccount(self, user, interaction):
        def run(cursor):
            try:
                return interaction(cursor)
            except sqlite3.IntegrityError:
                raise NoSuchAccount(user) from None

        return self._run(run)

    # IOfflineStore

    def storeMessage(self, user, stanza, stamp, limit):
        def store(cursor):
            (count,) = cursor.execute(
                "SELECT COUNT(*) FROM offline_message WHERE owner = ?", (user,)
            ).fetchone()
            if count >= limit:
                return False
            cursor.execute(
                "INSERT INTO offline_message (owner, stanza, stamp) VALUES (?, ?, ?)",
                (user, stanza, stamp),
            )
            return True

        return self._guardAccount(user, store)

    def getMessages(self, user):
        def get(cursor):
            return cursor.execute(
                "SELECT id, stanza, stamp FROM offline_message WHERE owner = ? ORDER BY id",
                (user,),
            ).fetchall()

        return self._run(get)

    def deleteMessages(self, user, ids):
        def delete(cursor):
            cursor.executemany(
                "DELETE FROM offline_message WHERE owner = ? AND id = ?",
                [(user, id) for id in ids],
            )

        return self._run(delete)

    # ILastActivityStore

    def setLastActivity(self, user, activity):
        def put(cursor):
            cursor.execute(
                "INSERT OR REPLACE INTO last_activity (owner, stamp, status) "
                "VALUES (?, ?, ?)",
                (user, activity.stamp, activity.status),
            )

        return self._guardAccount(user, put)

    def getLastActivity(self, user):
        def get(cursor):
            row = cursor.execute(
                "SELECT stamp, status FROM last_activity WHERE owner = ?", (user,)
            ).fetchone()
            return LastActivity(stamp=row[0], status=row[1]) if row else None

        return self._run(get)


    # ISettingsStore

    def getAutoAway(self, user):
        def get(cursor):
            return cursor.execute(
                "SELECT away_after, xa_after FROM autoaway_setting WHERE owner = ?", (user,)
            ).fetchone()

        return self._run(get).addCallback(lambda row: tuple(row) if row else None)

    def setAutoAway(self, user, awayAfter, xaAfter):
        def put(cursor):
            cursor.execute(
                "INSERT OR REPLACE INTO autoaway_setting (owner, away_after, xa_after) "
                "VALUES (?, ?, ?)",
                (user, awayAfter, xaAfter),
            )

        return self._guardAccount(user, put)

    # IDocumentStore

    def getDocument(self, user, key):
        def get(cursor):
            row = cursor.execute(
                "SELECT xml FROM user_document WHERE owner = ? AND key = ?", (user, key)
            ).fetchone()
            return row[0] if row else None

        return self._run(get)

    def countDocuments(self, user, prefix):
        def count(cursor):
            return cursor.execute(
                "SELECT COUNT(*) FROM user_document WHERE owner = ? AND substr(key, 1, ?) = ?",
                (user, len(prefix), prefix),
            ).fetchone()[0]

        return self._run(count)

    def setDocument(self, user, key, xml):
        def put(cursor):
            if xml is None:
                cursor.execute(
                    "DELETE FROM user_document WHERE owner = ? AND key = ?", (user, key)
                )
            else:
                cursor.execute(
                    "INSERT OR REPLACE INTO user_document (owner, key, xml) VALUES (?, ?, ?)",
                    (user, key, xml),
                )

        return self._guardAccount(user, put)

    # IBlockStore

    def getBlocked(self, user):
        def get(cursor):
            return [
                jid for (jid,) in cursor.execute(
                    "SELECT jid FROM blocked_jid WHERE owner = ? ORDER BY jid", (user,)
                )
            ]

        return self._run(get)

    def block(self, user, addresses):
        def put(cursor):
            cursor.executemany(
                "INSERT OR IGNORE INTO blocked_jid (owner, jid) VALUES (?, ?)",
                [(user, address) for address in addresses],
            )

        return self._guardAccount(user, put)

    def allBlockLists(self):
        def get(cursor):
            lists = {}
            for owner, jid in cursor.execute("SELECT owner, jid FROM blocked_jid"):
                lists.setdefault(owner, set()).add(jid)
            return lists

        return self._run(get)

    def unblock(self, user, addresses=None):
        def remove(cursor):
            if addresses is None:
                cursor.execute("DELETE FROM blocked_jid WHERE owner = ?", (user,))
            else:
                cursor.executemany(
                    "DELETE FROM blocked_jid WHERE owner = ? AND jid = ?",
                    [(user, address) for address in addresses],
                )

        return self._run(remove)

    # IDirectoryStore

    def loadDirectory(self):
        def load(cursor):
            domains = {}
            for domain, company in cursor.execute("SELECT domain, company FROM company_domain ORDER BY domain"):
                domains.setdefault(company, []).append(domain)
            companies = tuple(
                Company(id, name, tuple(domains.get(id, ())), bool(approved), bool(ownOnly), *settings)
                for id, name, approved, ownOnly, *settings in cursor.execute(
                    f"SELECT id, name, approved, own_company_only, {COMPANY_SETTINGS} FROM company ORDER BY id"
                )
            )
            members = {}
            for grp, jid in cursor.execute("SELECT grp, jid FROM group_member ORDER BY jid"):
                members.setdefault(grp, []).append(jid)
            groups = tuple(
                Group(id, company, name, bool(shared), tuple(members.get(id, ())))
                for id, company, name, shared in cursor.execute(
                    "SELECT id, company, name, shared_roster FROM user_group ORDER BY id"
                )
            )
            supporters = tuple(
                Supporter(*row)
                for row in cursor.execute(
                    "SELECT company, jid, slug, name, position, grp FROM supporter ORDER BY position, jid"
                )
            )
            profiles = tuple(
                Profile(jid, name, bool(enabled), bool(admin))
                for jid, name, enabled, admin in cursor.execute(
                    "SELECT jid, display_name, enabled, company_admin FROM account_profile"
                )
            )
            return DirectorySnapshot(companies, groups, supporters, profiles)

        return self._run(load)

    def putCompany(self, company):
        def put(cursor):
            # An upsert, not a replace: replacing would cascade to groups.
            cursor.execute(
                f"INSERT INTO company (id, name, approved, own_company_only, {COMPANY_SETTINGS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
                "approved = excluded.approved, own_company_only = excluded.own_company_only, "
                + ", ".join(f"{c} = excluded.{c}" for c in COMPANY_SETTINGS.split(", ")),
                (company.id, company.name, int(company.approved), int(company.ownCompanyOnly),
                 company.iconSet, company.retentionDays, company.awayAfter, company.xaAfter),
            )
            cursor.execute("DELETE FROM company_domain WHERE company = ?", (company.id,))
            cursor.executemany(
                "INSERT INTO company_domain (domain, company) VALUES (?, ?)",
                [(domain, company.id) for domain in company.domains],
            )

        return self._run(put)

    def deleteCompany(self, id):
        def delete(cursor):
            cursor.execute("DELETE FROM visitor_chat WHERE company = ?", (id,))
            cursor.execute("DELETE FROM company WHERE id = ?", (id,))

        return self._run(delete)

    def putGroup(self, group):
        def put(cursor):
            cursor.execute(
                "INSERT INTO user_group (id, company, name, shared_roster) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
                "shared_roster = excluded.shared_roster",
                (group.id, group.company, group.name, int(group.sharedRoster)),
            )
            cursor.execute("DELETE FROM group_member WHERE grp = ?", (group.id,))
            try:
                cursor.executemany(
                    "INSERT INTO group_member (grp, jid) VALUES (?, ?)",
                    [(group.id, jid) for jid in group.members],
                )
            except sqlite3.IntegrityError:
                raise NoSuchAccount(", ".join(group.members)) from None

        return self._run(put)

    def deleteGroup(self, id):
        return self._run(_execute, "DELETE FROM user_group WHERE id = ?", (id,))

    def putSupporter(self, supporter):
        def put(cursor):
            cursor.execute(
                "INSERT OR REPLACE INTO supporter (company, jid, slug, name, position, grp) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (supporter.company, supporter.jid, supporter.slug, supporter.name,
                 supporter.position, supporter.group),
            )

        return self._guardAccount(supporter.jid, put)

    def deleteSupporter(self, company, jid):
        return self._run(_execute, "DELETE FROM supporter WHERE company = ? AND jid = ?", (company, jid))

    def putProfile(self, profile):
        def put(cursor):
            cursor.execute(
                "INSERT OR REPLACE INTO account_profile (jid, display_name, enabled, company_admin) "
                "VALUES (?, ?, ?, ?)",
                (profile.jid, profile.displayName, int(profile.enabled), int(profile.companyAdmin)),
            )

        return self._guardAccount(profile.jid, put)

    # ITranscriptStore

    def putTranscript(self, t):
        def put(cursor):
            cursor.execute(
                # An upsert, not REPLACE: a replaced row would take its lines along.
                "INSERT INTO visitor_chat (id, company, public_id, visitor_name, visitor_email, "
                "parameters, supporters, started, ended, ended_how) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET supporters = excluded.supporters, "
                "ended = excluded.ended, ended_how = excluded.ended_how",
                (t.id, t.company, t.publicId, t.visitorName, t.visitorEmail,
                 json.dumps([list(p) for p in t.parameters]), json.dumps(list(t.supporters)),
                 t.started, t.ended, t.endedHow),
            )
            cursor.executemany(
                "INSERT OR IGNORE INTO visitor_chat_supporter (chat, supporter) VALUES (?, ?)",
                [(t.id, supporter) for supporter in t.supporters],
            )

        return self._run(put)

    def appendLine(self, chat, line):
        def put(cursor):
            cursor.execute(
                "INSERT INTO visitor_message (chat, seq, direction, sender, body, stamp) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (chat, line.seq, line.direction, line.sender, line.body, line.stamp),
            )

        return self._run(put)

    def getTranscript(self, chat):
        def get(cursor):
            row = cursor.execute(
                "SELECT id, company, public_id, visitor_name, visitor_email, parameters, supporters, "
                "started, ended, ended_how FROM visitor_chat WHERE id = ?", (chat,)
            ).fetchone()
            if row is None:
                return None
            lines = [TranscriptLine(*r) for r in cursor.execute(
                "SELECT seq, direction, sender, body, stamp FROM visitor_message WHERE chat = ? ORDER BY seq",
                (chat,),
            )]
            return _transcript(row), lines

        return self._run(get)

    def listTranscripts(self, company, since=0.0, supporters=None, text="", offset=0, limit=50):
        where = ["company = ?", "started >= ?"]
        args = [company, since]
        if supporters is not None:
            where.append("id IN (SELECT chat FROM visitor_chat_supporter WHERE supporter IN (%s))"
                         % ", ".join("?" * len(supporters)))
            args += list(supporters)
        words = text.split()
        if words:
            where.append("rowid IN (SELECT rowid FROM visitor_chat_search WHERE visitor_chat_search MATCH ?)")
            # Each word as a quoted prefix: the visitor's words are never syntax.
            args.append(" ".join('"%s"*' % word.replace('"', '""') for word in words))

        def get(cursor):
            rows = cursor.execute(
                "SELECT id, company, public_id, visitor_name, visitor_email, parameters, supporters, "
                f"started, ended, ended_how FROM visitor_chat WHERE {' AND '.join(where)} "
                "ORDER BY started DESC, id LIMIT ? OFFSET ?", args + [limit + 1, offset],
            ).fetchall()
            return [_transcript(row) for row in rows[:limit]], len(rows) > limit

        return self._run(get)

    def deleteTranscript(self, chat):
        return self._run(_execute, "DELETE FROM visitor_chat WHERE id = ?", (chat,))

    def deleteTranscriptsBefore(self, company, stamp):
        def delete(cursor):
            cursor.execute("DELETE FROM visitor_chat WHERE company = ? AND started < ?", (company, stamp))
            return cursor.rowcount

        return self._run(delete)


def _storageFull(failure):
    """
    Tell a full disk apart (callers answer C{resource-constraint}).
    """
    error = failure.check(sqlite3.OperationalError, sqlite3.DatabaseError)
    if error and getattr(failure.value, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        raise StorageFull(str(failure.value)) from None
    return failure


def _execute(cursor, sql, args):
    """
    Run one statement; fire with nothing.
    """
    cursor.execute(sql, args)


def _transcript(row):
    id, company, publicId, name, email, parameters, supporters, started, ended, how = row
    return Transcript(id, company, publicId, name, email,
                      tuple(tuple(p) for p in json.loads(parameters)), tuple(json.loads(supporters)),
                      started, ended, how)


def _bump(cursor, user):
    cursor.execute(
        "INSERT INTO roster_version (owner, version) VALUES (?, 1) "
        "ON CONFLICT(owner) DO UPDATE SET version = version + 1",
        (user,),
    )
    (version,) = cursor.execute(
        "SELECT version FROM roster_version WHERE owner = ?", (user,)
    ).fetchone()
    return version
