"""
Tests for L{openmessenger.xmpp.stanzas}.
"""

from types import SimpleNamespace

from twisted.trial.unittest import SynchronousTestCase
from twisted.words.xish import domish

from openmessenger.xmpp import stanzas


class StanzaHelperTests(SynchronousTestCase):
    def test_parseStoredKeepsText(self):
        """
        A stored element comes back whole, text directly inside it too.
        """
        element = stanzas.parseStored("<roster xmlns='roster:delimiter'>::</roster>")
        self.assertEqual((element.uri, str(element)), ("roster:delimiter", "::"))
        for damaged in ("<a>", "<a/><b/>", "text"):
            self.assertRaises(ValueError, stanzas.parseStored, damaged)

    def test_answerWithError(self):
        """
        An error reply is sent, except in answer to an error or a result.
        """
        sent = []
        for kind in ("chat", "error"):
            message = domish.Element((stanzas.NS_CLIENT, "message"))
            message["type"], message["from"], message["to"] = kind, "a@example.com/x", "b@example.com"
            stanzas.answerWithError(sent.append, message, "service-unavailable")
        self.assertEqual([(s["type"], s["to"]) for s in sent], [("error", "a@example.com/x")])

    def test_ownSession(self):
        """
        A stanza without C{to}, or to the sender's bare JID, is the sender's
        own account's.
        """
        session = SimpleNamespace(bare="alice@example.com")
        for to, own in ((None, True), ("alice@example.com", True), ("bob@example.com", False)):
            iq = domish.Element((stanzas.NS_CLIENT, "iq"))
            if to:
                iq["to"] = to
            iq.origin = session
            self.assertEqual(stanzas.ownSession(iq) is session, own, to)

    def test_newId(self):
        """
        Ids are random, with their prefix and length.
        """
        first, second = stanzas.newId("push-"), stanzas.newId("push-")
        self.assertNotEqual(first, second)
        self.assertTrue(first.startswith("push-"))
        self.assertEqual(len(stanzas.newId(size=16)), 32)
