"""
Tests for L{openmessenger.features.registration}: in-band registration
(XEP-0077) before login, and password changes and account removal after.
"""

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.xmpp.sasl import checkPassword
from tests.helpers import FakeServer, header

NS = "jabber:iq:register"


def register(username, password):
    return (
        f"<iq type='set' id='r'><query xmlns='{NS}'><username>{username}</username>"
        f"<password>{password}</password></query></iq>"
    )


class InBandRegistrationTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer(extra="[registration]\nenabled = true\nmax_per_ip = 2\nwindow = 3600\n")

    def client(self, peer="192.0.2.1"):
        client = self.server.client(peer)
        client.startTLS()
        client.send(header())
        features = client.read()[1]
        self.assertIsNotNone(features.register)
        return client

    def test_register(self):
        """
        A new user registers and can log in.
        """
        client = self.client()
        client.send(f"<iq type='get' id='g'><query xmlns='{NS}'/></iq>")
        form = client.readOne().query
        self.assertIsNotNone(form.username)
        client.send(register("newbie", "fresh pw"))
        self.assertEqual(client.readOne()["type"], "result")
        self.assertEqual(self.server.client().login("newbie@example.com", "fresh pw").jid, "newbie@example.com/test")

    def test_conflict(self):
        """
        A taken name is a C{conflict}.
        """
        self.server.addUser("alice@example.com")
        client = self.client()
        client.send(register("Alice", "x"))
        self.assertEqual(client.readOne().error.firstChildElement().name, "conflict")

    def test_operatorAddressReserved(self):
        """
        An operator listed in [server] admins whose account does not exist
        yet cannot be registered by a stranger.
        """
        server = FakeServer(admins="root@example.com", extra="[registration]\nenabled = true\n")
        client = server.client()
        client.startTLS()
        client.send(header())
        client.read()
        client.send(register("Root", "mine now"))
        self.assertEqual(client.readOne().error.firstChildElement().name, "conflict")
        self.assertFalse(server.core.accounts.exists("root@example.com"))

    def test_badInput(self):
        """
        Missing fields and invalid names are C{not-acceptable}.
        """
        client = self.client()
        for stanza in [register("", "x"), register("bob", ""), register("a b", "x")]:
            client.send(stanza)
            self.assertEqual(client.readOne().error.firstChildElement().name, "not-acceptable", stanza)

    def test_flood(self):
        """
        Beyond the limit per address, registrations are C{resource-constraint}
        until the window has passed; other addresses are not affected.
        """
        client = self.client()
        for name in ["a1", "a2"]:
            client.send(register(name, "x"))
            self.assertEqual(client.readOne()["type"], "result")
        client.send(register("a3", "x"))
        self.assertEqual(client.readOne().error.firstChildElement().name, "resource-constraint")
        other = self.client(peer="198.51.100.9")
        other.send(register("b1", "x"))
        self.assertEqual(other.readOne()["type"], "result")
        self.server.clock.advance(3601)
        again = self.client()
        again.send(register("a3", "x"))
        self.assertEqual(again.readOne()["type"], "result")

    def test_offByDefault(self):
        """
        Without the option, registration is not offered and not answered.
        """
        server = FakeServer()
        client = server.client()
        client.startTLS()
        client.send(header())
        self.assertIsNone(client.read()[1].register)
        client.send(register("x", "y"))
        self.assertEqual(client.streamError(), "not-authorized")

    def test_notOnCompanyDomains(self):
        """
        A company's automatic domain is not open to in-band registration:
        not offered, not answered; the configured domain still is.
        """
        server = FakeServer(extra="[registration]\nenabled = true\n"
                                  "[companies]\nbase_domain = chat.example.com\n")
        server.core.directory.addCompany("acme", "ACME")
        client = server.client()
        client.startTLS()
        client.send(header("acme.chat.example.com"))
        self.assertIsNone(client.read()[1].register)
        client.send(register("eve", "secret"))
        self.assertEqual(client.streamError(), "not-authorized")
        self.assertFalse(server.core.accounts.exists("eve@acme.chat.example.com"))
        client = server.client()
        client.startTLS()
        client.send(header())
        self.assertIsNotNone(client.read()[1].register)


class AccountSettingsTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        self.server.addUser("alice@example.com")
        self.alice = self.server.login("alice@example.com")

    def test_changePassword(self):
        """
        A logged-in user changes the password (always allowed).
        """
        self.alice.send(
            f"<iq type='set' id='p' to='example.com'><query xmlns='{NS}'><username>alice</username>"
            "<password>n3w</password></query></iq>"
        )
        self.assertEqual(self.alice.readOne()["type"], "result")
        credentials = self.server.store.getCredentials("alice@example.com").result
        self.assertTrue(checkPassword(credentials, "n3w"))

    def test_notAnotherUsersPassword(self):
        """
        Naming another user is C{not-authorized}.
        """
        self.server.addUser("bob@example.com")
        self.alice.send(
            f"<iq type='set' id='p' to='example.com'><query xmlns='{NS}'><username>bob</username>"
            "<password>mine now</password></query></iq>"
        )
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "not-authorized")

    def test_failedRemovalLogged(self):
        """
        A removal that fails in storage is logged with its cause.
        """
        from twisted.internet.defer import fail

        self.server.core.accounts.delete = lambda user: fail(OSError("disk gone"))
        self.alice.send(f"<iq type='set' id='x' to='example.com'><query xmlns='{NS}'><remove/></query></iq>")
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)

    def test_remove(self):
        """
        A user removes the account: the answer, then the stream ends.
        """
        self.alice.send(f"<iq type='set' id='x' to='example.com'><query xmlns='{NS}'><remove/></query></iq>")
        elements = self.alice.read()
        self.assertEqual(elements[0]["type"], "result")
        self.assertFalse(self.server.core.accounts.exists("alice@example.com"))
        self.assertTrue(self.alice.disconnected)
