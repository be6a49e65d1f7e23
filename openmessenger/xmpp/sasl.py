# -*- test-case-name: tests.xmpp.test_sasl -*-
"""
Server side of SASL (RFC 6120 6): SCRAM-SHA-256, SCRAM-SHA-1 and PLAIN.

Pure functions and objects, no I/O: the stream code looks credentials up and
feeds the client's messages in.  The SCRAM arithmetic is scramp's; this module
adds the XMPP rules around it (authorization identity, error conditions) and
keeps passwords out of storage: only SCRAM keys are kept (RFC 5802 3), and
PLAIN is checked against the same keys.
"""

import hashlib
import hmac
import os

import scramp
from scramp.utils import saslprep

from openmessenger.messages import Message
from openmessenger.storage.interfaces import Credentials, ScramKeys

# In order of preference: the strongest first.
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-1")
DEFAULT_ITERATIONS = 4096

_HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-1": "sha1"}


class SASLFailure(Exception):
    """
    Authentication failed; C{condition} is the RFC 6120 6.5 failure element.
    """

    def __init__(self, condition, text=""):
        Exception.__init__(self, condition, text)
        self.condition = condition
        self.text = text


def makeCredentials(password: str, iterations: int = DEFAULT_ITERATIONS) -> Credentials:
    """
    Derive the SCRAM keys of every supported mechanism from a password.

    @raise ValueError: if the password is empty or not allowed by SASLprep.
    """
    if not password:
        raise ValueError("the password must not be empty")
    keys = {}
    for name in SCRAM_MECHANISMS:
        try:
            salt, storedKey, serverKey, count = scramp.ScramMechanism(
                name
            ).make_auth_info(password, iteration_count=iterations)
        except scramp.ScramException as e:
            raise ValueError(Message("password not allowed: {why}", why=e)) from None
        keys[name] = ScramKeys(salt, storedKey, serverKey, count)
    return Credentials(keys=keys)


def checkPassword(credentials: Credentials, password: str) -> bool:
    """
    Tell whether C{password} matches the stored SCRAM keys (for PLAIN).
    """
    name = SCRAM_MECHANISMS[0]
    keys = credentials.keys.get(name)
    if keys is None:
        return False
    try:
        prepared = saslprep(password).encode("utf-8")
    except (ValueError, scramp.ScramException):
        return False
    algorithm = _HASHES[name]
    salted = hashlib.pbkdf2_hmac(algorithm, prepared, keys.salt, keys.iterations)
    clientKey = hmac.new(salted, b"Client Key", algorithm).digest()
    storedKey = hashlib.new(algorithm, clientKey).digest()
    return hmac.compare_digest(storedKey, keys.storedKey)


def _unescapeUsername(name):
    if "=" in name.replace("=2C", "").replace("=3D", ""):
        raise SASLFailure("malformed-request", "bad escape in user name")
    return name.replace("=2C", ",").replace("=3D", "=")


def parseScramFirst(message: bytes):
    """
    Read the user name and authorization identity from a SCRAM
    client-first-message (RFC 5802 7), so its credentials can be looked up.

    @return: C{(username, authzid)}; C{authzid} is C{None} when absent.
    @raise SASLFailure: if the message is malformed.
    """
    try:
        text = message.decode("utf-8")
        flag, authz, bare = text.split(",", 2)
        attribute, value = bare.split(",", 1)[0].split("=", 1)
    except (UnicodeDecodeError, ValueError):
        raise SASLFailure("malformed-request", "malformed SCRAM message") from None
    if flag not in ("n", "y") or attribute != "n" or not value:
        # "p" asks for channel binding, which we do not offer (no -PLUS).
        raise SASLFailure("malformed-request", "unsupported SCRAM header")
    if authz and not authz.startswith("a="):
        raise SASLFailure("malformed-request", "malformed authorization identity")
    authzid = _unescapeUsername(authz[2:]) if authz else None
    return _unescapeUsername(value), authzid


class ScramExchange:
    """
    One SCRAM authentication, server side.

    @param keys: the user's L{ScramKeys} for this mechanism, or C{None} for
        an unknown user: the exchange then runs to the end with made-up keys
        and fails, so a client cannot tell unknown users from wrong passwords.
    @param decoySalt: the salt shown for an unknown user (L{decoySalt}): the
        same at every attempt, as a real account's is.
    @param serverNonce: fixed only by tests (RFC test vectors); random
        otherwise.
    """

    def __init__(self, mechanism: str, keys: ScramKeys | None, serverNonce=None, decoySalt=None):
        if keys is None:
            keys = ScramKeys(decoySalt or os.urandom(16), os.urandom(32), os.urandom(32),
                             DEFAULT_ITERATIONS)
            self.known = False
        else:
            self.known = True
        auth = (keys.salt, keys.storedKey, keys.serverKey, keys.iterations)
        self._server = scramp.ScramMechanism(mechanism).make_server(
            lambda user: auth, s_nonce=serverNonce
        )

    def challenge(self, clientFirst: bytes) -> bytes:
        """
        Take the client-first-message; return the server-first-message.
        """
        try:
            self._server.set_client_first(clientFirst.decode("utf-8"))
            return self._server.get_server_first().encode("utf-8")
        except (scramp.ScramException, UnicodeDecodeError):
            raise SASLFailure("malformed-request") from None

    def finish(self, clientFinal: bytes) -> bytes:
        """
        Check the client's proof; return the server-final-message.

        @raise SASLFailure: C{not-authorized} if the proof is wrong.
        """
        try:
            self._server.set_client_final(clientFinal.decode("utf-8"))
        except (scramp.ScramException, UnicodeDecodeError):
            raise SASLFailure("not-authorized") from None
        if not self.known:
            raise SASLFailure("not-authorized")
        return self._server.get_server_final().encode("utf-8")


def decoySalt(secret: bytes, mechanism: str, user: str) -> bytes:
    """
    The salt SCRAM shows for an account that does not exist: derived from
    the server's secret, so it stays the same like a real one (a salt that
    changed at each attempt would tell that the account is not there).
    """
    return hmac.new(secret, f"{mechanism}\0{user}".encode("utf-8"), hashlib.sha256).digest()[:16]


def parsePlain(message: bytes):
    """
    Split a PLAIN message (RFC 4616) into C{(authzid, username, password)}.
    """
    try:
        authzid, username, password = message.decode("utf-8").split("\0")
    except (UnicodeDecodeError, ValueError):
        raise SASLFailure("malformed-request", "malformed PLAIN message") from None
    if not username or not password:
        raise SASLFailure("not-authorized")
    return authzid or None, username, password
