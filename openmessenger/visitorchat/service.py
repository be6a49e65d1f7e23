# -*- test-case-name: tests.visitorchat.test_service -*-
"""
The visitor chat service: the one place both the web side and the XMPP
side call.

A chat starts from the browser; the service picks a supporter, gives the
visitor a JID of its own on the visitors sub-domain (C{visitors.<domain>}),
sends the supporter the visitor's parameters before anything else, puts the
visitor in the supporter's roster for the length of the chat (group
"Visitors", named after the visitor) and relays messages both ways.  Every
line goes into the transcript.  The browser fetches what happened since the
last event it saw (long polling), so reloads lose and repeat nothing.
"""

import secrets

from twisted.internet import defer
from twisted.logger import Logger
from twisted.words.xish import domish

from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel import disco

from openmessenger.features.disco import NS_CAPS, capsVersion
from openmessenger.storage.interfaces import RosterItem, Transcript, TranscriptLine
from openmessenger.visitorchat.model import (
    MAX_EMAIL,
    MAX_MESSAGE,
    MAX_PARAMETER_VALUE,
    MAX_NAME,
    VISITORS,
    Dispatcher,
    VisitorError,
    cleanParameters,
    cleanText,
)
from openmessenger.xmpp import stanzas
from openmessenger.ratelimit import Throttle

NS_CHATSTATES = "http://jabber.org/protocol/chatstates"
NS_NICK = "http://jabber.org/protocol/nick"
NS_SHIM = "http://jabber.org/protocol/shim"
NS_RECEIPTS = "urn:xmpp:receipts"
VISITORS_GROUP = "Visitors"
#: Seconds a poll waits for news before answering empty (below the 30 s
#: after which proxies cut idle connections).
POLL_TIMEOUT = 25
#: Seconds without any request from the page after which the visitor has
#: left: the supporter sees them unavailable, and later the chat ends.
GONE_AFTER = 60
END_AFTER = 900
#: Events kept in memory per chat (the transcript keeps everything).
MAX_EVENTS = 500
#: A visitor may send this many messages within this many seconds.
RATE_MESSAGES = 20
RATE_WINDOW = 30


NOT_SHOWN = "not shown"

#: What a visitor's JID answers to service discovery, and announces in its
#: presence (XEP-0115), like a client would: Psi asks for delivery receipts
#: only from contacts that say they send them.
VISITOR_CAPABILITIES = (
    disco.DiscoIdentity("client", "web", "Visitor chat"),
    disco.DiscoFeature(disco.NS_DISCO_INFO),
    disco.DiscoFeature(NS_CHATSTATES),
    disco.DiscoFeature(NS_RECEIPTS),
)
VISITOR_CAPS_NODE = "urn:openmessenger:visitor"
VISITOR_CAPS_VERSION = capsVersion(VISITOR_CAPABILITIES)


def checkVisitor(name, email, parameters):
    """
    The visitor's name, e-mail and parameters, checked and bounded.
    """
    email = (email or "").strip()
    if len(email) > MAX_EMAIL or (email and "@" not in email):
        raise VisitorError("the e-mail address is not valid")
    return cleanText(name, MAX_NAME, "name"), email, cleanParameters(parameters)


class NobodyAvailable(Exception):
    """
    No supporter takes visitors now: offer the offline form.
    """


class NotSaved(Exception):
    """
    What the visitor sent could not be stored, so it went nowhere: the
    message says so, for the visitor to try again.
    """


