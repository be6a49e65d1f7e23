# -*- test-case-name: tests.features.test_autoaway -*-
"""
Server-driven auto-away: the server shows an idle user as away, then as
extended away (xa), on the user's behalf, and as online again as soon as
the user is back.

The server cannot see a mouse, so it relies on what the client reports:
XEP-0352 C{<inactive/>}/C{<active/>}, an XEP-0319 idle time in the client's
presence, and messages the user types.  Silence alone never changes a
status.  The idle clock starts at the reported time; at the user's
C{awayAfter} and C{xaAfter} the server sends, through the same path as a
client presence, the client's last presence with C{show} changed, an
automatic status text and the XEP-0319 idle time.

A status the user set by hand sticks: dnd (which is only ever manual),
online with a status text, and away or xa unless it is the client's own
automatic status.  That it is when it carries an idle time, or when the
client, asked at once (XEP-0012 to its full JID), says the user has been
idle for a while: Psi 1.5 sends its auto-away as a bare C{<show>} (with its
configured message, if any) and no idle time, but answers that question with
the X server's idle time, while a user who just picked "away" from the menu
was active seconds ago.  The
server then takes over from there, e.g. moving away to xa at the user's
interval.
"""


from twisted.internet import defer
from twisted.logger import Logger
from twisted.words.protocols.jabber.xmlstream import XMPPHandler
from twisted.words.xish import domish

from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel import data_form

from openmessenger.features.commands import CommandError
from openmessenger.xmpp import events, stanzas

NS_CLIENT = stanzas.NS_CLIENT
NS_LAST = "jabber:iq:last"
_RANK = {None: 0, "chat": 0, "away": 1, "xa": 2}


class _Tracker:
    """
    What auto-away knows about one session.

    @ivar base: the last available presence the client itself sent.
    @ivar manual: its show was set by hand, so nothing automatic happens.
    @ivar applied: the show the server put on top of it, if any.
    """

    def __init__(self):
        self.base = None
        self.manual = False
        self.applied = None
        self.timer = None

    def cancel(self):
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None


def statusText(presence):
    status = stanzas.child(presence, NS_CLIENT, "status")
    return str(status).strip() if status is not None else ""


#: A client that reports at least this much idle time (seconds) when it
#: goes away went away by itself.
CLIENT_IDLE_MIN = 30


def classify(presence, show):
    """
    How a client presence came about: C{"manual"}, C{"automatic"} (it
    carries an idle time), C{"active"}, or C{"ask"} (away/xa with nothing
    else to tell; the client is asked for its idle time).
    """
    if show == "dnd":
        return "manual"
    if stanzas.child(presence, stanzas.NS_IDLE, "idle") is not None:
        return "automatic"
    if show in ("away", "xa"):
        return "ask"
    return "manual" if statusText(presence) else "active"


