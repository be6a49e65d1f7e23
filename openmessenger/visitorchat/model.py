# -*- test-case-name: tests.visitorchat.test_model -*-
"""
The pure parts of visitor chat: choosing a supporter, and checking what a
visitor typed.
"""

import itertools

from openmessenger.text import clean, oneLine

#: The sub-domain of each served domain where visitors have their JIDs.
VISITORS = "visitors."
#: States in which a supporter takes visitors, best first; never dnd/offline.
TAKING = ("online", "away", "xa")

MAX_NAME = 64
MAX_EMAIL = 254
MAX_PARAMETERS = 20
MAX_PARAMETER_NAME = 64
MAX_PARAMETER_VALUE = 512
MAX_MESSAGE = 2000


class VisitorError(ValueError):
    """
    Something the visitor sent is not acceptable; the message says what.
    """


def cleanText(text, limit, what):
    text = oneLine(text or "") if what != "message" else clean(text or "").strip()
    if not text:
        raise VisitorError(f"{what} is missing")
    if len(text) > limit:
        raise VisitorError(f"{what} is longer than {limit} characters")
    return text


def cleanParameters(pairs):
    """
    The C{param_*} values, bounded in count and size, each name and value
    on one line (so no value can pass for a label in what the supporter
    reads).
    """
    pairs = [(oneLine(name), oneLine(value)) for name, value in pairs]
    if len(pairs) > MAX_PARAMETERS:
        raise VisitorError(f"more than {MAX_PARAMETERS} parameters")
    result = []
    for name, value in pairs:
        if not name or len(name) > MAX_PARAMETER_NAME or len(value) > MAX_PARAMETER_VALUE:
            raise VisitorError("a parameter is too long")
        result.append((name, value))
    return tuple(result)


class Dispatcher:
    """
    Picks supporters: the best state first, then the one with the fewest
    open chats, then in turn (round-robin), so visitors are spread fairly.
    """

    def __init__(self):
        self._turn = itertools.count()
        self._lastServed = {}

    def choose(self, candidates, stateOf, load, exclude=()):
        """
        @param candidates: supporter JIDs, in the company's display order.
        @param stateOf: JID -> state.
        @param load: JID -> number of open chats.
        @return: the chosen JID, or C{None} if nobody takes visitors.
        """
        taking = [c for c in candidates if stateOf(c) in TAKING and c not in exclude]
        if not taking:
            return None
        chosen = min(
            taking,
            key=lambda c: (TAKING.index(stateOf(c)), load(c), self._lastServed.get(c, -1)),
        )
        self._lastServed[chosen] = next(self._turn)
        return chosen
