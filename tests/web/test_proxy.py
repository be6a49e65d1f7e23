"""
Tests for L{openmessenger.web.proxy}.
"""

from twisted.internet.address import IPv4Address
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from openmessenger.web.proxy import clientAddress, isSecure

PROXY = "10.0.0.5"


def request(peer, forwardedFor=None, proto=None):
    r = DummyRequest([b""])
    r.client = IPv4Address("TCP", peer, 4321)
    r.isSecure = lambda: False
    if forwardedFor:
        r.requestHeaders.setRawHeaders(b"x-forwarded-for", [forwardedFor.encode()])
    if proto:
        r.requestHeaders.setRawHeaders(b"x-forwarded-proto", [proto.encode()])
    return r


class ProxyTests(SynchronousTestCase):
    def test_untrustedHeadersIgnored(self):
        """
        Headers from anyone but a trusted proxy are ignored.
        """
        r = request("203.0.113.9", "1.2.3.4", "https")
        self.assertEqual(clientAddress(r, {PROXY}), "203.0.113.9")
        self.assertFalse(isSecure(r, {PROXY}))

    def test_trustedProxy(self):
        """
        Behind a trusted proxy, the client is the last address it added, not
        whatever the client wrote in front.
        """
        r = request(PROXY, "6.6.6.6, 198.51.100.7", "https")
        self.assertEqual(clientAddress(r, {PROXY}), "198.51.100.7")
        self.assertTrue(isSecure(r, {PROXY}))

    def test_chainOfProxies(self):
        """
        Several trusted proxies in a row are skipped.
        """
        r = request(PROXY, "198.51.100.7, 10.0.0.6", "http")
        self.assertEqual(clientAddress(r, {PROXY, "10.0.0.6"}), "198.51.100.7")
        self.assertFalse(isSecure(r, {PROXY}))
