# -*- test-case-name: tests.xmpp.test_c2s -*-
"""
Dead peers: a connection can die without a word (cable pulled, laptop lid
shut).  After a quiet spell the server pings the client (XEP-0199); a client
silent for the whole timeout, the ping having had the rest of it, is gone.
A client that answers pings is never dropped.  Reads only note the time on
the stream: no timer is touched per packet.
"""

from twisted.logger import Logger


class Watchdog:
    """
    Watches one bound stream.

    @param stream: the L{ClientStream}: its C{lastReceived}, C{ping()}.
    @param timeout: seconds of silence after which the client is gone (0:
        never); it is pinged after half of them.
    @param gone: called once the client is gone.
    """

    log = Logger()

    def __init__(self, stream, clock, timeout, gone):
        self.stream = stream
        self.clock = clock
        self.timeout = timeout
        self.gone = gone
        self.timer = None
        #: When the client was last pinged.
        self.pingedAt = None

    def start(self, delay):
        """
        Look first after C{delay} seconds.
        """
        if self.timeout:
            self.timer = self.clock.callLater(max(delay, 0), self.check)

    def stop(self):
        if self.timer is not None and self.timer.active():
            self.timer.cancel()

    def check(self):
        quiet = self.timeout / 2
        now = self.clock.seconds()
        last = self.stream.lastReceived
        if now - last < quiet:
            return self.start(last + quiet - now)
        # One ping per quiet spell: none yet since the client last spoke.
        if self.pingedAt is None or self.pingedAt <= last:
            self.pingedAt = now
            self.stream.ping("alive")
        deadline = max(last + self.timeout, self.pingedAt + self.timeout - quiet)
        if now < deadline:
            return self.start(deadline - now)
        self.log.info("{jid} silent for {silent:.0f}s: disconnecting",
                      jid=self.stream.session.full, silent=now - last)
        self.gone()
