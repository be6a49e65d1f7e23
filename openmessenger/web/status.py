# -*- test-case-name: tests.web.test_status -*-
"""
Status buttons: the presence of support staff as an image (PNG, SVG) or
JSON, for websites and e-mail.

    /status/<company-or-group-id>.<png|svg|json|events>
    /status/<company-or-group-id>/<supporter>.<png|svg|json|events>
    ?iconset=label|button|dot|mono  &lang=en|de  &scale=1|2

A company or group shows the best state among its support staff; a
supporter their own.  Only designated, enabled support staff are ever
shown: an unknown ID, a user who is not support staff, a disabled one and
a malformed request all get exactly the bytes of the offline answer, so
nothing can be found out by probing.  A request reads only memory (the
availability model and the directory) and never waits, creates roster
entries, subscriptions or probes.

C{.events} is a Server-Sent Events stream of the JSON answers, so a page
can update the button the instant presence changes (the 10-second refresh
stays as the fallback).

This is a plain twisted.web resource, not a Klein route: the pictures are
read and their ETags computed once, so a request is a few dictionary
lookups (pages refresh every 10 seconds; most answers are 304s).
"""

import collections
import hashlib
import json
import os

from twisted.internet import task
from twisted.web import server
from twisted.web.resource import Resource

from openmessenger import buttons
from openmessenger.web.i18n import negotiate
from openmessenger.web.proxy import clientAddress

FORMATS = {
    "png": b"image/png",
    "svg": b"image/svg+xml",
    "json": b"application/json",
    "events": b"text/event-stream",
}
#: Seconds between keep-alive comments on a stream (proxies cut idle
#: connections after 30 seconds).
KEEPALIVE = 20
DEFAULT_ICONSET = "label"


class Answer:
    """
    One prepared response: body, type and strong ETag.
    """

    def __init__(self, body, contentType):
        self.body = body
        self.contentType = contentType
        self.etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode("ascii") + b'"'


def loadAnswers(directory=buttons.PICTURES):
    """
    Every answer there is: C{(format, iconset, state, lang, scale)} -> L{Answer}.
    """
    answers = {}
    for iconset in buttons.ICONSETS:
        for state in buttons.STATES:
            for lang in ("en", "de"):
                fileLang = lang if iconset in buttons.WORDED else "en"
                for fmt, scale in (("png", 1), ("png", 2), ("svg", 1)):
                    name = buttons.fileName(iconset, state, fileLang, "svg" if fmt == "svg" else "png", scale)
                    with open(os.path.join(directory, name), "rb") as f:
                        answers[(fmt, iconset, state, lang, scale)] = Answer(f.read(), FORMATS[fmt])
    for state in buttons.STATES:
        for lang in ("en", "de"):
            body = json.dumps({"state": state, "label": buttons.LABELS[lang][state]}).encode("utf-8")
            for iconset in buttons.ICONSETS:
                for scale in (1, 2):
                    answers[("json", iconset, state, lang, scale)] = Answer(body, FORMATS["json"])
    return answers