class Chat:
    def __init__(self, company, publicId, name, email, parameters, lang, domain, now):
        self.token = secrets.token_urlsafe(24)
        self.id = secrets.token_hex(8)
        self.visitorJid = f"{self.id}@{VISITORS}{domain}"
        self.company = company
        self.publicId = publicId
        self.name = name
        self.email = email
        self.parameters = parameters
        self.lang = lang
        self.started = now
        self.lastSeen = now
        self.idle = 0
        self.supporter = None
        self.served = []
        self.said = []
        self.answered = False
        self.events = []
        self.seq = 0
        #: Lines of the transcript so far.
        self.lines = 0
        self.waiters = []
        #: Receipts the supporter asked for (XEP-0184), as (seq, to, id):
        #: sent once the page has fetched that event.
        self.receipts = []
        self.ended = None
        #: What the supporter was last shown: a show, "unavailable", or
        #: NOT_SHOWN before anything was sent.
        self.visible = NOT_SHOWN
        #: The visitor's last chat state sent (XEP-0085), so a page that
        #: reports typing over and over sends the supporter one stanza.
        self.chatState = "active"

    def transcript(self, ended=None, how=""):
        return Transcript(self.id, self.company, self.publicId, self.name, self.email,
                          self.parameters, tuple(self.served), self.started, ended, how)


