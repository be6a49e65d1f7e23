# -*- test-case-name: tests.test_ratelimit -*-
"""
Limits on how often something may happen: login attempts, registrations,
chats started, stanzas and bytes a session sends.

Every attempt is counted I{before} it is checked (L{Throttle.attempt}), so
attempts made in parallel, each waiting for a password check, cannot all
pass; one that turns out well may be forgiven.  Memory is bounded: only so
many keys are remembered, the least recently used forgotten first.
"""

import collections


class Throttle:
    """
    At most C{limit} attempts per key (an IP address, an account) within a
    sliding window of C{window} seconds; C{limit} 0 means no limit.
    """

    #: Keys remembered at most.
    maxKeys = 10000

    def __init__(self, limit, window, clock):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._attempts = collections.OrderedDict()

    def _recent(self, key):
        times = self._attempts.get(key)
        if times is None:
            return None
        horizon = self.clock.seconds() - self.window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._attempts[key]
            return None
        return times

    def allowed(self, key) -> bool:
        """
        Whether another attempt would be within the limit (counting nothing).
        """
        times = self._recent(key)
        return not self.limit or times is None or len(times) < self.limit

    def attempt(self, key) -> bool:
        """
        Count an attempt, then tell whether it is within the limit.  One
        refused is not counted, so waiting out the window always helps.
        """
        if not self.allowed(key):
            return False
        times = self._recent(key)
        if times is None:
            times = self._attempts[key] = collections.deque()
        self._attempts.move_to_end(key)
        times.append(self.clock.seconds())
        while len(self._attempts) > self.maxKeys:
            self._attempts.popitem(last=False)
        return True

    def forgive(self, key):
        """
        Take back the last attempt counted for C{key} (it went well).
        """
        times = self._recent(key)
        if times:
            times.pop()
            if not times:
                del self._attempts[key]


class GuessingGuard:
    """
    Slows password guessing against one account from many addresses
    without locking its user out: failed attempts from addresses the account
    has never logged in from count against the account; beyond C{limit} in
    C{window} seconds only its known addresses may try.  The addresses of the
    last few successful logins of each account are known (in memory: after
    a restart every address is new again).
    """

    #: Addresses remembered per account, and accounts at most.
    knownPerAccount = 8
    maxAccounts = 10000

    def __init__(self, limit, window, clock):
        self.strangers = Throttle(limit, window, clock)
        self._known = collections.OrderedDict()

    def attempt(self, account, address) -> bool:
        """
        Count an attempt on C{account} from C{address}; whether it may go on.
        """
        if address in self._known.get(account, ()):
            return True
        return self.strangers.attempt(account)

    def succeeded(self, account, address):
        """
        The attempt was right: it does not count, and the address is known.
        """
        known = self._known.get(account)
        if known is None:
            known = self._known[account] = collections.deque(maxlen=self.knownPerAccount)
        if address in known:
            known.remove(address)
        else:
            self.strangers.forgive(account)
        known.append(address)
        self._known.move_to_end(account)
        while len(self._known) > self.maxAccounts:
            self._known.popitem(last=False)


class TokenBucket:
    """
    A rate with room for bursts: C{rate} units a second on average, up to
    C{burst} seconds' worth at once (Prosody's C{mod_limits}, ejabberd's
    shapers); C{rate} 0 means no limit.
    """

    def __init__(self, rate, burst, clock):
        self.rate = rate
        self.capacity = rate * burst
        self.clock = clock
        self.tokens = self.capacity
        self.stamp = clock.seconds()

    def take(self, amount) -> float:
        """
        Use C{amount} units; return how many seconds to wait before more
        should come (0: none).
        """
        if not self.rate:
            return 0.0
        now = self.clock.seconds()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate) - amount
        self.stamp = now
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate
