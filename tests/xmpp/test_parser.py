"""
Tests for L{openmessenger.xmpp.parser}: restricted XML and stanza limits.
"""

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.xmpp import parser

HEADER = (
    b"<stream:stream xmlns='jabber:client' "
    b"xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>"
)


class RestrictedElementStreamTests(SynchronousTestCase):
    def setUp(self):
        self.stream = parser.RestrictedElementStream(maxStanzaSize=1000)
        self.events = []
        self.stream.DocumentStartEvent = lambda root: self.events.append(root.name)
        self.stream.ElementEvent = lambda element: self.events.append(element.toXml())
        self.stream.DocumentEndEvent = lambda: self.events.append("end")

    def refused(self, data, error):
        failure = self.assertRaises(error, self.stream.parse, data)
        return failure

    def test_stanzas(self):
        """
        Ordinary stanzas come out one by one.
        """
        self.stream.parse(HEADER + b"<message><body>hi</body></message><iq/></stream:stream>")
        self.assertEqual(
            self.events,
            [
                "stream",
                "<message xmlns='jabber:client'><body>hi</body></message>",
                "<iq xmlns='jabber:client'/>",
                "end",
            ],
        )

    def test_doctype(self):
        """
        A DOCTYPE, and so any entity declaration (billion laughs), is refused
        with C{restricted-xml} before any entity is expanded.
        """
        laughs = (
            b"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
            + b"".join(
                b"<!ENTITY lol%d '%s'>" % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                for i in range(1, 10)
            )
            + b"]>"
            + HEADER
            + b"<message><body>&lol9;</body></message>"
        )
        error = self.refused(laughs, parser.RestrictedXML)
        self.assertEqual(error.condition, "restricted-xml")
        self.assertEqual(self.events, [])

    def test_internalEntityInStream(self):
        """
        An entity declaration without a DOCTYPE is not even well-formed.
        """
        self.refused(HEADER + b"<!ENTITY x 'y'>", parser.StreamLimitError)

    def test_comment(self):
        """
        Comments are C{restricted-xml}.
        """
        self.stream.parse(HEADER)
        self.assertEqual(self.refused(b"<!-- hi -->", parser.RestrictedXML).condition, "restricted-xml")

    def test_processingInstruction(self):
        """
        Processing instructions are C{restricted-xml}.
        """
        self.stream.parse(HEADER)
        self.refused(b"<message><?php x ?></message>", parser.RestrictedXML)

    def test_xml11(self):
        """
        XML 1.1 is C{restricted-xml}.
        """
        self.refused(b"<?xml version='1.1'?>" + HEADER, parser.RestrictedXML)

    def test_otherEncoding(self):
        """
        A stream declared in another encoding than UTF-8 is refused with
        C{restricted-xml}; UTF-8 declared is fine.
        """
        error = self.refused(b"<?xml version='1.0' encoding='ISO-8859-1'?>" + HEADER, parser.RestrictedXML)
        self.assertEqual(error.condition, "restricted-xml")
        self.setUp()
        self.stream.parse(b"<?xml version='1.0' encoding='UTF-8'?>" + HEADER)
        self.assertEqual(self.events, ["stream"])

    def test_notWellFormed(self):
        """
        Malformed XML is C{not-well-formed}.
        """
        self.stream.parse(HEADER)
        error = self.refused(b"<message></iq>", parser.NotWellFormed)
        self.assertEqual(error.condition, "not-well-formed")

    def test_oversizeStanzaRefusedEarly(self):
        """
        A stanza growing past the limit is refused within one chunk of it,
        however large the read was and without waiting for its end.
        """
        self.stream.maxStanzaSize = 100000
        self.stream.parse(HEADER)
        huge = b"<message><body>" + b"x" * 10_000_000
        error = self.refused(huge, parser.StanzaTooBig)
        self.assertEqual((error.condition, error.appCondition), ("policy-violation", "stanza-too-big"))
        self.assertLessEqual(self.stream.fed, len(HEADER) + 100000 + parser.CHUNK)

    def test_limitCountsPerStanza(self):
        """
        Many stanzas each under the limit pass, whatever their sum.
        """
        self.stream.parse(HEADER)
        stanza = b"<message><body>" + b"x" * 800 + b"</body></message>"
        self.stream.parse(stanza * 20)
        self.assertEqual(len(self.events), 21)

    def test_depth(self):
        """
        Elements nested deeper than C{maxDepth} are a C{policy-violation}.
        """
        self.stream.parse(HEADER)
        deep = b"<message>" + b"<a>" * parser.RestrictedElementStream.maxDepth
        self.assertEqual(self.refused(deep, parser.StanzaTooBig).condition, "policy-violation")

    def test_elementCount(self):
        """
        A stanza of more than C{maxElementCount} elements (many tiny ones
        within the byte limit) is a C{policy-violation}; as many in separate
        stanzas pass.
        """
        self.patch(parser.RestrictedElementStream, "maxElementCount", 50)
        self.stream.parse(HEADER)
        self.stream.parse(b"<iq>" + b"<a/>" * 49 + b"</iq>")
        self.stream.parse(b"<iq>" + b"<a/>" * 49 + b"</iq>")
        self.assertEqual(len(self.events), 3)
        self.assertEqual(self.refused(b"<iq>" + b"<a/>" * 50 + b"</iq>", parser.StanzaTooBig).condition,
                         "policy-violation")

    def test_allowedDepth(self):
        """
        Nesting up to C{maxDepth} is fine.
        """
        self.stream.parse(HEADER)
        depth = parser.RestrictedElementStream.maxDepth - 1
        self.stream.parse(b"<message>" + b"<a>" * depth + b"</a>" * depth + b"</message>")
        self.assertEqual(len(self.events), 2)

    def test_textIsBuffered(self):
        """
        Text arrives in large pieces, not line by line, so building a body of
        many short lines stays linear (twisted's default is quadratic).
        """
        self.assertTrue(self.stream.parser.buffer_text)
        self.stream.maxStanzaSize = 10**6
        self.stream.parse(HEADER + b"<message><body>" + b"\n" * 200000 + b"</body></message>")
        self.assertEqual(len(self.events[1]), len("<message xmlns='jabber:client'><body></body></message>") + 200000)

    def test_detach(self):
        """
        After C{detach}, the rest of the data is ignored, even malformed.
        """
        self.stream.parse(HEADER)
        self.stream.ElementEvent = lambda element: (self.events.append(element.name), self.stream.detach())
        self.stream.parse(b"<starttls/><iq type='set'/><!-- x --></junk>")
        self.assertEqual(self.events, ["stream", "starttls"])
