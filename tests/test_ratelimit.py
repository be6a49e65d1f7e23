"""
Tests for L{openmessenger.ratelimit}.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from openmessenger.ratelimit import GuessingGuard, Throttle


class ThrottleTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.throttle = Throttle(3, 60, self.clock)

    def test_countedBeforeChecked(self):
        """
        Each attempt counts as it is made: the fourth within the window is
        refused, without anything being reported afterwards.
        """
        self.assertEqual([self.throttle.attempt("a") for _ in range(4)], [True, True, True, False])
        self.assertTrue(self.throttle.attempt("b"))

    def test_windowSlides(self):
        """
        Attempts older than the window no longer count; refused ones never do.
        """
        for _ in range(3):
            self.clock.advance(20)
            self.throttle.attempt("a")
        self.assertFalse(self.throttle.attempt("a"))
        self.clock.advance(19)
        self.assertFalse(self.throttle.attempt("a"))
        self.clock.advance(1)
        self.assertTrue(self.throttle.attempt("a"))

    def test_forgive(self):
        """
        A forgiven attempt (one that went well) makes room again.
        """
        for _ in range(3):
            self.throttle.attempt("a")
        self.throttle.forgive("a")
        self.assertTrue(self.throttle.attempt("a"))
        self.assertFalse(self.throttle.allowed("a"))

    def test_noLimit(self):
        """
        A limit of 0 lets everything through.
        """
        throttle = Throttle(0, 60, self.clock)
        self.assertTrue(all(throttle.attempt("a") for _ in range(100)))

    def test_boundedMemory(self):
        """
        Only so many keys are remembered, the least recently used dropped.
        """
        self.throttle.maxKeys = 10
        for n in range(100):
            self.throttle.attempt(n)
        self.assertEqual(len(self.throttle._attempts), 10)


class GuessingGuardTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.guard = GuessingGuard(2, 600, self.clock)

    def test_strangersLimitedKnownAddressFree(self):
        """
        Failures from new addresses count against the account; an address
        it logged in from is never refused.
        """
        self.assertTrue(self.guard.attempt("alice", "home"))
        self.guard.succeeded("alice", "home")
        self.assertTrue(self.guard.attempt("alice", "x1"))
        self.assertTrue(self.guard.attempt("alice", "x2"))
        self.assertFalse(self.guard.attempt("alice", "x3"))
        self.assertTrue(all(self.guard.attempt("alice", "home") for _ in range(10)))
        self.assertTrue(self.guard.attempt("bob", "x3"))

    def test_successFromNewAddressNotCounted(self):
        """
        A new address whose attempt succeeds takes its attempt back and is
        known from then on.
        """
        for address in ("a", "b"):
            self.assertTrue(self.guard.attempt("alice", address))
            self.guard.succeeded("alice", address)
        self.assertTrue(self.guard.attempt("alice", "c"))
        self.assertTrue(self.guard.attempt("alice", "d"))
