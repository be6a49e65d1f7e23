"""
Tests for L{openmessenger.web.root}: the site's bounded request bodies and
its static files.
"""

from types import SimpleNamespace

from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.static import File
from twisted.web.test.requesthelper import DummyRequest

from openmessenger.web.root import STATIC, StaticFiles, makeSite


class Echo(Resource):
    """
    Stands in for every part of the site: tells how much body it got.
    """

    isLeaf = True

    def render(self, request):
        return b"%d" % len(request.content.read())


def routes():
    return SimpleNamespace(app=SimpleNamespace(resource=Echo))


class SiteTests(SynchronousTestCase):
    def setUp(self):
        self.site = makeSite(routes(), Echo(), Echo(), routes(), maxBody=1000)

    def send(self, data):
        channel = self.site.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        channel.dataReceived(data)
        self.addCleanup(channel.connectionLost, None)
        return transport

    def test_declaredTooLargeRefusedBeforeBody(self):
        """
        A body declared larger than the route takes is refused with 413
        before any of it is read; nothing of it is kept.
        """
        transport = self.send(b"POST /chat/start HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n"
                              + b"x" * 5000)
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 413 "), transport.value())
        self.assertTrue(transport.disconnecting)

    def test_chunkedTooLargeRefused(self):
        """
        A chunked body is refused as soon as it passes the limit.
        """
        chunk = b"%x\r\n%s\r\n" % (600, b"x" * 600)
        transport = self.send(b"POST /admin/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                              + chunk + chunk + chunk + b"0\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 413 "), transport.value())
        self.assertTrue(transport.disconnecting)

    def test_withinLimit(self):
        """
        A body within the limit reaches the route.
        """
        transport = self.send(b"POST /chat/start HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000)
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 200 "), transport.value())
        self.assertTrue(transport.value().endswith(b"1000"))

    def test_noBodyElsewhere(self):
        """
        Routes that take no input take no body.
        """
        transport = self.send(b"POST /status/acme.png HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 413 "), transport.value())



class StaticFilesTests(SynchronousTestCase):
    def test_noListingNoNUL(self):
        """
        Static files are found, their folder is not listed, and a name with
        a NUL in it is not found (not a server error).
        """
        static = StaticFiles(STATIC)
        self.assertIsInstance(static.getChild(b"chat.js", DummyRequest([b""])), File)
        for name in (b"", b"chat.js\0.png"):
            request = DummyRequest([b""])
            child = static.getChild(name, request)
            self.assertNotIsInstance(child, File)
            child.render(request)
            self.assertEqual(request.responseCode, 404)
