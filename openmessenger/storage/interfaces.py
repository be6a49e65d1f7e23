"""
The storage interfaces.  Every method returns a L{Deferred}; addresses are
prepared bare JIDs as strings.  A Deferred fires only once the change is
durable, so callers acknowledge nothing before it is safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, Optional, Tuple

from zope.interface import Interface


class AccountExists(Exception):
    """
    An account with that address already exists.
    """


class StorageFull(Exception):
    """
    The disk under the database is full: nothing more can be written.
    """


class NoSuchAccount(Exception):
    """
    There is no account with that address.
    """


@dataclass(frozen=True)
class ScramKeys:
    """
    What a SCRAM mechanism needs to check a password (RFC 5802 3), never the
    password itself.
    """

    salt: bytes
    storedKey: bytes
    serverKey: bytes
    iterations: int


@dataclass(frozen=True)
class Credentials:
    """
    An account's SCRAM keys, by mechanism name (C{"SCRAM-SHA-1"}, ...).
    """

    keys: Dict[str, ScramKeys]


SUBSCRIPTIONS = ("none", "to", "from", "both")


@dataclass(frozen=True)
class RosterItem:
    """
    One contact in a user's roster (RFC 6121 2.1.2).

    @ivar ask: an outbound subscription request is pending ("Pending Out").
    @ivar approved: the user pre-approved the contact's subscription request
        (RFC 6121 3.4).
    """

    jid: str
    name: str = ""
    groups: Tuple[str, ...] = ()
    subscription: str = "none"
    ask: bool = False
    approved: bool = False

    def evolve(self, **changes) -> "RosterItem":
        return replace(self, **changes)

    @property
    def subscribedTo(self) -> bool:
        """The user receives the contact's presence."""
        return self.subscription in ("to", "both")

    @property
    def subscribedFrom(self) -> bool:
        """The contact receives the user's presence."""
        return self.subscription in ("from", "both")


@dataclass(frozen=True)
class Roster:
    """
    A user's roster: items by contact, pending inbound requests, and its
    version (XEP-0237), which changes whenever an item does.
    """

    items: Dict[str, RosterItem] = field(default_factory=dict)
    pendingIn: Tuple[str, ...] = ()
    version: int = 0


@dataclass(frozen=True)
class LastActivity:
    """
    When an account's last session ended, and its last status text.
    """

    stamp: float
    status: str = ""


class IAccountStore(Interface):
    def createAccount(user: str, credentials: Credentials):
        """
        Create an account; fails with L{AccountExists}.
        """

    def getCredentials(user: str):
        """
        The account's L{Credentials}, or C{None} if there is no such account.
        """

    def setCredentials(user: str, credentials: Credentials):
        """
        Replace the account's credentials; fails with L{NoSuchAccount}.
        """

    def deleteAccount(user: str):
        """
        Delete the account with its roster, offline messages and last
        activity, and remove it from other rosters.  Fires with the list of
        users whose rosters held it; fails with L{NoSuchAccount}.
        """

    def listAccounts(domain: str | None = None):
        """
        All account addresses, sorted, optionally only those of C{domain}.
        """


class IRosterStore(Interface):
    def getRoster(user: str):
        """
        The user's L{Roster}.
        """

    def getItem(user: str, contact: str):
        """
        One L{RosterItem}, or C{None}.
        """

    def setItem(user: str, item: RosterItem):
        """
        Add or replace an item; fires with the new roster version.
        """

    def removeItem(user: str, contact: str):
        """
        Remove an item (if there) and the contact's pending request; fires
        with the new roster version.
        """

    def setPendingIn(user: str, contact: str, pending: bool):
        """
        Record or clear the contact's pending subscription request.
        """


class IOfflineStore(Interface):
    def storeMessage(user: str, stanza: str, stamp: float, limit: int):
        """
        Keep a message for a user who is offline.  Fires with C{True} if
        stored, C{False} if the user already has C{limit} messages waiting.
        """

    def getMessages(user: str):
        """
        Fire with the waiting messages as C{(id, stanza, stamp)}, oldest
        first.  They stay until L{deleteMessages}.
        """

    def deleteMessages(user: str, ids):
        """
        Remove the waiting messages with these ids (once delivered).
        """


class ILastActivityStore(Interface):
    def setLastActivity(user: str, activity: LastActivity):
        """
        Record when the user's last session ended.
        """

    def getLastActivity(user: str):
        """
        The user's L{LastActivity}, or C{None} if never recorded.
        """


class ISettingsStore(Interface):
    def getAutoAway(user: str):
        """
        The user's own auto-away intervals C{(awayAfter, xaAfter)} in seconds,
        or C{None} if they use the defaults.
        """

    def setAutoAway(user: str, awayAfter: int, xaAfter: int):
        """
        Set the user's auto-away intervals.
        """


