"""
Tests for L{openmessenger.web.embed}.
"""

from html.parser import HTMLParser

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.web import embed


class Elements(HTMLParser):
    def __init__(self):
        HTMLParser.__init__(self)
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def parse(html):
    parser = Elements()
    parser.feed(html)
    return parser.found


class SnippetTests(SynchronousTestCase):
    def test_liveSnippet(self):
        """
        The live snippet links the chat with the parameters around the image
        of the chosen set and language, and refreshes it every 10 seconds.
        """
        live, plain = embed.snippets("https://om.example", "sales", "alice", "button", "de",
                                     [("Kundennummer", "56164"), ("URL", "www.example.com")])
        elements = parse(live)
        (a, img, script) = [e for e in elements if e[0] in ("a", "img", "script")]
        self.assertEqual(
            a[1]["href"],
            "https://om.example/chat?company=sales&supporter=alice&param_Kundennummer=56164&param_URL=www.example.com",
        )
        self.assertEqual(img[1]["src"], "https://om.example/status/sales/alice.png?iconset=button&lang=de")
        self.assertEqual((img[1]["width"], img[1]["height"]), ("200", "48"))
        self.assertIn("10000", live)
        self.assertNotIn("cookie", live)
        self.assertNotIn("<link", live)
        self.assertNotIn("src=\"http", live.split("<script>")[1])

    def test_plainSnippet(self):
        """
        The e-mail variant is a plain link around an image, no script.
        """
        live, plain = embed.snippets("https://om.example", "acme")
        self.assertEqual([e[0] for e in parse(plain)], ["a", "img"])
        self.assertNotIn("script", plain)

    def test_hostileValuesEscaped(self):
        """
        Parameter names and values cannot break out of the attribute.
        """
        live, plain = embed.snippets("https://om.example", "acme", None, "label", "en",
                                     [('x"><script>alert(1)</script>', '"onmouseover="alert(1)')])
        self.assertNotIn("<script>alert", plain)
        self.assertEqual([e[0] for e in parse(plain)], ["a", "img"])
