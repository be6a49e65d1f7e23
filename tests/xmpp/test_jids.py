"""
Tests for L{openmessenger.xmpp.jids}.
"""

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.xmpp import jids


class ParseTests(SynchronousTestCase):
    def test_prepared(self):
        """
        JIDs come out prepared: lower-case localpart and domain.
        """
        self.assertEqual(jids.parse("ADMIN@Example.COM/Res").full(), "admin@example.com/Res")
        self.assertEqual(jids.parse("example.com.").full(), "example.com")

    def test_resourceMayContainSlashesAndAt(self):
        """
        Everything after the first slash is the resource.
        """
        address = jids.parse("a@b/c/d@e")
        self.assertEqual((address.user, address.host, address.resource), ("a", "b", "c/d@e"))

    def test_invalid(self):
        """
        Empty parts, empty labels and overlong parts are L{InvalidJID}, never
        another exception.
        """
        for text in [
            "", "a..b", "user@a..b", "@example.com", "user@example.com/", "user@",
            "x" * 1024 + "@h", "u@h/" + "r" * 1024, "\u200b@h", "a b@h", "u@h\x00",
        ]:
            self.assertRaises(jids.InvalidJID, jids.parse, text)

    def test_longestParts(self):
        """
        Parts of exactly 1023 bytes are allowed.
        """
        jids.parse("u" * 1023 + "@h/" + "r" * 1023)

    def test_prepUser(self):
        """
        User names are prepared on their own; separators are refused.
        """
        self.assertEqual(jids.prepUser("Alice"), "alice")
        for bad in ["", "a@b", "a/b", "a b"]:
            self.assertRaises(jids.InvalidJID, jids.prepUser, bad)

    def test_prepDomain(self):
        """
        A domain with a localpart or resource is not a domain.
        """
        self.assertEqual(jids.prepDomain("Example.ORG"), "example.org")
        self.assertRaises(jids.InvalidJID, jids.prepDomain, "a@b")
