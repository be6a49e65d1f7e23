# -*- test-case-name: tests.xmpp.test_streammanagement -*-
"""
Stream management (XEP-0198): acknowledgements and resumption.

Each stream that enabled it counts the stanzas it handled and keeps those
it sent until the client acknowledges them.  When such a connection breaks
(rather than being closed), the session is I{suspended}: it leaves the
registry, so contacts see it offline at once and new messages for the user
go where they would for an offline user, while whatever reaches the session
object itself is queued.  A client that comes back within the resume
timeout gets the session back with everything it had not acknowledged;
otherwise the session ends and its unacknowledged messages are routed
again, which stores them offline (or hands them to the user's other
resources): nothing is silently dropped.
"""

import collections

from twisted.internet import defer
from twisted.logger import Logger

from openmessenger.xmpp import stanzas

NS_SM = "urn:xmpp:sm:3"

#: The client is asked for an acknowledgement every this many stanzas.
REQUEST_EVERY = 5


class HandledCountTooHigh(ValueError):
    """
    The client acknowledged stanzas that were never sent.
    """

class AckState:
    """
    The stream management state of one session.

    @ivar received: stanzas handled from the client (its C{h}).
    @ivar sent: stanzas sent to it so far.
    @ivar queue: C{(number, stanza)} sent and not yet acknowledged.
    """

    def __init__(self, resumable):
        self.id = stanzas.newId(size=16)
        self.resumable = resumable
        self.received = 0
        self.sent = 0
        self.queue = collections.deque()
        #: C{(number, Deferred)}: who waits for the client to acknowledge
        #: the stanza of that number.
        self.confirmations = collections.deque()
        #: Durable writes that stanzas received so far started, unfinished.
        self.writes = set()
        #: C{(writes, Deferred)}: acknowledgements waiting for those writes.
        self.answers = collections.deque()

    def outbound(self, stanza):
        self.sent += 1
        self.queue.append((self.sent, stanza))

    def acknowledged(self, handled):
        """
        The client says it has handled C{handled} stanzas.
        """
        if handled > self.sent or handled < self.sent - len(self.queue) - 2**32:
            raise HandledCountTooHigh(handled)
        while self.queue and self.queue[0][0] <= handled:
            self.queue.popleft()
        while self.confirmations and self.confirmations[0][0] <= handled:
            self.confirmations.popleft()[1].callback(True)

    def unacknowledged(self):
        return [stanza for _, stanza in self.queue]

    def confirmed(self):
        """
        Fire with C{True} once the client acknowledged every stanza sent so
        far, or with C{False} if the session ends before.
        """
        if not self.queue:
            return defer.succeed(True)
        d = defer.Deferred()
        self.confirmations.append((self.sent, d))
        return d

    def abandoned(self):
        """
        The session ended for good: nothing more will be acknowledged.
        """
        while self.confirmations:
            self.confirmations.popleft()[1].callback(False)

    def writing(self, d):
        """
        A stanza just received started the durable write C{d} (a Deferred
        that does not fail): acknowledgements from now on wait for it.
        """
        self.writes.add(d)

        def done(result):
            self.writes.discard(d)
            while self.answers and self.answers[0][0].isdisjoint(self.writes):
                self.answers.popleft()[1].callback(None)
            return result

        d.addBoth(done)

    def written(self):
        """
        Fire once every durable write started so far has finished: at once
        if there is none, so answering C{<r/>} costs nothing then.
        """
        if not self.writes and not self.answers:
            return defer.succeed(None)
        d = defer.Deferred()
        self.answers.append((frozenset(self.writes), d))
        return d


class SuspendedStream:
    """
    What a suspended session sends to: the queue, until it is resumed.
    """

    def __init__(self, state, onClose):
        self.state = state
        self.onClose = onClose

    def send(self, stanza):
        self.state.outbound(stanza)

    def confirmed(self):
        return self.state.confirmed()

    def closeWithError(self, condition, text=None):
        # E.g. the account was deleted: no point waiting for a resumption.
        self.onClose()


class Resumption:
    """
    The sessions that may be resumed, by stream management id.

    @param expire: called with C{(session, state)} when a suspended session
        was not resumed in time.
    """

    log = Logger()

    def __init__(self, clock, timeout, expire):
        self.clock = clock
        self.timeout = timeout
        self.expire = expire
        self._entries = {}
        #: The ids of the suspended sessions, by full JID.
        self._suspended = {}

    def register(self, session, state):
        self._entries[state.id] = [session, state, None]

    def forget(self, state):
        entry = self._entries.pop(state.id, None)
        if entry is not None:
            self.unsuspend(entry)

    def unsuspend(self, entry):
        session, state, timer = entry
        if timer is not None and timer.active():
            timer.cancel()
        if self._suspended.get(session.full) == state.id:
            del self._suspended[session.full]

    def suspend(self, session, state):
        """
        Keep a broken session for C{timeout} seconds.
        """
        entry = self._entries.get(state.id)
        if entry is None:
            return
        session.stream = SuspendedStream(state, lambda: self.end(state.id))
        entry[2] = self.clock.callLater(self.timeout, self.end, state.id)
        self._suspended[session.full] = state.id

    def end(self, id):
        entry = self._entries.pop(id, None)
        if entry is None:
            return
        self.unsuspend(entry)
        session, state, _ = entry
        self.log.info("{jid} was not resumed", jid=session.full)
        self.expire(session, state)

    def endAll(self):
        """
        End every suspended session (the server stops).
        """
        for id in [id for id, entry in self._entries.items() if entry[2] is not None]:
            self.end(id)

    def endSuspended(self, full):
        """
        End the suspended session of a full JID, if any: a new session
        binds that resource.
        """
        id = self._suspended.get(full)
        if id is not None:
            self.end(id)

    def take(self, id, user):
        """
        The C{(session, state)} to resume for C{user}, or C{None}.
        """
        entry = self._entries.get(id)
        if entry is None or entry[0].bare != user:
            return None
        entry = self._entries.pop(id)
        self.unsuspend(entry)
        return entry[0], entry[1]