class StatusResource(Resource):
    isLeaf = True

    def __init__(self, directory, availability, clock, answers=None, trustedProxies=(),
                 maxStreams=2000, maxStreamsPerAddress=50):
        """
        @param directory: the L{Directory} (who is support staff).
        @param availability: the L{Availability} model (who is how).
        @param clock: for keep-alives on event streams.
        @param maxStreams: Server-Sent Events streams open at once, at most,
            and C{maxStreamsPerAddress} from one client address.
        """
        Resource.__init__(self)
        self.directory = directory
        self.availability = availability
        self.clock = clock
        self.answers = answers if answers is not None else loadAnswers()
        self.trustedProxies = frozenset(trustedProxies)
        self.maxStreams = maxStreams
        self.maxStreamsPerAddress = maxStreamsPerAddress
        self.streams = 0
        #: Open streams by client address.
        self.streamsFrom = collections.Counter()

    def watched(self, publicId, slug):
        """
        The accounts whose presence decides what to show.
        """
        supporters = self.directory.supportersOf(publicId) if publicId else []
        if slug is None:
            return [s.jid for s in supporters]
        return [s.jid for s in supporters if s.slug == slug]

    def state(self, publicId, slug):
        """
        What to show: a company's or group's best, or one supporter's, state;
        C{offline} for anything not public.
        """
        return self.availability.bestOf(self.watched(publicId, slug))

    def render_GET(self, request):
        path = [segment.decode("utf-8", "replace") for segment in request.postpath]
        name, _, fmt = (path[-1] if path else "").rpartition(".")
        if fmt not in FORMATS:
            # Malformed: the offline picture, like everything not public.
            fmt, path = "png", []
        if len(path) == 1:
            publicId, slug = name, None
        elif len(path) == 2:
            publicId, slug = path[0], name
        else:
            publicId, slug = "", None
        args = request.args

        def arg(key):
            values = args.get(key)
            return values[0].decode("ascii", "replace") if values else None

        iconset = arg(b"iconset")
        if iconset not in buttons.ICONSETS:
            iconset = DEFAULT_ICONSET
        lang = negotiate(arg(b"lang"), None, (request.getHeader(b"accept-language") or b"").decode("latin-1"))
        if fmt == "events":
            return self.stream(request, publicId, slug, lang)
        scale = 2 if arg(b"scale") == "2" else 1
        state = self.state(publicId, slug) if publicId else "offline"
        answer = self.answers[(fmt, iconset, state, lang, scale)]
        request.setHeader(b"content-type", answer.contentType)
        request.setHeader(b"cache-control", b"no-cache")
        request.setHeader(b"etag", answer.etag)
        request.setHeader(b"access-control-allow-origin", b"*")
        request.setHeader(b"x-content-type-options", b"nosniff")
        request.setHeader(b"vary", b"Accept-Language")
        if request.getHeader(b"if-none-match") == answer.etag:
            # Finished without a body and without a Content-Length: from an
            # empty body twisted.web would claim 0, which RFC 9110 (8.6)
            # forbids on a 304, and the 200's length, which it allows, makes
            # clients with older HTTP parsers (wrk's) wait for that body.
            request.setResponseCode(304)
            request.finish()
            return server.NOT_DONE_YET
        return answer.body

    def stream(self, request, publicId, slug, lang):
        """
        Server-Sent Events: the state now, then each change as it happens,
        with keep-alives; the same for anything not public (offline, never
        changing).
        """
        request.setHeader(b"content-type", FORMATS["events"])
        request.setHeader(b"cache-control", b"no-cache")
        request.setHeader(b"access-control-allow-origin", b"*")
        address = clientAddress(request, self.trustedProxies)
        if self.streams >= self.maxStreams or self.streamsFrom[address] >= self.maxStreamsPerAddress:
            request.setResponseCode(503)
            request.setHeader(b"retry-after", b"30")
            return b""
        self.streams += 1
        self.streamsFrom[address] += 1

        def send(state):
            body = self.answers[("json", DEFAULT_ICONSET, state, lang, 1)].body
            request.write(b"data: " + body + b"\n\n")

        jids = self.watched(publicId, slug)
        send(self.availability.bestOf(jids))
        stopWatching = self.availability.watchGroup(jids, send) if jids else (lambda: None)
        keepalive = task.LoopingCall(request.write, b": keep-alive\n\n")
        keepalive.clock = self.clock
        keepalive.start(KEEPALIVE, now=False)

        def finished(_):
            self.streams -= 1
            self.streamsFrom[address] -= 1
            if not self.streamsFrom[address]:
                del self.streamsFrom[address]
            stopWatching()
            keepalive.stop()

        request.notifyFinish().addBoth(finished)
        return server.NOT_DONE_YET