class IDocumentStore(Interface):
    def getDocument(user: str, key: str):
        """
        A stored XML document of the user (vCard, private XML), as text, or
        C{None}.
        """

    def setDocument(user: str, key: str, xml: str | None):
        """
        Store (or with C{None}, remove) a document.
        """

    def countDocuments(user: str, prefix: str):
        """
        How many documents the user has whose keys start with C{prefix}.
        """


class IBlockStore(Interface):
    def getBlocked(user: str):
        """
        The addresses the user blocks, sorted.
        """

    def block(user: str, addresses):
        """
        Add addresses to the user's block list.
        """

    def allBlockLists():
        """
        Every non-empty block list: user -> set of addresses.
        """

    def unblock(user: str, addresses=None):
        """
        Remove addresses from the block list; C{None} empties it.
        """


@dataclass(frozen=True)
class Company:
    """
    A company using the server: its public ID, name and XMPP domains.

    @ivar approved: false while a registration awaits an operator; nobody
        of the company can log in until then.
    @ivar ownCompanyOnly: its users exchange no stanzas with users of other
        companies on this server.
    @ivar iconSet: the icon set the embed-code generator offers first.
    @ivar retentionDays: days its visitor-chat transcripts are kept (0: for
        ever), or C{None} for the server's setting.
    @ivar awayAfter: seconds of idleness before its users show away, or
        C{None} for the server's setting; likewise C{xaAfter}.  A user's own
        intervals win over both.
    """

    id: str
    name: str
    domains: Tuple[str, ...] = ()
    approved: bool = True
    ownCompanyOnly: bool = False
    iconSet: str = "label"
    retentionDays: Optional[int] = None
    awayAfter: Optional[int] = None
    xaAfter: Optional[int] = None


@dataclass(frozen=True)
class Group:
    """
    A group of a company's users; its ID is public like a company's.
    """

    id: str
    company: str
    name: str
    sharedRoster: bool = True
    members: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Supporter:
    """
    A user designated as support staff: shown to website visitors under
    C{name}, addressed in public URLs by C{slug}, in C{position} order.
    """

    company: str
    jid: str
    slug: str
    name: str
    position: int = 0
    group: str | None = None


@dataclass(frozen=True)
class Profile:
    """
    What the directory knows about an account beyond its credentials.
    """

    jid: str
    displayName: str = ""
    enabled: bool = True
    companyAdmin: bool = False


@dataclass(frozen=True)
class DirectorySnapshot:
    companies: Tuple[Company, ...] = ()
    groups: Tuple[Group, ...] = ()
    supporters: Tuple[Supporter, ...] = ()
    profiles: Tuple[Profile, ...] = ()


class IDirectoryStore(Interface):
    def loadDirectory():
        """
        Everything, as a L{DirectorySnapshot} (read once at start-up).
        """

    def putCompany(company: Company):
        """
        Create or replace a company with its domains.
        """

    def deleteCompany(id: str):
        """
        Delete a company with its groups, supporters and visitor-chat
        transcripts (not its accounts).
        """

    def putGroup(group: Group):
        """
        Create or replace a group with its members.
        """

    def deleteGroup(id: str):
        """
        Delete a group.
        """

    def putSupporter(supporter: Supporter):
        """
        Create or replace a supporter entry.
        """

    def deleteSupporter(company: str, jid: str):
        """
        Remove a supporter entry.
        """

    def putProfile(profile: Profile):
        """
        Create or replace an account's profile.
        """


@dataclass(frozen=True)
class Transcript:
    """
    A visitor chat as kept for the company (Protokollierung).
    """

    id: str
    company: str
    publicId: str
    visitorName: str
    visitorEmail: str = ""
    parameters: Tuple[Tuple[str, str], ...] = ()
    supporters: Tuple[str, ...] = ()
    started: float = 0.0
    ended: float | None = None
    endedHow: str = ""


@dataclass(frozen=True)
class TranscriptLine:
    seq: int
    direction: str
    sender: str
    body: str
    stamp: float


class ITranscriptStore(Interface):
    def putTranscript(transcript: Transcript):
        """
        Create or update a chat's record (not its lines).
        """

    def appendLine(chat: str, line: TranscriptLine):
        """
        Add a line to a chat.
        """

    def getTranscript(chat: str):
        """
        Fire with C{(Transcript, [TranscriptLine])}, or C{None}.
        """

    def listTranscripts(company: str, since: float = 0.0, supporters=None, text: str = "",
                        offset: int = 0, limit: int = 50):
        """
        Fire with C{(chats, more)}: a page of a company's chats started since
        C{since}, newest first, from C{offset} on, at most C{limit}; C{more}
        says whether more follow.  Only chats served by one of C{supporters}
        (JIDs; C{None}: any), and with each word of C{text} beginning a word
        of the visitor's name, e-mail or parameter values (case and accents
        aside).
        """

    def deleteTranscript(chat: str):
        """
        Delete a chat and its lines.
        """

    def deleteTranscriptsBefore(company: str, stamp: float):
        """
        Delete a company's chats that started before C{stamp}; fire with how
        many.
        """
