# -*- test-case-name: tests.xmpp.test_stanzas -*-
"""
Small pure helpers for stanzas: error replies and delay stamps.
"""

import secrets
from datetime import datetime, timezone

from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

NS_CLIENT = "jabber:client"
NS_DELAY = "urn:xmpp:delay"


def errorReply(stanza, condition, text=None):
    """
    The error reply to C{stanza} (RFC 6120 8.3), or C{None} where the RFC
    forbids one: in answer to an error, or to an iq result.
    """
    kind = stanza.getAttribute("type")
    if kind == "error" or (stanza.name == "iq" and kind == "result"):
        return None
    return StanzaError(condition, text=text).toResponse(stanza)


def answerWithError(send, stanza, condition, text=None):
    """
    Send the error reply to C{stanza} through C{send}, unless the RFC
    forbids one (L{errorReply}).
    """
    reply = errorReply(stanza, condition, text)
    if reply is not None:
        send(reply)


def storing(stanza, d):
    """
    Note that handling C{stanza} started the durable write C{d} (a Deferred
    that does not fail: a failure has been answered already; it fires with
    whether the stanza was kept), so that the sender's acknowledgement of
    the stanza (XEP-0198) waits for it.
    """
    writes = getattr(stanza, "writes", None)
    if writes is not None:
        writes.append(d)
    return d


def parseStored(text: str):
    """
    Parse one element stored as text, whole: with the text directly inside
    it, which wokkel's C{parseXml} drops (Psi's roster delimiter is nothing
    else).

    @raise ValueError: if C{text} is not exactly one well-formed element.
    """
    found = []
    stream = domish.elementStream()
    stream.DocumentStartEvent = lambda root: None
    stream.ElementEvent = found.append
    stream.DocumentEndEvent = lambda: None
    try:
        stream.parse(b"<stored>" + text.encode("utf-8") + b"</stored>")
    except domish.ParserError as e:
        raise ValueError(f"not well-formed: {e}") from None
    if len(found) != 1:
        raise ValueError("not exactly one element")
    return found[0]


def newId(prefix="", size=6):
    """
    A random id (stanza ids, stream ids, resources, sessions): C{prefix}
    and C{2 * size} hex digits.
    """
    return prefix + secrets.token_hex(size)


def ownSession(stanza):
    """
    The sending session if a stanza is addressed to the sender's own
    account (no C{to}, or its bare JID), else C{None}: only a user may read
    or change what is the account's.
    """
    session = getattr(stanza, "origin", None)
    to = stanza.getAttribute("to")
    if session is not None and (to is None or to == session.bare):
        return session
    return None


def formatStamp(stamp: float) -> str:
    """
    An XEP-0082 DateTime in UTC, e.g. C{2026-11-26T15:23:00.123Z}.
    """
    moment = datetime.fromtimestamp(stamp, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def addDelay(stanza, stamp: float, origin: str, reason: str = ""):
    """
    Stamp a stanza with the time it was first received (XEP-0203).
    """
    delay = stanza.addElement((NS_DELAY, "delay"), content=reason or None)
    delay["stamp"] = formatStamp(stamp)
    delay["from"] = origin
    return delay


def bare(address: str) -> str:
    """
    The bare part of a prepared JID string.
    """
    return address.partition("/")[0]


def domainOf(address: str) -> str:
    """
    The domain part of a prepared JID string.
    """
    return address.partition("/")[0].rpartition("@")[2]


def child(stanza, uri, name):
    """
    The first child element with this namespace and name, or C{None}.
    """
    for element in stanza.elements(uri, name):
        return element
    return None


def presence(to=None, sender=None, kind=None):
    """
    Build a presence stanza.
    """
    element = domish.Element((NS_CLIENT, "presence"))
    if to is not None:
        element["to"] = to
    if sender is not None:
        element["from"] = sender
    if kind is not None:
        element["type"] = kind
    return element


def clone(element):
    """
    A copy of a stanza whose attributes can be changed (e.g. C{to}, one per
    recipient) without touching the original; children are shared, as
    nothing changes them.
    """
    copy = domish.Element((element.uri, element.name), element.defaultUri, dict(element.attributes))
    copy.children = list(element.children)
    return copy


NS_IDLE = "urn:xmpp:idle:1"


def parseStamp(text: str) -> float:
    """
    Parse an XEP-0082 DateTime (with a time zone) into a POSIX time.

    @raise ValueError: if it is not one.
    """
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment.timestamp()


def idleSince(presence):
    """
    The XEP-0319 idle time in a presence, or C{None} if it has none.

    @raise ValueError: if the C{since} attribute is malformed.
    """
    idle = child(presence, NS_IDLE, "idle")
    if idle is None:
        return None
    return parseStamp(idle.getAttribute("since", ""))
