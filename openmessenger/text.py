# -*- test-case-name: tests.test_text -*-
"""
Text that crosses a boundary: cleaned where it enters, and safe wherever it
is written.

XML 1.0 (section 2.2) forbids the C0 control characters but tab, newline
and carriage return, lone surrogates, and U+FFFE/U+FFFF.  One of them in a
stanza makes the receiving client end the stream as not well-formed, and one
in a stored stanza makes it unreadable, so they can neither come in from the
web nor go out in XML.  DEL and the C1 controls are legal XML but serve only
terminal tricks (ANSI escapes in a text export), so web input drops them too.
"""

import re

#: What XML 1.0 cannot carry.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: What text from outside may not bring: the above, DEL and the C1 controls.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def xmlSafe(text: str) -> str:
    """
    C{text} without the characters XML 1.0 forbids.
    """
    return _NOT_XML.sub("", text)


def clean(text: str) -> str:
    """
    Text from the web as it may be kept: line breaks as C{\\n}, tabs kept,
    every other control character, lone surrogate and non-character gone.
    """
    return _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def oneLine(text: str) -> str:
    """
    Cleaned text on one line, its runs of white space (line breaks
    included) made single spaces: a value that can never start a line of its
    own, so it cannot pass for a label of the text around it.
    """
    return " ".join(clean(text).split())


def indented(text: str, prefix: str = "    ") -> str:
    """
    Cleaned text whose second and later lines start with C{prefix}, for a
    plain-text layout in which only the writer's own lines start at the
    margin.
    """
    return ("\n" + prefix).join(clean(text).split("\n"))
