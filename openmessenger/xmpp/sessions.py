# -*- test-case-name: tests.xmpp.test_sessions -*-
"""
The table of connected resources, shared by routing and the features.

The C2S code is the only writer of L{SessionRegistry} (bind and unbind); the
presence feature is the only writer of a L{Session}'s presence fields.
Everything else reads.
"""

from __future__ import annotations

from typing import Dict, List, Optional


class Session:
    """
    One bound resource.

    @ivar jid: the full JID.
    @ivar presence: the last available presence the client broadcast, or
        C{None} while it is not available (before initial presence, or after
        it sent unavailable).
    @ivar priority: the priority of that presence.
    @ivar show: its C{show} (C{None} for plain available).
    @ivar idleSince: since when the user has been idle, as the client
        reported it (XEP-0319, XEP-0352), or C{None} while active.
    @ivar suspended: while the connection is broken and the session may be
        resumed (XEP-0198), the presence to broadcast again on resumption.
    @ivar interested: the client requested the roster, so it gets roster
        pushes (RFC 6121 2.1.6).
    @ivar directed: the addresses it sent directed presence to, which get
        unavailable presence when it goes offline (RFC 6121 4.6.3).
    """

    def __init__(self, jid, stream):
        self.jid = jid
        self.full = jid.full()
        self.bare = jid.userhost()
        self.stream = stream
        self.presence = None
        self.priority = 0
        self.show = None
        self.idleSince = None
        self.suspended = None
        self.interested = False
        self.directed = set()

    @property
    def available(self) -> bool:
        return self.presence is not None

    def send(self, element):
        """
        Deliver a stanza to the client.
        """
        self.stream.send(element)

    def confirmed(self):
        """
        Fire with C{True} once the client has everything sent to it so far,
        with C{False} if the session ends before (see
        L{ClientStream.confirmed}).
        """
        return self.stream.confirmed()

    def close(self, condition: str, text: str = ""):
        """
        End the session with a stream error.
        """
        self.stream.closeWithError(condition, text)

    def __repr__(self):
        return f"<Session {self.full}>"


class SessionRegistry:
    """
    Bound sessions by full JID and by account.
    """

    def __init__(self):
        self._byFull: Dict[str, Session] = {}
        self._byBare: Dict[str, Dict[str, Session]] = {}
        #: Sessions whose connection broke and that may be resumed (XEP-0198),
        #: by full JID: not bound, but messages to them wait in their queue.
        self._suspended: Dict[str, Session] = {}

    def add(self, session: Session):
        assert session.full not in self._byFull, session.full
        self._byFull[session.full] = session
        self._byBare.setdefault(session.bare, {})[session.full] = session

    def remove(self, session: Session):
        if self._byFull.get(session.full) is not session:
            return
        del self._byFull[session.full]
        resources = self._byBare[session.bare]
        del resources[session.full]
        if not resources:
            del self._byBare[session.bare]

    def get(self, full: str) -> Optional[Session]:
        return self._byFull.get(full)

    def suspend(self, session: Session):
        """
        Take a session out, keeping it as suspended until it is resumed or
        ends (L{unsuspend}).
        """
        self.remove(session)
        self._suspended[session.full] = session

    def unsuspend(self, session: Session):
        if self._suspended.get(session.full) is session:
            del self._suspended[session.full]

    def suspended(self, full: str) -> Optional[Session]:
        return self._suspended.get(full)

    def sessionsOf(self, bare: str) -> List[Session]:
        """
        All bound sessions of an account.
        """
        return list(self._byBare.get(bare, {}).values())

    def availableSessions(self, bare: str) -> List[Session]:
        """
        The account's sessions that sent available presence.
        """
        return [s for s in self._byBare.get(bare, {}).values() if s.available]

    def topSessions(self, bare: str) -> List[Session]:
        """
        The sessions a message to the bare JID goes to (RFC 6121 8.5.2.1.1):
        the available ones with the highest non-negative priority.
        """
        candidates = [s for s in self.availableSessions(bare) if s.priority >= 0]
        if not candidates:
            return []
        best = max(s.priority for s in candidates)
        return [s for s in candidates if s.priority == best]

    def all(self) -> List[Session]:
        """
        Every bound session.
        """
        return list(self._byFull.values())

    def accounts(self) -> List[str]:
        """
        The accounts with at least one bound session.
        """
        return list(self._byBare)
