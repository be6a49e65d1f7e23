"""
Tests for L{openmessenger.features.vcard}.
"""

import base64
import hashlib

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import FakeServer

PHOTO = base64.b64encode(b"\x89PNG fake image").decode()


class VCardTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer(extra="[vcard]\nmax_size = 2000\n")
        self.server.addUser("alice@example.com")
        self.server.addUser("bob@example.com")
        self.alice = self.server.login("alice@example.com")

    def get(self, client, to=None):
        attribute = f" to='{to}'" if to else ""
        client.send(f"<iq type='get' id='v'{attribute}><vCard xmlns='vcard-temp'/></iq>")
        return client.readOne()

    def test_failedReadLogged(self):
        """
        A vCard that cannot be read at login is logged with its cause.
        """
        from twisted.internet.defer import fail

        server = FakeServer()
        server.addUser("carol@example.com")
        server.store.getDocument = lambda user, key: fail(OSError("disk gone"))
        server.login("carol@example.com")
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)

    def test_newAccountHasName(self):
        """
        A new account's vCard carries its name, so Psi opens no editor.
        """
        vcard = self.get(self.alice).vCard
        self.assertEqual((str(vcard.FN), str(vcard.NICKNAME)), ("alice", "alice"))

    def test_setAndReadByOthers(self):
        """
        Alice stores her vCard; Bob reads it at her bare JID.
        """
        self.alice.send("<iq type='set' id='s'><vCard xmlns='vcard-temp'><FN>Alice A.</FN></vCard></iq>")
        self.assertEqual(self.alice.readOne()["type"], "result")
        bob = self.server.login("bob@example.com")
        self.assertEqual(str(self.get(bob, "alice@example.com").vCard.FN), "Alice A.")

    def test_tooBig(self):
        """
        A vCard over the limit is C{not-acceptable} and not stored.
        """
        big = "x" * 3000
        self.alice.send(f"<iq type='set' id='s'><vCard xmlns='vcard-temp'><DESC>{big}</DESC></vCard></iq>")
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "not-acceptable")
        self.assertEqual(str(self.get(self.alice).vCard.FN), "alice")

    def test_othersCannotWrite(self):
        """
        Nobody writes another user's vCard.
        """
        self.alice.send("<iq type='set' id='s' to='bob@example.com'><vCard xmlns='vcard-temp'><FN>x</FN></vCard></iq>")
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "forbidden")

    def test_unknownUser(self):
        """
        There is no vCard of a user who does not exist.
        """
        self.assertEqual(self.get(self.alice, "ghost@example.com").error.firstChildElement().name, "item-not-found")

    def test_avatarHashInPresence(self):
        """
        Once a photo is stored, Alice's presence broadcasts carry its SHA-1
        (XEP-0153).
        """
        self.alice.send(
            "<iq type='set' id='s'><vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE>"
            f"<BINVAL>{PHOTO}</BINVAL></PHOTO></vCard></iq>"
        )
        self.alice.read()
        phone = self.server.login("alice@example.com", "phone", available=False)
        phone.send("<presence/>")
        (seen,) = [e for e in self.alice.read() if e.name == "presence"]
        update = seen.x
        self.assertEqual(update.uri, "vcard-temp:x:update")
        self.assertEqual(str(update.photo), hashlib.sha1(base64.b64decode(PHOTO)).hexdigest())