class AutoAwayHandler(XMPPHandler):
    log = Logger()

    def __init__(self, settings, requests, awayAfter, xaAfter, clock,
                 companyDefaults=lambda user, defaults: defaults):
        """
        @param settings: an L{ISettingsStore} with each user's intervals.
        @param requests: L{IQRequests}, to ask clients for their idle time.
        @param awayAfter: default seconds of idleness before away.
        @param xaAfter: default seconds of idleness before xa.
        @param companyDefaults: the intervals of a user who chose none,
            given the server's (the directory gives their company's).
        """
        XMPPHandler.__init__(self)
        self.settings = settings
        self.requests = requests
        self.defaults = (awayAfter, xaAfter)
        self.companyDefaults = companyDefaults
        self.clock = clock
        self.now = clock.seconds
        self._trackers = {}
        self._byUser = {}
        self._intervals = {}

    def connectionInitialized(self):
        bus = self.xmlstream
        bus.addObserver(events.PRESENCE_CHANGED, self.onPresenceChanged)
        bus.addObserver(events.CLIENT_INACTIVE, self.onInactive)
        bus.addObserver(events.CLIENT_ACTIVE, self.onActive)
        bus.addObserver(events.USER_ACTIVE, self.onActive)
        bus.addObserver(events.RESOURCE_BOUND, self.onBound)
        bus.addObserver(events.RESOURCE_UNBOUND, self.onUnbound)

    # Settings

    def intervals(self, user):
        return self._intervals.get(user) or self.defaultsOf(user)

    def defaultsOf(self, user):
        return self.companyDefaults(user, self.defaults)

    def storedIntervals(self, user):
        """
        Fire with a user's intervals, from storage when not logged in.
        """
        if user in self._intervals:
            return defer.succeed(self._intervals[user])
        return self.settings.getAutoAway(user).addCallback(lambda stored: stored or self.defaultsOf(user))

    def onBound(self, session):
        self._trackers[session] = _Tracker()
        self._byUser.setdefault(session.bare, set()).add(session)
        if session.bare in self._intervals:
            return

        def loaded(intervals):
            if intervals is not None and self.sessions(session.bare):
                self._intervals[session.bare] = intervals

        self.settings.getAutoAway(session.bare).addCallbacks(
            loaded, lambda f: self.log.failure("Loading auto-away settings failed", f)
        )

    def sessions(self, user):
        return list(self._byUser.get(user, ()))

    def setIntervals(self, user, awayAfter, xaAfter):
        """
        Store a user's intervals and apply them to their idle sessions.
        """

        def stored(_):
            self._intervals[user] = (awayAfter, xaAfter)
            for session in self.sessions(user):
                if session.idleSince is not None:
                    self.schedule(session)

        return self.settings.setAutoAway(user, awayAfter, xaAfter).addCallback(stored)

    def onUnbound(self, session):
        tracker = self._trackers.pop(session, None)
        if tracker is not None:
            tracker.cancel()
        sessions = self._byUser.get(session.bare, set())
        sessions.discard(session)
        if not sessions:
            self._byUser.pop(session.bare, None)
            self._intervals.pop(session.bare, None)

    # Signals

    def onPresenceChanged(self, session):
        tracker = self._trackers.get(session)
        presence = session.presence
        if tracker is None or getattr(presence, "automatic", False):
            return
        tracker.cancel()
        tracker.applied = None
        if presence is None:
            tracker.base = None
            session.idleSince = None
            return
        tracker.base = presence
        kind = classify(presence, session.show)
        tracker.manual = kind in ("manual", "ask")
        session.idleSince = stanzas.idleSince(presence) if kind == "automatic" else None
        if session.idleSince is not None:
            self.schedule(session)
        elif kind == "ask":
            self.askIdle(session, presence)

    def askIdle(self, session, presence):
        """
        Ask the client how long the user has been idle (XEP-0012); a long
        time means this away is the client's own auto-away.
        """
        iq = domish.Element((NS_CLIENT, "iq"))
        iq["type"] = "get"
        iq["from"] = session.jid.host
        iq["to"] = session.full
        iq.addElement((NS_LAST, "query"))

        def answered(result):
            tracker = self._trackers.get(session)
            if tracker is None or tracker.base is not presence:
                return  # the session or its status changed meanwhile
            seconds = int(result.query["seconds"])
            if seconds >= CLIENT_IDLE_MIN:
                tracker.manual = False
                session.idleSince = self.now() - seconds
                self.schedule(session)

        d = self.requests.request(iq)
        d.addCallback(answered)
        # No answer, an error or nonsense: the away stays a manual one.
        d.addErrback(lambda failure: None)

    def onInactive(self, session):
        tracker = self._trackers.get(session)
        if tracker is None or tracker.base is None or tracker.manual:
            return
        if session.idleSince is None:
            session.idleSince = self.now()
            self.schedule(session)

    def onActive(self, session):
        tracker = self._trackers.get(session)
        if tracker is None or session.idleSince is None:
            return
        session.idleSince = None
        tracker.cancel()
        if tracker.applied is not None:
            tracker.applied = None
            self.inject(session, self.restored(tracker.base))

    # Transitions

    def schedule(self, session):
        """
        Apply the show the idle time calls for, and set a timer for the next.
        """
        tracker = self._trackers[session]
        tracker.cancel()
        awayAfter, xaAfter = self.intervals(session.bare)
        idle = self.now() - session.idleSince
        due = "xa" if idle >= xaAfter else "away" if idle >= awayAfter else None
        current = tracker.applied or session.show
        if due is not None and _RANK[due] > _RANK.get(current, 0):
            tracker.applied = due
            self.inject(session, self.automatic(tracker.base, due, session.idleSince))
        later = {None: awayAfter, "away": xaAfter}.get(due)
        if later is not None:
            tracker.timer = self.clock.callLater(
                max(session.idleSince + later - self.now(), 0), self.schedule, session
            )

    def automatic(self, base, show, idleSince):
        """
        The presence the server sends for the user: the client's own, with
        C{show}, an automatic status and the idle time.
        """
        presence = self.restored(base)
        presence.addElement("show", content=show)
        minutes = max(1, round((self.now() - idleSince) / 60))
        label = "Away" if show == "away" else "Extended away"
        presence.addElement("status", content=f"{label} (automatic: idle for {minutes} min)")
        idle = presence.addElement((stanzas.NS_IDLE, "idle"))
        idle["since"] = stanzas.formatStamp(idleSince)
        return presence

    def restored(self, base):
        """
        The client's presence without what auto-away adds or replaces.
        """
        presence = domish.Element((NS_CLIENT, "presence"), attribs=dict(base.attributes))
        for child in base.elements():
            if (child.uri, child.name) not in (
                (NS_CLIENT, "show"),
                (NS_CLIENT, "status"),
                (stanzas.NS_IDLE, "idle"),
            ):
                presence.addChild(child)
        if not stanzas.child(base, stanzas.NS_IDLE, "idle"):
            # Keep a status the client set (an automatic presence replaces it).
            status = stanzas.child(base, NS_CLIENT, "status")
            if status is not None:
                presence.addChild(status)
        return presence

    def inject(self, session, presence):
        presence.origin = session
        presence.automatic = True
        self.xmlstream.dispatch(presence, events.PRESENCE_OUTBOUND)


