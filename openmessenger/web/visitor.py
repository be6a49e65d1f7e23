# -*- test-case-name: tests.web.test_visitor -*-
"""
The visitor chat window: C{/chat?company=<id>[&supporter=<slug>]&param_<Name>=<value>...}
and its JSON API under C{/chat/}.

The page is the same origin as its API, which sends no CORS headers and
takes only JSON bodies (so no other site can drive it, not even by posting
a form).  The visitor's chat is addressed by an unguessable token that the
page keeps in C{sessionStorage}: no cookies at all, and a reload resumes the
conversation from the last event the page saw.
"""

import json

from klein import Klein
from twisted.internet import defer

from openmessenger.visitorchat.model import VisitorError
from openmessenger.visitorchat.service import NobodyAvailable, NotSaved
from openmessenger.web.i18n import translator
from openmessenger.web.inputs import BadInput, arguments, jsonBody
from openmessenger.web.pages import language
from openmessenger.web.proxy import clientAddress

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: The words the page's script needs, in the page's language.
SCRIPT_TEXTS = (
    "You are talking to {name}.", "The chat has ended.",
    "Nobody is available right now. Leave a message:", "{name} is typing…",
    "Thank you, your message was sent.", "Something went wrong; please try again.",
    "You", "Your colleague is no longer available; we are looking for someone else.",
)


class VisitorRoutes:
    app = Klein()

    def __init__(self, pages, chats, trustedProxies=()):
        self.pages = pages
        self.chats = chats
        self.trustedProxies = frozenset(trustedProxies)

    def json(self, request, value, code=200):
        request.setResponseCode(code)
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-content-type-options", b"nosniff")
        return json.dumps(value).encode("utf-8")

    @app.route("/", methods=["GET"], strict_slashes=False)
    def window(self, request):
        args = arguments(request)
        parameters = [(k[6:], v) for k, v in args.items() if k.startswith("param_")]
        lang = language(request)
        _ = translator(lang)
        texts = {text: _(text) for text in SCRIPT_TEXTS}
        return self.pages.render(
            request, "chat.html", csp=CSP, session=None, csrf="", isAdmin=False,
            company=args.get("company", ""), supporter=args.get("supporter", ""),
            parameters=json.dumps(parameters), texts=json.dumps(texts),
            referrer=(request.getHeader(b"referer") or b"").decode("latin-1")[:512],
        )

    @app.route("/start", methods=["POST"])
    @defer.inlineCallbacks
    def start(self, request):
        try:
            values = jsonBody(request)
            parameters = [(str(k), str(v)) for k, v in values.get("parameters", [])]
            chat = yield self.chats.start(
                str(values.get("company", "")), str(values.get("supporter", "")) or None,
                str(values.get("name", "")), str(values.get("email", "")), parameters,
                language(request), clientAddress(request, self.trustedProxies),
                str(values.get("referrer") or ""),
            )
        except NobodyAvailable:
            return self.json(request, {"available": False})
        except NotSaved as e:
            return self.json(request, {"error": str(e)}, 503)
        except (VisitorError, BadInput, TypeError, ValueError) as e:
            return self.json(request, {"error": str(e)}, 400)
        return self.json(request, {"available": True, "token": chat.token})

    @app.route("/offline", methods=["POST"])
    @defer.inlineCallbacks
    def offline(self, request):
        try:
            values = jsonBody(request)
            parameters = [(str(k), str(v)) for k, v in values.get("parameters", [])]
            yield self.chats.offlineMessage(
                str(values.get("company", "")), str(values.get("name", "")),
                str(values.get("email", "")), str(values.get("text", "")), parameters,
                language(request), clientAddress(request, self.trustedProxies),
            )
        except NotSaved as e:
            return self.json(request, {"error": str(e)}, 503)
        except (VisitorError, BadInput, TypeError, ValueError) as e:
            return self.json(request, {"error": str(e)}, 400)
        return self.json(request, {"sent": True})

    def chat(self, token):
        try:
            return self.chats.find(token)
        except KeyError:
            return None

    @app.route("/api/<token>/events", methods=["GET"])
    def events(self, request, token):
        chat = self.chat(token)
        if chat is None:
            return self.json(request, {"error": "no such chat"}, 404)
        args = arguments(request)
        try:
            after = int(args.get("after", "0"))
            idle = int(args.get("idle", "0"))
        except ValueError:
            return self.json(request, {"error": "after and idle are numbers"}, 400)
        self.chats.seen(chat, idle)
        d = self.chats.events(chat, after)
        return d.addCallback(lambda events: self.json(
            request, {"events": events, "ended": chat.ended is not None}
        ))

    @app.route("/api/<token>/<action>", methods=["POST"])
    @defer.inlineCallbacks
    def act(self, request, token, action):
        chat = self.chat(token)
        if chat is None:
            return self.json(request, {"error": "no such chat"}, 404)
        try:
            values = jsonBody(request)
            if action == "say":
                # The 200 follows the line's durable write.
                yield self.chats.say(chat, str(values.get("text", "")))
            elif action == "typing":
                self.chats.typing(chat, bool(values.get("composing")))
            elif action == "close":
                self.chats.close(chat)
            else:
                return self.json(request, {"error": "unknown action"}, 404)
        except NotSaved as e:
            return self.json(request, {"error": str(e)}, 503)
        except (VisitorError, BadInput) as e:
            return self.json(request, {"error": str(e)}, 400)
        return self.json(request, {"ok": True})
