"""
Tests for L{openmessenger.features.entitytime}.
"""

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.xmpp.stanzas import formatStamp
from tests.helpers import FakeServer


class EntityTimeTests(SynchronousTestCase):
    def test_serverTime(self):
        """
        The server answers with its UTC time (XEP-0202).
        """
        server = FakeServer()
        server.addUser("alice@example.com")
        alice = server.login("alice@example.com")
        alice.send("<iq type='get' id='t' to='example.com'><time xmlns='urn:xmpp:time'/></iq>")
        reply = alice.readOne().time
        self.assertEqual((str(reply.tzo), str(reply.utc)), ("+00:00", formatStamp(server.clock.seconds())))