class AutoAwaySettingsCommand:
    """
    The "Auto-away settings" ad-hoc command: each user sets their intervals.
    """

    node = "urn:openmessenger:autoaway"
    name = "Auto-away settings"

    def __init__(self, autoaway, accounts):
        self.autoaway = autoaway
        self.accounts = accounts

    def allowed(self, requester):
        return self.accounts.exists(requester)

    @defer.inlineCallbacks
    def form(self, requester):
        awayAfter, xaAfter = yield self.autoaway.storedIntervals(requester)
        form = data_form.Form(
            "form",
            title="Auto-away settings",
            instructions=[
                "After how many minutes without activity should others see you as "
                "away, and as extended away?"
            ],
        )
        form.addField(data_form.Field("text-single", "away_after", str(awayAfter // 60),
                                      label="Away after (minutes)", required=True))
        form.addField(data_form.Field("text-single", "xa_after", str(xaAfter // 60),
                                      label="Extended away after (minutes)", required=True))
        return form

    def submit(self, requester, form):
        values = form.getValues()
        minutes = []
        for name, label in [("away_after", "Away after"), ("xa_after", "Extended away after")]:
            text = str(values.get(name, "")).strip()
            if not text:
                raise CommandError(f"{label}: please enter a number of minutes.")
            if not text.isdigit():
                raise CommandError(f"{label}: {text!r} is not a whole number of minutes.")
            minutes.append(int(text))
        away, xa = minutes
        if not 1 <= away <= 1440 or not 1 <= xa <= 1440:
            raise CommandError("Use between 1 and 1440 minutes.")
        if xa <= away:
            raise CommandError("Extended away must come after away.")
        d = self.autoaway.setIntervals(requester, away * 60, xa * 60)
        return d.addCallback(
            lambda _: f"Saved: away after {away} min, extended away after {xa} min."
        )
