# -*- test-case-name: tests.xmpp.test_parser -*-
"""
An XML stream parser that enforces RFC 6120's restricted XML and our limits.

Twisted's expat-based element stream accepts DOCTYPEs (and with them entity
expansion: billion laughs), comments, processing instructions and XML 1.1; it
accumulates text quadratically and has no depth bound.  This subclass rejects
the restricted constructs the moment expat reports them, buffers text, and
bounds each top-level stanza by bytes, element depth and element count.  The
errors it raises carry the stream error condition to send (RFC 6120 4.9.3).
"""

import pyexpat

from twisted.words.xish import domish

# Older expat lets a namespace URI smuggle in the separator (CVE-2022-25236,
# the Zoom XMPP stanza smuggling); refuse to run on it.
if pyexpat.version_info < (2, 4, 5):  # pragma: no cover (build-dependent)
    raise ImportError(f"expat {pyexpat.EXPAT_VERSION} is too old; 2.4.5 or newer is needed")

# Feed expat at most this many bytes at a time, so a stanza over the size
# limit is refused after at most this many bytes beyond the limit, however
# large a single read was.
CHUNK = 4096


class StreamLimitError(domish.ParserError):
    """
    The peer's XML breaks a rule; C{condition} names the stream error.
    """

    condition = "not-well-formed"
    appCondition = None

    def __init__(self, text):
        domish.ParserError.__init__(self, text)
        self.text = text


class RestrictedXML(StreamLimitError):
    condition = "restricted-xml"


class StanzaTooBig(StreamLimitError):
    condition = "policy-violation"
    appCondition = "stanza-too-big"


class NotWellFormed(StreamLimitError):
    condition = "not-well-formed"


def _forbid(what):
    def handler(*args):
        raise RestrictedXML(f"{what} are not allowed in XMPP (RFC 6120 11.1)")

    return handler


class RestrictedElementStream(domish.ExpatElementStream):
    """
    Parse an XMPP stream; raise L{StreamLimitError} on anything not allowed.

    @ivar maxStanzaSize: the most bytes one top-level stanza may take,
        counted from the end of the previous stanza (or the stream start).
        Settable while parsing, e.g. raised after authentication.
    @ivar maxDepth: the deepest nesting allowed inside one stanza.
    @ivar maxElementCount: the most elements in one stanza (small elements
        cost far more memory than their bytes).
    """

    maxDepth = 32
    maxElementCount = 10000

    def __init__(self, maxStanzaSize=262144):
        domish.ExpatElementStream.__init__(self)
        self.maxStanzaSize = maxStanzaSize
        parser = self.parser
        parser.buffer_text = True
        parser.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = _forbid("document type declarations")
        parser.EntityDeclHandler = _forbid("entity declarations")
        parser.CommentHandler = _forbid("comments")
        parser.ProcessingInstructionHandler = _forbid("processing instructions")
        parser.XmlDeclHandler = self._onXmlDecl
        self.depth = 0
        self.elements = 0
        self.fed = 0
        self.boundary = 0
        self.detached = False

    def detach(self):
        """
        Stop delivering events: whatever this parser has not parsed yet is
        dropped.  Used when the stream is reset (STARTTLS, SASL success),
        so bytes a client pipelined behind C{<starttls/>} are never acted on.
        """
        self.detached = True
        ignore = lambda *args: None
        self.DocumentStartEvent = self.ElementEvent = self.DocumentEndEvent = ignore

    def parse(self, buffer):
        for start in range(0, len(buffer), CHUNK):
            if self.detached:
                return
            chunk = buffer[start : start + CHUNK]
            self.fed += len(chunk)
            try:
                self.parser.Parse(chunk)
            except (self.error, StreamLimitError) as e:
                if self.detached:
                    return
                if isinstance(e, StreamLimitError):
                    raise
                raise NotWellFormed(str(e)) from None
            if not self.detached and self.fed - self.boundary > self.maxStanzaSize:
                raise StanzaTooBig(
                    f"stanza larger than {self.maxStanzaSize} bytes"
                )

    def _onXmlDecl(self, version, encoding, standalone):
        if version != "1.0":
            raise RestrictedXML(f"XML version {version} is not allowed")
        if encoding is not None and encoding.upper() not in ("UTF-8", "UTF8"):
            raise RestrictedXML("XMPP streams must be UTF-8")

    def _onStartElement(self, name, attrs):
        if self.documentStarted:
            self.depth += 1
            if self.depth > self.maxDepth:
                raise StanzaTooBig(f"elements nested deeper than {self.maxDepth}")
            self.elements = 1 if self.depth == 1 else self.elements + 1
            if self.elements > self.maxElementCount:
                raise StanzaTooBig(f"more than {self.maxElementCount} elements in one stanza")
        domish.ExpatElementStream._onStartElement(self, name, attrs)

    def _onEndElement(self, name):
        stanzaDone = self.depth == 1
        self.depth = max(0, self.depth - 1)
        if stanzaDone:
            self.boundary = self.parser.CurrentByteIndex
        domish.ExpatElementStream._onEndElement(self, name)
