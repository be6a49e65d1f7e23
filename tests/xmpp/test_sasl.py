"""
Tests for L{openmessenger.xmpp.sasl}, with the RFC 5802 and RFC 7677 test
vectors.
"""

import base64

import scramp
from twisted.trial.unittest import SynchronousTestCase

from openmessenger.storage.interfaces import ScramKeys
from openmessenger.xmpp import sasl


def vectorKeys(mechanism, salt):
    salt, stored, server, iterations = scramp.ScramMechanism(mechanism).make_auth_info(
        "pencil", iteration_count=4096, salt=base64.b64decode(salt)
    )
    return ScramKeys(salt, stored, server, iterations)


class ScramVectorTests(SynchronousTestCase):
    def exchange(self, mechanism, salt, clientNonce, serverNonce, clientFinal):
        exchange = sasl.ScramExchange(mechanism, vectorKeys(mechanism, salt), serverNonce)
        first = f"n,,n=user,r={clientNonce}".encode()
        self.assertEqual(sasl.parseScramFirst(first), ("user", None))
        serverFirst = exchange.challenge(first)
        return serverFirst, exchange.finish(clientFinal.encode())

    def test_scramSha1(self):
        """
        The RFC 5802 section 5 exchange yields the RFC's server messages.
        """
        serverFirst, serverFinal = self.exchange(
            "SCRAM-SHA-1",
            "QSXCR+Q6sek8bf92",
            "fyko+d2lbbFgONRv9qkxdawL",
            "3rfcNHYJY1ZVvWVs7j",
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
            "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
        )
        self.assertEqual(
            serverFirst,
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
        )
        self.assertEqual(serverFinal, b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")

    def test_scramSha256(self):
        """
        The RFC 7677 section 3 exchange yields the RFC's server messages.
        """
        serverFirst, serverFinal = self.exchange(
            "SCRAM-SHA-256",
            "W22ZaJ0SNY7soEsUEjb6gQ==",
            "rOprNGfwEbeRWgbNEkqO",
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        )
        self.assertEqual(
            serverFirst,
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        )
        self.assertEqual(serverFinal, b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")

    def test_wrongProof(self):
        """
        A client proof made from another password is C{not-authorized}.
        """
        exchange = sasl.ScramExchange(
            "SCRAM-SHA-1", vectorKeys("SCRAM-SHA-1", "QSXCR+Q6sek8bf92"), "3rfcNHYJY1ZVvWVs7j"
        )
        exchange.challenge(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")
        failure = self.assertRaises(
            sasl.SASLFailure,
            exchange.finish,
            b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
            b"p=AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        self.assertEqual(failure.condition, "not-authorized")


class ExchangeTests(SynchronousTestCase):
    def login(self, mechanism, keys, password):
        client = scramp.ScramClient([mechanism], "user", password)
        exchange = sasl.ScramExchange(mechanism, keys)
        client.set_server_first(exchange.challenge(client.get_client_first().encode()).decode())
        final = exchange.finish(client.get_client_final().encode())
        client.set_server_final(final.decode())

    def test_credentialsWorkForEachMechanism(self):
        """
        Keys from L{sasl.makeCredentials} let a real SCRAM client log in with
        every mechanism we offer, and the server proves itself to it.
        """
        credentials = sasl.makeCredentials("pencil")
        for mechanism in sasl.SCRAM_MECHANISMS:
            self.login(mechanism, credentials.keys[mechanism], "pencil")

    def test_unknownUserFailsLikeWrongPassword(self):
        """
        An unknown user gets a normal-looking challenge, then C{not-authorized}.
        """
        client = scramp.ScramClient(["SCRAM-SHA-256"], "ghost", "pencil")
        exchange = sasl.ScramExchange("SCRAM-SHA-256", None)
        challenge = exchange.challenge(client.get_client_first().encode())
        self.assertIn(b",i=4096", challenge)
        client.set_server_first(challenge.decode())
        failure = self.assertRaises(
            sasl.SASLFailure, exchange.finish, client.get_client_final().encode()
        )
        self.assertEqual(failure.condition, "not-authorized")

    def test_passwordsAreNotStored(self):
        """
        Credentials hold salted keys with at least 4096 iterations, never the
        password.
        """
        credentials = sasl.makeCredentials("correct horse")
        for keys in credentials.keys.values():
            self.assertGreaterEqual(keys.iterations, 4096)
            self.assertNotIn(b"correct horse", keys.storedKey + keys.serverKey + keys.salt)

    def test_checkPassword(self):
        """
        PLAIN passwords are checked against the SCRAM keys.
        """
        credentials = sasl.makeCredentials("pencil")
        self.assertTrue(sasl.checkPassword(credentials, "pencil"))
        self.assertFalse(sasl.checkPassword(credentials, "pencil2"))
        self.assertFalse(sasl.checkPassword(credentials, ""))

    def test_emptyPasswordRefused(self):
        """
        An empty password cannot be set.
        """
        self.assertRaises(ValueError, sasl.makeCredentials, "")


class ParseTests(SynchronousTestCase):
    def test_authzid(self):
        """
        The authorization identity and escaped user names are decoded.
        """
        self.assertEqual(
            sasl.parseScramFirst(b"n,a=us=2Cer@h,n=us=3Der,r=abc"), ("us=er", "us,er@h")
        )

    def test_malformedScram(self):
        """
        Garbage, channel-binding requests and bad escapes are
        C{malformed-request}.
        """
        for message in [b"", b"\xff\xfe", b"n,,r=abc", b"p=tls-unique,,n=u,r=x", b"n,,n=a=b,r=x"]:
            failure = self.assertRaises(sasl.SASLFailure, sasl.parseScramFirst, message)
            self.assertEqual(failure.condition, "malformed-request", message)

    def test_plain(self):
        """
        PLAIN messages split into authzid, user and password.
        """
        self.assertEqual(sasl.parsePlain(b"\0juliet\0r0m30"), (None, "juliet", "r0m30"))
        self.assertEqual(sasl.parsePlain(b"j@h\0juliet\0pw"), ("j@h", "juliet", "pw"))
        self.assertRaises(sasl.SASLFailure, sasl.parsePlain, b"juliet\0pw")
        self.assertRaises(sasl.SASLFailure, sasl.parsePlain, b"\0juliet\0")