class VisitorChatService:
    log = Logger()

    def __init__(self, directory, availability, store, rosters, send, clock,
                 answerTimeout=120, chatsPerAddress=10, chatWindow=600):
        """
        @param directory: who is support staff of what.
        @param availability: who is available.
        @param store: an L{ITranscriptStore}.
        @param rosters: the L{RosterManager} (visitors appear as contacts).
        @param send: routes a stanza.
        @param answerTimeout: seconds a supporter has for a first answer
            before the chat moves to another one.
        """
        self.directory = directory
        self.availability = availability
        self.store = store
        self.rosters = rosters
        self.send = send
        self.clock = clock
        self.answerTimeout = answerTimeout
        self.dispatcher = Dispatcher()
        self.throttle = Throttle(chatsPerAddress, chatWindow, clock)
        self.byToken = {}
        self.byVisitor = {}
        #: Open chats by the supporter serving them.
        self.bySupporter = {}
        self._sweeper = None

    def now(self):
        return self.clock.seconds()

    # Roster entries for supporters

    def contactsOf(self, supporter):
        return {
            chat.visitorJid: RosterItem(chat.visitorJid, chat.name, (VISITORS_GROUP,), "both")
            for chat in self.bySupporter.get(supporter, ())
        }

    def addContacts(self, asked):
        """
        Add the visitors a supporter serves to L{events.SHARED_CONTACTS}.
        """
        asked.contacts.update(self.contactsOf(asked.user))

    def load(self, supporter):
        return len(self.bySupporter.get(supporter, ()))

    def unindex(self, chat):
        serving = self.bySupporter.get(chat.supporter, set())
        serving.discard(chat)
        if not serving:
            self.bySupporter.pop(chat.supporter, None)

    def serve(self, chat, supporter):
        """
        Make C{supporter} (or nobody) the one serving an open chat.
        """
        self.unindex(chat)
        chat.supporter = supporter
        if supporter is not None:
            self.bySupporter.setdefault(supporter, set()).add(chat)

    # Starting

    @defer.inlineCallbacks
    def start(self, publicId, slug, name, email, parameters, lang, address, referrer=""):
        """
        Start a chat once its transcript is stored; fire with it, or fail
        with L{NobodyAvailable}, L{VisitorError} or L{NotSaved}.  The page
        the visitor came from (C{referrer}) comes last among the parameters,
        on top of the page's own.
        """
        name, email, parameters = checkVisitor(name, email, parameters)
        if referrer:
            parameters += (("Referrer", referrer[:MAX_PARAMETER_VALUE]),)
        company = self.companyFor(publicId, address)
        if company is None:
            raise NobodyAvailable()
        supporter = self.choose(publicId, slug, ())
        if supporter is None:
            self.throttle.forgive(address)
            raise NobodyAvailable()
        chat = Chat(company.id, publicId, name, email, parameters, lang, company.domains[0], self.now())
        yield self.saved(self.store.putTranscript(chat.transcript()), "the chat could not be started")
        self.byToken[chat.token] = chat
        self.byVisitor[chat.visitorJid] = chat
        self.assign(chat, supporter)
        self.sweep()
        return chat

    def companyFor(self, publicId, address):
        """
        The company behind a public ID (C{None} if unknown), once the address
        is allowed another chat or message (counted now).
        """
        owner = self.directory.resolve(publicId)
        if owner is None:
            return None
        if not self.throttle.attempt(address):
            raise VisitorError("too many chats from your address; please wait a few minutes")
        return self.directory.companies[getattr(owner, "company", owner.id)]

    def choose(self, publicId, slug, exclude):
        supporters = self.directory.supportersOf(publicId)
        candidates = [s.jid for s in supporters]
        if slug:
            named = [s.jid for s in supporters if s.slug == slug]
            chosen = self.dispatcher.choose(named, self.availability.stateOf, self.load, exclude)
            if chosen is not None:
                return chosen
        return self.dispatcher.choose(candidates, self.availability.stateOf, self.load, exclude)

    def assign(self, chat, supporter):
        """
        Hand the chat to a supporter: parameters first, then the visitor's
        presence and roster entry, then the conversation so far.
        """
        self.serve(chat, supporter)
        chat.served.append(supporter)
        chat.answered = False
        chat.chatState = "active"
        # The contact first, so the client shows the visitor's name and
        # presence; then what the visitor brought along; then their words.
        self.rosters.sharedChanged(supporter, chat.visitorJid)
        self.sendPresence(chat)
        self.send(self.parametersMessage(chat))
        for event in chat.events:
            if event["kind"] == "message" and event["from"] == "visitor":
                self.send(self.message(chat, event["text"]))
        name = self.supporterName(chat, supporter)
        self.event(chat, "system", "supporter", name)
        chat.unwatch = self.availability.watch(
            supporter, lambda account, state: self.supporterChanged(chat, account, state)
        )
        self.keep(chat, self.store.putTranscript(chat.transcript()))
        chat.answerTimer = self.clock.callLater(self.answerTimeout, self.noAnswer, chat, supporter)

    def supporterName(self, chat, supporter):
        """
        The name the visitor sees: as the supporter was designated.
        """
        for entry in self.directory.supportersOf(chat.publicId):
            if entry.jid == supporter:
                return entry.name
        return self.directory.displayName(supporter)

    def parametersMessage(self, chat):
        """
        One readable message with everything the visitor brought along, and
        the same as stanza headers (XEP-0131) for clients that read them.
        (Not a data form: Psi opens a form in a window of its own instead of
        showing the text in the chat.)
        """
        lines = [f"Visitor: {chat.name}" + (f" <{chat.email}>" if chat.email else "")]
        lines += [f"{name}: {value}" for name, value in chat.parameters]
        lines.append(f"Language: {chat.lang}")
        lines.append(f"Started: {stanzas.formatStamp(chat.started)}")
        message = self.message(chat, "\n".join(lines))
        headers = message.addElement((NS_SHIM, "headers"))
        headers.addElement("header", content=chat.name)["name"] = "Visitor-Name"
        if chat.email:
            headers.addElement("header", content=chat.email)["name"] = "Visitor-Email"
        for name, value in chat.parameters:
            headers.addElement("header", content=value)["name"] = f"param_{name}"
        return message

    def message(self, chat, body, state="active"):
        message = domish.Element((stanzas.NS_CLIENT, "message"))
        message["from"] = chat.visitorJid
        message["to"] = chat.supporter
        message["type"] = "chat"
        if body is not None:
            message.addElement("body", content=body)
            message.addElement((NS_NICK, "nick"), content=chat.name)
        if state:
            message.addElement((NS_CHATSTATES, state))
        return message

    def sendPresence(self, chat):
        """
        The visitor's presence, as the supporter sees it: available while the
        page is open, away/xa while idle, unavailable once gone.
        """
        if chat.ended is not None or self.now() - chat.lastSeen > GONE_AFTER:
            show = "unavailable"
        elif chat.idle >= 1800:
            show = "xa"
        elif chat.idle >= 300:
            show = "away"
        else:
            show = None
        if show == chat.visible or chat.supporter is None:
            return
        chat.visible = show
        presence = stanzas.presence(chat.supporter, chat.visitorJid,
                                    "unavailable" if show == "unavailable" else None)
        if show in ("away", "xa"):
            presence.addElement("show", content=show)
        presence.addElement((NS_NICK, "nick"), content=chat.name)
        if show != "unavailable":
            caps = presence.addElement((NS_CAPS, "c"))
            caps["hash"] = "sha-1"
            caps["node"] = VISITOR_CAPS_NODE
            caps["ver"] = VISITOR_CAPS_VERSION
        self.send(presence)

    # What the visitor does

    def find(self, token):
        chat = self.byToken.get(token or "")
        if chat is None:
            raise KeyError(token)
        return chat

    def seen(self, chat, idle=0):
        chat.lastSeen = self.now()
        chat.idle = max(0, idle)
        self.sendPresence(chat)

    @defer.inlineCallbacks
    def say(self, chat, text):
        """
        Store a line of the visitor's, then relay it: fire once both are
        done, or fail with L{VisitorError} or L{NotSaved} (then the
        supporter never saw it).
        """
        if chat.ended is not None:
            raise VisitorError("the chat has ended")
        text = cleanText(text, MAX_MESSAGE, "message")
        recent = [t for t in chat.said if t > self.now() - RATE_WINDOW]
        if len(recent) >= RATE_MESSAGES:
            raise VisitorError("you are writing too fast; please wait a moment")
        chat.said = recent + [self.now()]
        self.seen(chat)
        yield self.saved(self.record(chat, "visitor", chat.name, text),
                         "your message could not be saved; please send it again")
        self.event(chat, "message", "visitor", text)
        if chat.supporter:
            self.send(self.message(chat, text))
        chat.chatState = "active"

    def typing(self, chat, composing):
        state = "composing" if composing else "paused"
        if chat.ended is None and chat.supporter and state != chat.chatState:
            chat.chatState = state
            self.send(self.message(chat, None, state))

    def close(self, chat, how="visitor"):
        if chat.ended is not None:
            return
        chat.ended = self.now()
        self.stopWatching(chat)
        self.event(chat, "ended", how, "")
        if chat.supporter:
            self.send(self.message(chat, None, "gone"))
            self.sendPresence(chat)
            self.unindex(chat)  # the transcript still names the supporter
            self.rosters.sharedChanged(chat.supporter, chat.visitorJid)
        self.keep(chat, self.store.putTranscript(chat.transcript(chat.ended, how)))
        self.byVisitor.pop(chat.visitorJid, None)

    def events(self, chat, after):
        """
        Fire with the events after C{after}, waiting up to L{POLL_TIMEOUT}
        seconds for one.
        """
        self.acknowledge(chat, after)
        news = [e for e in chat.events if e["seq"] > after]
        if news or chat.ended is not None:
            return defer.succeed(news)
        def forget(waiter):
            # The browser went away (Klein cancels the request's Deferred).
            if waiter in chat.waiters:
                chat.waiters.remove(waiter)

        waiter = defer.Deferred(forget)
        chat.waiters.append(waiter)
        timer = self.clock.callLater(POLL_TIMEOUT, self.wake, chat, waiter)
        waiter.addBoth(lambda result: (timer.cancel() if timer.active() else None, result)[1])
        return waiter.addCallback(lambda _: [e for e in chat.events if e["seq"] > after])

    def acknowledge(self, chat, seen):
        """
        Delivery receipts for the supporter's messages up to C{seen}: asking
        for what comes after them shows the page has them.
        """
        waiting = []
        for seq, to, stanzaId in chat.receipts:
            if seq > seen:
                waiting.append((seq, to, stanzaId))
                continue
            receipt = domish.Element((stanzas.NS_CLIENT, "message"))
            receipt["from"] = chat.visitorJid
            receipt["to"] = to
            receipt.addElement((NS_RECEIPTS, "received"))["id"] = stanzaId
            self.send(receipt)
        chat.receipts = waiting

    def wake(self, chat, waiter=None):
        for w in ([waiter] if waiter else list(chat.waiters)):
            if w in chat.waiters:
                chat.waiters.remove(w)
                w.callback(None)

    def event(self, chat, kind, sender, text):
        """
        Something for the page to show.  System events go into the
        transcript as they happen; messages were stored before (L{record}).
        """
        chat.seq += 1
        event = {"seq": chat.seq, "kind": kind, "from": sender, "text": text, "stamp": self.now()}
        chat.events.append(event)
        del chat.events[:-MAX_EVENTS]
        if kind == "system":
            self.keep(chat, self.record(chat, "system", chat.supporter or "", f"{sender}: {text}"))
        self.wake(chat)

    def record(self, chat, direction, who, text):
        """
        Add a line to the transcript; the Deferred fires once it is stored.
        """
        chat.lines += 1
        return self.store.appendLine(chat.id, TranscriptLine(chat.lines, direction, who, text, self.now()))

    def saved(self, write, what):
        """
        A write the visitor waits for: its failure becomes L{NotSaved}.
        """
        def failed(failure):
            self.log.failure("Storing a visitor chat failed", failure)
            raise NotSaved(what)

        return write.addErrback(failed)

    def keep(self, chat, write):
        """
        A write nobody waits for: if it fails, the supporter is told that
        the transcript misses something (not only the log).
        """
        def failed(failure):
            self.log.failure("Storing the transcript of chat {id} failed", failure, id=chat.id)
            supporter = chat.supporter or (chat.served[-1] if chat.served else None)
            if supporter is not None:
                notice = domish.Element((stanzas.NS_CLIENT, "message"))
                notice["from"] = chat.visitorJid.partition("@")[2]
                notice["to"] = supporter
                notice["type"] = "chat"
                notice.addElement("body", content=(
                    f"The transcript of the chat with {chat.name} could not be saved completely."))
                self.send(notice)

        write.addErrback(failed)

    # What the supporter does

    def fromSupporter(self, message):
        """
        A message to a visitor JID.  Only the chat's supporter may write.
        """
        chat = self.byVisitor.get(stanzas.bare(message["to"]))
        sender = stanzas.bare(message.getAttribute("from", ""))
        if chat is None or sender != chat.supporter:
            stanzas.answerWithError(self.send, message, "service-unavailable")
            return
        if message.getAttribute("type") == "error":
            return
        body = stanzas.child(message, stanzas.NS_CLIENT, "body")
        if body is not None and str(body).strip():
            chat.answered = True
            text = str(body)[:MAX_MESSAGE * 4]

            def stored(_):
                if stanzas.child(message, NS_RECEIPTS, "request") is not None and message.getAttribute("id"):
                    chat.receipts.append((chat.seq + 1, message["from"], message["id"]))
                    del chat.receipts[:-MAX_EVENTS]
                self.event(chat, "message", "supporter", text)

            def failed(failure):
                # The visitor never sees what the transcript lacks.
                self.log.failure("Storing a supporter's line failed", failure)
                stanzas.answerWithError(self.send, message, "internal-server-error",
                                        "Not saved, so the visitor did not get it; send it again.")

            stanzas.storing(message, self.record(chat, "supporter", chat.supporter, text)
                            .addCallbacks(stored, failed))
        elif stanzas.child(message, NS_CHATSTATES, "composing") is not None:
            self.event(chat, "typing", "supporter", "composing")
        elif stanzas.child(message, NS_CHATSTATES, "paused") is not None:
            self.event(chat, "typing", "supporter", "paused")
        elif stanzas.child(message, NS_CHATSTATES, "gone") is not None:
            self.close(chat, "supporter")

    # Moving a chat on

    def noAnswer(self, chat, supporter):
        if chat.ended is None and chat.supporter == supporter and not chat.answered:
            self.moveOn(chat, "no answer")

    def supporterChanged(self, chat, supporter, state):
        if state == "offline" and chat.ended is None and chat.supporter == supporter:
            self.moveOn(chat, "offline")

    def stopWatching(self, chat):
        unwatch = getattr(chat, "unwatch", None)
        if unwatch is not None:
            unwatch()
            chat.unwatch = None
        timer = getattr(chat, "answerTimer", None)
        if timer is not None and timer.active():
            timer.cancel()

    def moveOn(self, chat, why):
        self.stopWatching(chat)
        old = chat.supporter
        self.send(self.message(chat, None, "gone"))
        chat.visible = NOT_SHOWN
        presence = stanzas.presence(old, chat.visitorJid, "unavailable")
        self.send(presence)
        self.serve(chat, None)
        self.rosters.sharedChanged(old, chat.visitorJid)
        nxt = self.choose(chat.publicId, None, tuple(chat.served))
        if nxt is None:
            self.event(chat, "system", "nobody", why)
            return
        self.event(chat, "system", "moved", why)
        self.assign(chat, nxt)

    def sweep(self):
        """
        Every so often: visitors who left get unavailable presence, and
        long-abandoned chats end.
        """
        if self._sweeper is not None and self._sweeper.active():
            return
        self._sweeper = self.clock.callLater(30, self.sweepNow)

    def sweepNow(self):
        self._sweeper = None
        for chat in list(self.byToken.values()):
            quiet = self.now() - chat.lastSeen
            if chat.ended is None:
                self.sendPresence(chat)
                if quiet > END_AFTER:
                    self.close(chat, "left")
            elif quiet > END_AFTER:
                del self.byToken[chat.token]
        if self.byToken:
            self.sweep()

    @defer.inlineCallbacks
    def purge(self, days):
        """
        Delete transcripts older than their company's retention, or than
        C{days} days for companies without their own (0: keep for ever).
        """
        deleted = 0
        for company in list(self.directory.companies.values()):
            keep = days if company.retentionDays is None else company.retentionDays
            if keep:
                deleted += yield self.store.deleteTranscriptsBefore(company.id, self.now() - keep * 86400)
        return deleted

    # Nobody there

    @defer.inlineCallbacks
    def offlineMessage(self, publicId, name, email, text, parameters, lang, address):
        """
        The offline form: the message goes to the support staff as an XMPP
        offline message, and into the transcripts.
        """
        name, email, parameters = checkVisitor(name, email, parameters)
        text = cleanText(text, MAX_MESSAGE, "message")
        company = self.companyFor(publicId, address)
        if company is None:
            return  # nobody to tell; say nothing that reveals it
        chat = Chat(company.id, publicId, name, email, parameters, lang, company.domains[0], self.now())
        supporters = [s.jid for s in self.directory.supportersOf(publicId)]
        chat.served = supporters
        body = "\n".join(
            ["Message left on the website", f"From: {name}" + (f" <{email}>" if email else "")]
            + [f"{k}: {v}" for k, v in parameters] + ["", text]
        )
        what = "your message could not be saved; please send it again"
        yield self.saved(self.store.putTranscript(chat.transcript(self.now(), "offline form")), what)
        yield self.saved(self.record(chat, "visitor", name, text), what)
        writes = []
        for supporter in supporters:
            message = domish.Element((stanzas.NS_CLIENT, "message"))
            message["from"] = chat.visitorJid
            message["to"] = supporter
            message["type"] = "normal"
            message.addElement("subject", content=f"Website: {name}")
            message.addElement("body", content=body)
            message.writes = []
            self.send(message)
            writes += message.writes
        # Supporters offline get it from offline storage: at least one
        # of them must have it stored.
        stored = yield defer.gatherResults(writes)
        if writes and not any(stored):
            raise NotSaved(what)
