# -*- test-case-name: tests.web.test_admin -*-
"""
Logins to the administration pages: sessions in memory, CSRF tokens, and
throttling per address and against guessing per account.

Passwords are the XMPP ones (checked against the same SCRAM keys).  The
session cookie is HttpOnly and SameSite=Strict, and Secure when the request
came over HTTPS; every POST must carry the session's CSRF token.
"""

import collections
import hmac
import os

from openmessenger.ratelimit import GuessingGuard, Throttle

COOKIE = b"om_admin"
#: Seconds a session lasts without use.
SESSION_TIMEOUT = 3600
#: Sessions kept at most, of logged-in users and of login forms each; the
#: least recently used go first.
MAX_SESSIONS = 10000


class AdminSession:
    def __init__(self, user, now):
        self.id = os.urandom(24).hex()
        self.csrf = os.urandom(24).hex()
        self.user = user
        self.used = now


class Sessions:
    def __init__(self, clock):
        self.now = clock.seconds
        # Anyone can make login-form sessions by the thousand: they are kept
        # apart, so they never push out a logged-in user's.
        self._loggedIn = collections.OrderedDict()
        self._forms = collections.OrderedDict()

    def pool(self, session):
        return self._forms if session.user is None else self._loggedIn

    def create(self, user=None):
        """
        A new session (C{user} C{None}: not logged in yet, for the login
        form's CSRF token).
        """
        session = AdminSession(user, self.now())
        pool = self.pool(session)
        pool[session.id] = session
        while len(pool) > MAX_SESSIONS:
            pool.popitem(last=False)
        return session

    def get(self, request):
        cookie = request.getCookie(COOKIE)
        key = cookie.decode("ascii", "replace") if cookie else None
        session = self._loggedIn.get(key) or self._forms.get(key)
        if session is None:
            return None
        if self.now() - session.used > SESSION_TIMEOUT:
            self.end(session)
            return None
        session.used = self.now()
        self.pool(session).move_to_end(session.id)
        return session

    def end(self, session):
        self.pool(session).pop(session.id, None)

    def endUser(self, user):
        """
        Log a user out everywhere (deleted or disabled).
        """
        for session in [s for s in self._loggedIn.values() if s.user == user]:
            self.end(session)

    def setCookie(self, request, session, secure):
        request.addCookie(
            COOKIE, session.id.encode("ascii"), path=b"/admin", httpOnly=True,
            secure=secure, sameSite=b"strict",
        )


def validToken(session, form):
    token = form.get("csrf", "")
    return session is not None and hmac.compare_digest(token.encode(), session.csrf.encode())


class LoginThrottle:
    """
    Login attempts counted per address as they start, and guessing against
    each account slowed by a L{GuessingGuard} (shared with XMPP logins).
    """

    def __init__(self, clock, attempts=5, window=60, guard=None):
        self.byAddress = Throttle(attempts, window, clock)
        self.guard = guard or GuessingGuard(20, 600, clock)

    def attempt(self, address, account):
        """
        Count an attempt; whether it may go on.
        """
        return self.byAddress.attempt(address) and self.guard.attempt(account, address)

    def succeeded(self, address, account):
        self.byAddress.forgive(address)
        self.guard.succeeded(account, address)
