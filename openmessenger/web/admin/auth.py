# -*- test-case-name: tests.web.test_admin -*-
"""
Logins to the administration pages: sessions in memory, CSRF tokens, and
throttling per address and per account.

Passwords are the XMPP ones (checked against the same SCRAM keys).  The
session cookie is HttpOnly and SameSite=Strict, and Secure when the request
came over HTTPS; every POST must carry the session's CSRF token.
"""

import hmac
import os
import time

from openmessenger.xmpp.c2s import AuthThrottle

COOKIE = b"om_admin"
#: Seconds a session lasts without use.
SESSION_TIMEOUT = 3600
#: Sessions kept at most; the oldest go first.
MAX_SESSIONS = 10000


class AdminSession:
    def __init__(self, user, now):
        self.id = os.urandom(24).hex()
        self.csrf = os.urandom(24).hex()
        self.user = user
        self.used = now


class Sessions:
    def __init__(self, clock=None):
        self.now = clock.seconds if clock is not None else time.time
        self._sessions = {}

    def create(self, user=None):
        """
        A new session (C{user} C{None}: not logged in yet, for the login
        form's CSRF token).
        """
        session = AdminSession(user, self.now())
        self._sessions[session.id] = session
        while len(self._sessions) > MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        return session

    def get(self, request):
        cookie = request.getCookie(COOKIE)
        session = self._sessions.get(cookie.decode("ascii", "replace")) if cookie else None
        if session is None:
            return None
        if self.now() - session.used > SESSION_TIMEOUT:
            del self._sessions[session.id]
            return None
        session.used = self.now()
        return session

    def end(self, session):
        self._sessions.pop(session.id, None)

    def endUser(self, user):
        """
        Log a user out everywhere (deleted or disabled).
        """
        for session in [s for s in self._sessions.values() if s.user == user]:
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
    Failed logins counted per address and per account.
    """

    def __init__(self, clock, failures=5, window=60):
        self.byAddress = AuthThrottle(failures, window, clock)
        self.byAccount = AuthThrottle(failures, window, clock)

    def allowed(self, address, account):
        return self.byAddress.allowed(address) and self.byAccount.allowed(account)

    def failed(self, address, account):
        self.byAddress.failed(address)
        self.byAccount.failed(account)
