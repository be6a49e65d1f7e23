"""
Tests for L{openmessenger.xmpp.domains}.
"""

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.xmpp.domains import ServedDomains


class ServedDomainsTests(SynchronousTestCase):
    def test_follow(self):
        """
        A follower hears of the domains served already and of each one
        added or removed later; configured domains are never removed.
        """
        domains = ServedDomains(("example.com", "example.org"))
        seen = []
        domains.follow(lambda d: seen.append(("+", d)), lambda d: seen.append(("-", d)))
        domains.add("acme.example.com")
        domains.add("acme.example.com")
        domains.remove("acme.example.com")
        domains.remove("example.com")
        self.assertEqual(seen, [("+", "example.com"), ("+", "example.org"),
                                ("+", "acme.example.com"), ("-", "acme.example.com")])
        self.assertEqual((list(domains), domains.primary), (["example.com", "example.org"], "example.com"))
        self.assertIn("example.org", domains)
        self.assertNotIn("acme.example.com", domains)
