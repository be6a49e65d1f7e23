# -*- test-case-name: tests.storage.test_storage -*-
"""
Storage in memory: for tests and for trying things out.  Lost on restart.
"""

import re
import unicodedata
from dataclasses import replace

from twisted.internet.defer import fail, succeed
from zope.interface import implementer

from openmessenger.storage.interfaces import (
    AccountExists,
    IAccountStore,
    IBlockStore,
    IDirectoryStore,
    IDocumentStore,
    ILastActivityStore,
    ITranscriptStore,
    IOfflineStore,
    IRosterStore,
    ISettingsStore,
    DirectorySnapshot,
    NoSuchAccount,
    Roster,
)


def _folded(text):
    """
    Lower case without accents, as SQLite's unicode61 tokenizer compares.
    """
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


@implementer(
    IAccountStore, IRosterStore, IOfflineStore, ILastActivityStore, ISettingsStore,
    IDocumentStore, IBlockStore, IDirectoryStore, ITranscriptStore,
)
class MemoryStore:
    def __init__(self):
        self._accounts = {}
        self._rosters = {}
        self._pending = {}
        self._versions = {}
        self._offline = {}
        self._lastMessageId = 0
        self._last = {}
        self._autoaway = {}
        self._documents = {}
        self._blocked = {}
        self._companies = {}
        self._groups = {}
        self._supporters = {}
        self._profiles = {}
        self._transcripts = {}
        self._lines = {}

    # IAccountStore

    def createAccount(self, user, credentials):
        if user in self._accounts:
            return fail(AccountExists(user))
        self._accounts[user] = credentials
        return succeed(None)

    def getCredentials(self, user):
        return succeed(self._accounts.get(user))

    def setCredentials(self, user, credentials):
        if user not in self._accounts:
            return fail(NoSuchAccount(user))
        self._accounts[user] = credentials
        return succeed(None)

    def deleteAccount(self, user):
        if user not in self._accounts:
            return fail(NoSuchAccount(user))
        del self._accounts[user]
        for table in (
            self._rosters, self._pending, self._offline, self._last, self._autoaway,
            self._documents, self._blocked,
        ):
            table.pop(user, None)
        holders = []
        for owner, items in self._rosters.items():
            if items.pop(user, None) is not None:
                self._bump(owner)
                holders.append(owner)
        for pending in self._pending.values():
            pending.discard(user)
        self._profiles.pop(user, None)
        for key in [k for k in self._supporters if k[1] == user]:
            del self._supporters[key]
        for group in list(self._groups.values()):
            if user in group.members:
                self._groups[group.id] = replace(
                    group, members=tuple(m for m in group.members if m != user)
                )
        return succeed(sorted(holders))

    def listAccounts(self, domain=None):
        return succeed(
            sorted(
                user
                for user in self._accounts
                if domain is None or user.rpartition("@")[2] == domain
            )
        )

    # IRosterStore

    def getRoster(self, user):
        return succeed(
            Roster(
                items=dict(self._rosters.get(user, {})),
                pendingIn=tuple(sorted(self._pending.get(user, ()))),
                version=self._versions.get(user, 0),
            )
        )

    def getItem(self, user, contact):
        return succeed(self._rosters.get(user, {}).get(contact))

    def _missing(self, user):
        # Mirrors SQLite's foreign keys: no data for accounts that don't exist.
        return None if user in self._accounts else fail(NoSuchAccount(user))

    def setItem(self, user, item):
        if user not in self._accounts:
            return self._missing(user)
        self._rosters.setdefault(user, {})[item.jid] = item
        return succeed(self._bump(user))

    def removeItem(self, user, contact):
        if user not in self._accounts:
            return self._missing(user)
        self._rosters.get(user, {}).pop(contact, None)
        self._pending.get(user, set()).discard(contact)
        return succeed(self._bump(user))

    def setPendingIn(self, user, contact, pending):
        if user not in self._accounts:
            return self._missing(user)
        contacts = self._pending.setdefault(user, set())
        if pending:
            contacts.add(contact)
        else:
            contacts.discard(contact)
        return succeed(None)

    def _bump(self, user):
        self._versions[user] = self._versions.get(user, 0) + 1
        return self._versions[user]

    # IOfflineStore

    def storeMessage(self, user, stanza, stamp, limit):
        if user not in self._accounts:
            return self._missing(user)
        messages = self._offline.setdefault(user, [])
        if len(messages) >= limit:
            return succeed(False)
        self._lastMessageId += 1
        messages.append((self._lastMessageId, stanza, stamp))
        return succeed(True)

    def getMessages(self, user):
        return succeed(list(self._offline.get(user, [])))

    def deleteMessages(self, user, ids):
        ids = set(ids)
        kept = [m for m in self._offline.get(user, []) if m[0] not in ids]
        if kept:
            self._offline[user] = kept
        else:
            self._offline.pop(user, None)
        return succeed(None)

    # ILastActivityStore

    def setLastActivity(self, user, activity):
        if user not in self._accounts:
            return self._missing(user)
        self._last[user] = activity
        return succeed(None)

    def getLastActivity(self, user):
        return succeed(self._last.get(user))

    # ISettingsStore

    def getAutoAway(self, user):
        return succeed(self._autoaway.get(user))

    def setAutoAway(self, user, awayAfter, xaAfter):
        if user not in self._accounts:
            return self._missing(user)
        self._autoaway[user] = (awayAfter, xaAfter)
        return succeed(None)

    # IDocumentStore

    def getDocument(self, user, key):
        return succeed(self._documents.get(user, {}).get(key))

    def countDocuments(self, user, prefix):
        return succeed(sum(1 for key in self._documents.get(user, {}) if key.startswith(prefix)))

    def setDocument(self, user, key, xml):
        if user not in self._accounts:
            return self._missing(user)
        documents = self._documents.setdefault(user, {})
        if xml is None:
            documents.pop(key, None)
        else:
            documents[key] = xml
        return succeed(None)

    # IBlockStore

    def getBlocked(self, user):
        return succeed(sorted(self._blocked.get(user, ())))

    def block(self, user, addresses):
        if user not in self._accounts:
            return self._missing(user)
        self._blocked.setdefault(user, set()).update(addresses)
        return succeed(None)

    def allBlockLists(self):
        return succeed({user: set(jids) for user, jids in self._blocked.items() if jids})

    def unblock(self, user, addresses=None):
        if addresses is None:
            self._blocked.pop(user, None)
        else:
            self._blocked.get(user, set()).difference_update(addresses)
        return succeed(None)

    # IDirectoryStore

    def loadDirectory(self):
        return succeed(DirectorySnapshot(
            companies=tuple(self._companies.values()),
            groups=tuple(self._groups.values()),
            supporters=tuple(self._supporters.values()),
            profiles=tuple(self._profiles.values()),
        ))

    def putCompany(self, company):
        self._companies[company.id] = company
        return succeed(None)

    def deleteCompany(self, id):
        self._companies.pop(id, None)
        for group in [g for g in self._groups.values() if g.company == id]:
            del self._groups[group.id]
        for key in [k for k in self._supporters if k[0] == id]:
            del self._supporters[key]
        self.deleteTranscriptsBefore(id, float("inf"))
        return succeed(None)

    def putGroup(self, group):
        missing = [m for m in group.members if m not in self._accounts]
        if missing:
            return fail(NoSuchAccount(missing[0]))
        self._groups[group.id] = group
        return succeed(None)

    def deleteGroup(self, id):
        self._groups.pop(id, None)
        for key in [k for k, s in self._supporters.items() if s.group == id]:
            del self._supporters[key]
        return succeed(None)

    def putSupporter(self, supporter):
        if supporter.jid not in self._accounts:
            return self._missing(supporter.jid)
        self._supporters[(supporter.company, supporter.jid)] = supporter
        return succeed(None)

    def deleteSupporter(self, company, jid):
        self._supporters.pop((company, jid), None)
        return succeed(None)

    def putProfile(self, profile):
        if profile.jid not in self._accounts:
            return self._missing(profile.jid)
        self._profiles[profile.jid] = profile
        return succeed(None)

    # ITranscriptStore

    def putTranscript(self, transcript):
        self._transcripts[transcript.id] = transcript
        self._lines.setdefault(transcript.id, [])
        return succeed(None)

    def appendLine(self, chat, line):
        self._lines[chat].append(line)
        return succeed(None)

    def getTranscript(self, chat):
        if chat not in self._transcripts:
            return succeed(None)
        return succeed((self._transcripts[chat], list(self._lines[chat])))

    def listTranscripts(self, company, since=0.0, supporters=None, text="", offset=0, limit=50):
        def words(t):
            values = [t.visitorName, t.visitorEmail] + [value for _, value in t.parameters]
            return re.findall(r"\w+", _folded(" ".join(values)))

        wanted = re.findall(r"\w+", _folded(text))
        chats = sorted(
            (t for t in self._transcripts.values()
             if t.company == company and t.started >= since
             and (supporters is None or set(supporters) & set(t.supporters))
             and all(any(w.startswith(part) for w in words(t)) for part in wanted)),
            key=lambda t: (-t.started, t.id),
        )
        return succeed((chats[offset:offset + limit], len(chats) > offset + limit))

    def deleteTranscript(self, chat):
        self._transcripts.pop(chat, None)
        self._lines.pop(chat, None)
        return succeed(None)

    def deleteTranscriptsBefore(self, company, stamp):
        old = [t.id for t in self._transcripts.values() if t.company == company and t.started < stamp]
        for chat in old:
            self.deleteTranscript(chat)
        return succeed(len(old))
