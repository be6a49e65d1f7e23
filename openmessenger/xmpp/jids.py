# -*- test-case-name: tests.xmpp.test_jids -*-
"""
Strict JID parsing (RFC 7622 sizes, RFC 6122 stringprep).

Twisted's L{twisted.words.protocols.jabber.jid} prepares JIDs with stringprep
but is lenient where an attacker can exploit it: C{"@host"} turns into the
domain, C{"user@host/"} into a bare JID, parts have no length limit, and an
empty domain label raises C{IndexError} instead of C{InvalidFormat}.  All
addresses that reach us from the network go through L{parse}, the one place
that normalises them; only its output is stored or compared.
"""

import functools

from twisted.words.protocols.jabber.jid import JID, InvalidFormat, prep

from openmessenger.messages import Message

MAX_PART_BYTES = 1023


class InvalidJID(ValueError):
    """
    The string is not a valid JID (the C{jid-malformed} stanza error).
    """


def _checkPart(part, what):
    if part is None:
        return
    if not part:
        raise InvalidJID(f"empty {what}")
    if len(part.encode("utf-8")) > MAX_PART_BYTES:
        raise InvalidJID(f"{what} longer than {MAX_PART_BYTES} bytes")


@functools.lru_cache(maxsize=8192)
def parse(text: str) -> JID:
    """
    Parse and prepare a JID, rejecting everything RFC 7622 forbids.

    Stringprep is slow in pure Python and the same addresses come again and
    again, so results are cached; unlike C{internJID}'s cache, this one is
    bounded, so addresses an attacker makes up cannot grow it.  (L{JID}s are
    not changed once made, so sharing them is safe.)

    @raise InvalidJID: if C{text} is not a valid JID.
    """
    if not text:
        raise InvalidJID("empty JID")
    rest, slash, resource = text.partition("/")
    user, at, host = rest.rpartition("@")
    if not at:
        user = None
    if not slash:
        resource = None
    _checkPart(user, "localpart")
    _checkPart(host, "domain")
    _checkPart(resource, "resource")
    if host.endswith("."):
        host = host[:-1]
    try:
        user, host, resource = prep(user, host, resource)
    except IndexError:
        raise InvalidJID("empty label in domain") from None
    except (InvalidFormat, UnicodeError) as e:
        raise InvalidJID(str(e) or "invalid JID") from None
    # Preparation can map a part to nothing (e.g. only U+200B) or make it longer.
    _checkPart(user, "localpart")
    _checkPart(host, "domain")
    _checkPart(resource, "resource")
    return JID(tuple=(user, host, resource))


def prepDomain(text: str) -> str:
    """
    Prepare a bare domain name, as configured for a served host.
    """
    address = parse(text)
    if address.user or address.resource:
        raise InvalidJID(f"{text!r} is not a domain name")
    return address.host


def prepUser(text: str) -> str:
    """
    Prepare a localpart (a user name) on its own.

    @raise InvalidJID: if it is not a valid localpart.
    """
    if not text or "@" in text or "/" in text:
        raise InvalidJID(Message("{name!r} is not a valid user name", name=text))
    return parse(f"{text}@localhost").user
