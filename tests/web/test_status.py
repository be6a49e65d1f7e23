"""
Tests for L{openmessenger.web.status}: status buttons.
"""

import io
import itertools
import json

from PIL import Image, ImageChops, ImageStat
from treq.testing import StubTreq
from twisted.trial.unittest import SynchronousTestCase
from twisted.internet.testing import StringTransport
from twisted.web import server
from twisted.web.resource import Resource

from openmessenger import buttons
from openmessenger.web import iconart
from openmessenger.web.status import StatusResource, loadAnswers
from tests.helpers import FakeServer

BASE = "http://om.example/status"
ANSWERS = loadAnswers()


class StatusTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        for user in ["alice@example.com", "bob@example.com", "carol@example.com"]:
            self.server.addUser(user)
        d = self.directory = self.server.core.directory
        self.successResultOf(d.addCompany("acme", "ACME", ["example.com"]))
        self.successResultOf(d.addGroup("sales", "acme", "Sales"))
        self.successResultOf(d.setMembers("sales", ["alice@example.com", "bob@example.com"]))
        self.successResultOf(d.addSupporter("acme", "alice@example.com", "alice", "Alice", 1, "sales"))
        self.successResultOf(d.addSupporter("acme", "bob@example.com", "bob", "Bob", 2, "sales"))
        root = self.root = Resource()
        self.resource = StatusResource(d, self.server.core.availability, self.server.clock, ANSWERS)
        root.putChild(b"status", self.resource)
        self.client = StubTreq(root)

    def fetch(self, path, **kwargs):
        response = self.successResultOf(self.client.get(BASE + path, **kwargs))
        return response, self.successResultOf(response.content())

    def show(self, user, show=None):
        client = self.server.login(user, available=False)
        client.send(f"<presence><show>{show}</show></presence>" if show else "<presence/>")
        return client

    def test_eachState(self):
        """
        A supporter's button follows each presence change at once, in PNG,
        SVG and JSON.
        """
        alice = self.server.login("alice@example.com", available=False)
        for show, state in [(None, "online"), ("chat", "online"), ("away", "away"), ("xa", "xa"), ("dnd", "dnd")]:
            alice.send(f"<presence><show>{show}</show></presence>" if show else "<presence/>")
            _, png = self.fetch("/acme/alice.png")
            self.assertTrue(png == ANSWERS[("png", "label", state, "en", 1)].body, show)
            _, body = self.fetch("/acme/alice.json")
            self.assertEqual(json.loads(body), {"state": state, "label": buttons.LABELS["en"][state]})
            _, svg = self.fetch("/acme/alice.svg")
            self.assertTrue(svg == ANSWERS[("svg", "label", state, "en", 1)].body, show)
        alice.stream.connectionLost(None)
        self.assertEqual(json.loads(self.fetch("/acme/alice.json")[1])["state"], "offline")

    def test_groupShowsBest(self):
        """
        A group or company shows the best state among its support staff.
        """
        self.show("alice@example.com", "xa")
        self.assertEqual(json.loads(self.fetch("/sales.json")[1])["state"], "xa")
        self.show("bob@example.com", "away")
        self.assertEqual(json.loads(self.fetch("/sales.json")[1])["state"], "away")
        self.assertEqual(json.loads(self.fetch("/acme.json")[1])["state"], "away")

    def test_privacy(self):
        """
        Unknown IDs, non-supporters (even online), disabled supporters and
        malformed requests all get the byte-identical offline answer.
        """
        self.show("carol@example.com")
        self.show("bob@example.com")
        self.successResultOf(self.directory.setProfile("bob@example.com", enabled=False))
        self.show("alice@example.com", "dnd")  # so "offline" is not just everyone's state
        offline = self.fetch("/nope.png")
        for path in ["/acme/carol.png", "/acme/bob.png", "/nope/alice.png", "/sales/carol.png",
                     "/acme/alice/extra.png", "/.png", "/acme/ALICE.png", "/%00.png", "/acme/alice.gif"]:
            response, body = self.fetch(path)
            self.assertTrue(body == offline[1], path)
            self.assertEqual(response.headers.getRawHeaders("etag"), offline[0].headers.getRawHeaders("etag"), path)
        self.assertFalse(self.fetch("/acme/alice.png")[1] == offline[1])

    def test_noSideEffects(self):
        """
        Asking for a button sends no stanza and changes no roster.
        """
        carol = self.server.login("carol@example.com")
        for path in ["/acme.png", "/acme/alice.png", "/acme/carol.png"]:
            self.fetch(path)
        self.assertEqual(carol.read(), [])
        self.assertEqual(self.server.store._rosters, {})

    def test_caching(self):
        """
        Answers are no-cache with a strong ETag; a matching If-None-Match is
        a 304 without body.
        """
        response, body = self.fetch("/acme/alice.png")
        self.assertEqual(response.headers.getRawHeaders("cache-control"), ["no-cache"])
        etag = response.headers.getRawHeaders("etag")[0]
        self.assertTrue(etag.startswith('"'))
        response, body = self.fetch("/acme/alice.png", headers={"if-none-match": etag})
        self.assertEqual((response.code, body), (304, b""))
        # On the wire: no Content-Length (not twisted.web's 0, RFC 9110
        # 8.6), no chunking, and the connection stays open for the next.
        channel = server.Site(self.root).buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        channel.dataReceived(b"GET /status/acme/alice.png HTTP/1.1\r\nHost: om.example\r\n"
                             b"If-None-Match: %s\r\n\r\n" % etag.encode())
        head, _, rest = transport.value().partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 304 "), head)
        self.assertNotIn(b"content-length", head.lower())
        self.assertNotIn(b"transfer-encoding", head.lower())
        self.assertEqual(rest, b"")
        self.assertFalse(transport.disconnecting)
        channel.connectionLost(None)
        self.show("alice@example.com")
        response, body = self.fetch("/acme/alice.png", headers={"if-none-match": etag})
        self.assertEqual(response.code, 200)

    def test_options(self):
        """
        Icon set, language and scale choose the picture; JSON allows any
        origin.
        """
        self.show("alice@example.com")
        _, body = self.fetch("/acme/alice.png?iconset=button&lang=de&scale=2")
        self.assertTrue(body == ANSWERS[("png", "button", "online", "de", 2)].body)
        self.assertEqual(Image.open(io.BytesIO(body)).size, (400, 96))
        response, body = self.fetch("/acme/alice.json?lang=de")
        self.assertEqual(json.loads(body)["label"], "Online")
        self.assertEqual(response.headers.getRawHeaders("access-control-allow-origin"), ["*"])
        self.assertEqual(json.loads(self.fetch("/acme.json", headers={"accept-language": "de"})[1])["state"], "online")


