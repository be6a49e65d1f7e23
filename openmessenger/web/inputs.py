# -*- test-case-name: tests.web.test_inputs -*-
"""
What a browser sends, read in one place: query and form values and JSON
bodies, each string cleaned as it enters (L{openmessenger.text.clean}), so
nothing behind the web side ever holds a character XML cannot carry.
"""

import json

from openmessenger.text import clean


class BadInput(ValueError):
    """
    A body that is not what the route takes; the message says what.
    """


def arguments(request, strip=False):
    """
    The query and form values of a request, the last of each name, cleaned
    (and stripped of surrounding white space with C{strip}).
    """
    values = {}
    for key, given in request.args.items():
        value = clean(given[-1].decode("utf-8", "replace"))
        values[clean(key.decode("utf-8", "replace"))] = value.strip() if strip else value
    return values


def _cleaned(value):
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [_cleaned(item) for item in value]
    if isinstance(value, dict):
        return {clean(key): _cleaned(item) for key, item in value.items()}
    return value


def jsonBody(request):
    """
    The JSON object a request carries, its strings cleaned.

    @raise BadInput: for another content type, malformed JSON or a value
        that is not an object.
    """
    if (request.getHeader(b"content-type") or b"").split(b";")[0].strip() != b"application/json":
        raise BadInput("expected JSON")
    try:
        value = json.loads(request.content.read().decode("utf-8"))
    except ValueError:
        raise BadInput("malformed JSON") from None
    if not isinstance(value, dict):
        raise BadInput("malformed JSON")
    return _cleaned(value)
