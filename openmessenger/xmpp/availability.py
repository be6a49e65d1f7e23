# -*- test-case-name: tests.xmpp.test_availability -*-
"""
Each account's effective availability, computed from its resources, and
observable: the web side and visitor chat watch it instead of polling.

States rank online (including C{chat}) > away > xa > dnd > offline.  The
available resources with the highest non-negative priority decide; among
them the best state wins.  Resources with negative priority count as
offline (they get no messages for the bare JID either).
"""

from twisted.logger import Logger

STATES = ("online", "away", "xa", "dnd", "offline")
_RANK = {state: rank for rank, state in enumerate(STATES)}


def stateOfShow(show):
    """
    Map a presence C{show} (C{None} for plain available) to a state.
    """
    return "online" if show in (None, "chat") else show


def best(states):
    """
    The best of some states (C{offline} for none).
    """
    return min(states, key=_RANK.__getitem__, default="offline")


def effectiveState(sessions):
    """
    The state of an account with these sessions.
    """
    candidates = [s for s in sessions if s.available and s.priority >= 0]
    if not candidates:
        return "offline"
    top = max(s.priority for s in candidates)
    return best(stateOfShow(s.show) for s in candidates if s.priority == top)


class Availability:
    """
    Effective states of accounts, with change notifications.

    The presence feature calls L{refresh} after every change it makes to a
    session; observers registered with L{watch} are called with
    C{(account, state)} when an account's state changes.
    """

    log = Logger()

    def __init__(self, sessions):
        self.sessions = sessions
        self._states = {}
        self._watchers = {}

    def stateOf(self, account):
        return self._states.get(account, "offline")

    def bestOf(self, accounts):
        """
        The best state among some accounts: a group's state.
        """
        return best(self.stateOf(a) for a in accounts)

    def refresh(self, account):
        state = effectiveState(self.sessions.sessionsOf(account))
        if state == self.stateOf(account):
            return
        if state == "offline":
            del self._states[account]
        else:
            self._states[account] = state
        for watcher in list(self._watchers.get(account, ())):
            try:
                watcher(account, state)
            except Exception:
                self.log.failure("Availability watcher failed")

    def watch(self, account, watcher):
        """
        Call C{watcher(account, state)} on every change of C{account}'s
        state.  Returns a function that stops watching.
        """
        self._watchers.setdefault(account, []).append(watcher)

        def unwatch():
            watchers = self._watchers.get(account, [])
            if watcher in watchers:
                watchers.remove(watcher)
            if not watchers:
                self._watchers.pop(account, None)

        return unwatch

    def watchGroup(self, accounts, watcher):
        """
        Call C{watcher(state)} whenever the best state among C{accounts}
        changes.  Returns a function that stops watching.
        """
        accounts = tuple(accounts)
        last = [self.bestOf(accounts)]

        def changed(account, state):
            now = self.bestOf(accounts)
            if now != last[0]:
                last[0] = now
                watcher(now)

        stops = [self.watch(account, changed) for account in accounts]
        return lambda: [stop() for stop in stops]
