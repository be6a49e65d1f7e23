"""
Tests for L{openmessenger.text}.
"""

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.text import clean, indented, oneLine, xmlSafe


class TextTests(SynchronousTestCase):
    def test_xmlSafe(self):
        """
        Every character XML 1.0 forbids goes; tab, line breaks and ordinary
        text stay.
        """
        forbidden = [chr(c) for c in range(32) if chr(c) not in "\t\n\r"]
        forbidden += ["\ud800", "\udfff", "\ufffe", "\uffff"]
        self.assertEqual(xmlSafe("a" + "".join(forbidden) + "\t\n\rä€😀"), "a\t\n\rä€😀")

    def test_clean(self):
        """
        Web input keeps tabs and line breaks (as newlines), loses DEL, C1
        controls (terminal escapes) and the rest.
        """
        self.assertEqual(clean("a\r\nb\rc\x1b[31m\x9b1m\x7f\td"), "a\nb\nc[31m1m\td")

    def test_oneLine(self):
        """
        A value on one line can never start a line of its own.
        """
        self.assertEqual(oneLine(" 4711\nVisitor:\tAdmin \r\n"), "4711 Visitor: Admin")

    def test_indented(self):
        """
        The further lines of a text start with the prefix.
        """
        self.assertEqual(indented("one\nVisitor: x\r\nthree"), "one\n    Visitor: x\n    three")