class EventStreamTests(SynchronousTestCase):
    def setUp(self):
        StatusTests.setUp(self)

    show = StatusTests.show

    def request(self, path, client="192.0.2.1"):
        from twisted.internet.address import IPv4Address
        from twisted.web.test.requesthelper import DummyRequest

        request = DummyRequest(path.encode().split(b"/"))
        request.client = IPv4Address("TCP", client, 40000)
        request.args = {}
        body = self.resource.render_GET(request)
        return request, body

    def events(self, request):
        return [json.loads(chunk[6:]) for chunk in b"".join(request.written).split(b"\n\n")
                if chunk.startswith(b"data: ")]

    def test_pushesChanges(self):
        """
        A stream sends the state, then every change at once, and keep-alives.
        """
        from twisted.web.server import NOT_DONE_YET

        request, body = self.request("sales.events")
        self.assertEqual(body, NOT_DONE_YET)
        alice = self.show("alice@example.com", "away")
        alice.send("<presence/>")
        self.assertEqual([e["state"] for e in self.events(request)], ["offline", "away", "online"])
        self.server.clock.advance(20)
        self.assertIn(b": keep-alive\n\n", request.written)
        request.finish()
        self.assertEqual(self.resource.streams, 0)
        self.assertEqual(self.server.clock.getDelayedCalls(), [])

    def test_boundedPerAddress(self):
        """
        One address cannot take all streams: beyond its share it gets 503
        with Retry-After, while others still get theirs; a closed stream
        frees its place.
        """
        self.resource.maxStreamsPerAddress = 2
        first, _ = self.request("sales.events")
        self.request("sales.events")
        refused, _ = self.request("sales.events")
        self.assertEqual(refused.responseCode, 503)
        self.assertEqual(refused.responseHeaders.getRawHeaders(b"retry-after"), [b"30"])
        other, _ = self.request("sales.events", client="198.51.100.2")
        self.assertIsNone(other.responseCode)
        first.finish()
        again, _ = self.request("sales.events")
        self.assertIsNone(again.responseCode)

    def test_privateStreamsSayOffline(self):
        """
        A stream for something not public says offline and nothing else.
        """
        self.show("carol@example.com")
        request, _ = self.request("acme/carol.events")
        self.assertEqual([e["state"] for e in self.events(request)], ["offline"])
        request.finish()


class ArtworkTests(SynchronousTestCase):
    def test_statesDifferInGreyscale(self):
        """
        In every set and language, each pair of states looks different even
        without colour.
        """
        for (iconset, lang, scale) in itertools.product(buttons.ICONSETS, ("en", "de"), (1, 2)):
            grey = {
                state: Image.open(io.BytesIO(ANSWERS[("png", iconset, state, lang, scale)].body))
                .convert("LA").convert("L")
                for state in buttons.STATES
            }
            for a, b in itertools.combinations(buttons.STATES, 2):
                self.assertEqual(grey[a].size, grey[b].size, (iconset, lang, scale, a, b))
                difference = ImageStat.Stat(ImageChops.difference(grey[a], grey[b])).mean[0]
                self.assertGreater(difference, 1.0, (iconset, lang, scale, a, b))

    def test_drawingIsReproducible(self):
        """
        The committed SVGs are what the script draws now.
        """
        for iconset in buttons.ICONSETS:
            for state in buttons.STATES:
                drawn = iconart.toSVG(iconart.drawing(iconset, state, "de"))
                self.assertEqual(drawn, ANSWERS[("svg", iconset, state, "de", 1)].body, (iconset, state))
