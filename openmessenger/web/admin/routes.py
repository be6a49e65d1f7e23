# -*- test-case-name: tests.web.test_admin -*-
"""
The administration pages.

Company administrators manage their own company's users, groups and
support staff; operators (C{[server] admins}) manage every company; other
users see the download page with their connection settings.  Nothing
changes on GET; every POST carries the CSRF token.  Whatever belongs to
another company is answered 404, as if it did not exist.
"""

import hmac
import re
import json
import secrets
from datetime import datetime, timezone
from urllib.parse import quote, urlencode

from klein import Klein
from twisted.internet import defer
from twisted.logger import Logger

from openmessenger.directory import DirectoryError
from openmessenger.messages import reason
from openmessenger.storage.interfaces import AccountExists, NoSuchAccount
from openmessenger import buttons
from openmessenger.web import embed
from openmessenger.text import indented, oneLine
from openmessenger.web.inputs import arguments
from openmessenger.web.admin.auth import LoginThrottle, Sessions, validToken
from openmessenger.config import CompaniesSection
from openmessenger.visitorchat.model import MAX_PARAMETER_NAME, MAX_PARAMETER_VALUE, MAX_PARAMETERS
from openmessenger.web.proxy import clientAddress, isSecure
from openmessenger.xmpp import jids, sasl
from openmessenger.ratelimit import Throttle


def stamp(seconds):
    """
    A time for people: UTC, to the second.
    """
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class Forbidden(Exception):
    pass


class NotFound(Exception):
    pass


#: Chats on one page of the transcript list.
TRANSCRIPT_PAGE = 50


def form(request):
    return arguments(request, strip=True)


def confirmed(request):
    """
    Whether an irreversible change was confirmed (the form's check box,
    which browsers require before sending).
    """
    if form(request).get("confirm") != "on":
        raise NotConfirmed()


class NotConfirmed(Exception):
    pass


def wholeNumber(text):
    """
    A form's number field: C{None} when empty.
    """
    if not text:
        return None
    if not text.isdigit():
        raise ValueError("Use whole numbers.")
    return int(text)


def redirect(request, path):
    request.setResponseCode(303)
    request.setHeader(b"location", path.encode("utf-8"))
    return b""


def guarded(handler):
    """
    Run a page handler for a logged-in user, turning our errors into
    the right answers; on POST, check the CSRF token first.
    """

    def run(self, request, *args, **kwargs):
        session = self.session(request)
        if session is None:
            return redirect(request, "/admin/login")
        if request.method == b"POST" and not validToken(session, form(request)):
            request.setResponseCode(403)
            return self.page(request, "message.html", session,
                             message="The form expired; please try again.")
        d = defer.maybeDeferred(handler, self, request, session, *args, **kwargs)

        def failed(failure):
            if failure.check(NotFound):
                request.setResponseCode(404)
                return self.page(request, "message.html", session, message="Not found.")
            if failure.check(Forbidden):
                request.setResponseCode(403)
                return self.page(request, "message.html", session, message="You may not do this.")
            if failure.check(NotConfirmed):
                request.setResponseCode(400)
                return self.page(request, "message.html", session,
                                 message="Nothing was deleted: tick the box to confirm.")
            return failure

        return d.addErrback(failed)

    run.__name__ = handler.__name__
    return run



class AdminRoutes:
    app = Klein()
    log = Logger()

    def __init__(self, pages, accounts, directory, availability, operators, connection,
                 autoaway, publicURL="", clock=None, trustedProxies=(), transcripts=None,
                 companies=CompaniesSection(), retentionDays=0, notifyOperators=lambda text: None,
                 loginThrottle=None):
        """
        @param connection: what the download page tells clients: a dict
            with C{host}, C{port}, C{tlsPort}, C{fingerprint}.
        @param autoaway: the L{AutoAwayHandler}, for each user's intervals.
        @param companies: the C{[companies]} section: self-registration.
        @param retentionDays: the server's transcript retention, shown as
            the default on the company page.
        @param notifyOperators: tells the operators a text (by XMPP).
        @param loginThrottle: the L{LoginThrottle} (with the XMPP logins'
            guard against guessing).
        """
        self.notifyOperators = notifyOperators
        self.registration = companies.registration
        self.registrations = Throttle(companies.max_per_ip, companies.window, clock)
        self.retentionDays = retentionDays
        self.autoaway = autoaway
        self.transcripts = transcripts
        self.trustedProxies = frozenset(trustedProxies)
        self.publicURL = publicURL.rstrip("/")
        self.pages = pages
        self.accounts = accounts
        self.directory = directory
        self.availability = availability
        self.operators = frozenset(operators)
        self.connection = connection
        self.sessions = Sessions(clock)
        self.throttle = loginThrottle or LoginThrottle(clock)
        #: A one-time token for creating the operator's account on a new
        #: install (printed on the console), or None.
        self.setupToken = None
        if self.operators and not any(accounts.exists(o) for o in self.operators):
            self.setupToken = secrets.token_urlsafe(24)

    # Who is asking

    def session(self, request):
        session = self.sessions.get(request)
        if session is None or session.user is None:
            return None
        if not self.accounts.exists(session.user) or not self.directory.mayLogIn(session.user):
            self.sessions.end(session)
            return None
        return session

    def isOperator(self, user):
        return user in self.operators

    def isCompanyAdmin(self, user):
        return self.isOperator(user) or self.directory.profile(user).companyAdmin

    def managedCompany(self, request, session):
        """
        The company the page is about: the user's own, or for operators the
        one asked for.
        """
        if not self.isCompanyAdmin(session.user):
            raise Forbidden()
        if self.isOperator(session.user):
            asked = form(request).get("company")
            if asked:
                company = self.directory.companies.get(asked)
                if company is None:
                    raise NotFound()
                return company
        company = self.directory.companyOf(session.user)
        if company is None:
            if self.directory.companies and self.isOperator(session.user):
                return sorted(self.directory.companies.values(), key=lambda c: c.id)[0]
            raise NotFound()
        return company

    def page(self, request, name, session=None, **context):
        return self.pages.render(
            request, name, session=session, csrf=session.csrf if session else "",
            isAdmin=bool(session and self.isCompanyAdmin(session.user)),
            isOperator=bool(session and self.isOperator(session.user)), **context
        )

    # First run: the operator's account, with the token printed at start-up

    def setupPending(self):
        return self.setupToken is not None and not any(self.accounts.exists(o) for o in self.operators)

    def notFound(self, request):
        """
        The answer for a page that is not there (for whoever is not logged in).
        """
        request.setResponseCode(404)
        return self.pages.render(request, "message.html", session=None, csrf="", isAdmin=False,
                                 message="Not found.")

    def setupAllowed(self, values):
        return self.setupPending() and hmac.compare_digest(values.get("token", ""), self.setupToken or "")

    @app.route("/setup", methods=["GET"])
    def setupForm(self, request, error=None):
        values = form(request)
        if not self.setupAllowed(values):
            return self.notFound(request)
        return self.pages.render(request, "setup.html", session=None, csrf="", isAdmin=False,
                                 token=values["token"], operator=sorted(self.operators)[0], error=error)

    @app.route("/setup", methods=["POST"])
    @defer.inlineCallbacks
    def setup(self, request):
        values = form(request)
        if not self.setupAllowed(values):
            return self.notFound(request)
        operator = sorted(self.operators)[0]
        try:
            yield self.accounts.create(operator, values.get("password", ""))
        except (ValueError, AccountExists) as e:
            request.setResponseCode(400)
            return self.setupForm(request, reason(e))
        self.setupToken = None
        self.log.info("The operator account {jid} was set up", jid=operator)
        return redirect(request, "/admin/login")

    # Logging in and out

    def anonymousSession(self, request):
        """
        The session of a visitor who is not logged in, for the CSRF token
        of the login and registration forms.
        """
        session = self.sessions.get(request)
        if session is None:
            session = self.sessions.create()
            self.sessions.setCookie(request, session, isSecure(request, self.trustedProxies))
        return session

    @app.route("/login", methods=["GET"])
    def loginForm(self, request, error=None):
        session = self.anonymousSession(request)
        return self.pages.render(request, "login.html", session=None, csrf=session.csrf,
                                 isAdmin=False, error=error, registration=self.registration != "off")

    @app.route("/login", methods=["POST"])
    @defer.inlineCallbacks
    def login(self, request):
        values = form(request)
        anonymous = self.sessions.get(request)
        if not validToken(anonymous, values):
            request.setResponseCode(403)
            return self.loginForm(request, "The form expired; please try again.")
        address = clientAddress(request, self.trustedProxies)
        try:
            user = self.accounts.prepare(values.get("address", ""))
        except ValueError:
            user = values.get("address", "")
        # Counted before the check, so parallel attempts cannot all pass.
        if not self.throttle.attempt(address, user):
            request.setResponseCode(429)
            return self.loginForm(request, "Too many attempts; please wait a minute.")
        credentials = yield self.accounts.getCredentials(user) if self.accounts.exists(user) else None
        if (
            credentials is None
            or not sasl.checkPassword(credentials, values.get("password", ""))
            or not self.directory.profile(user).enabled
        ):
            request.setResponseCode(401)
            return self.loginForm(request, "Wrong address or password.")
        self.throttle.succeeded(address, user)
        if not self.directory.mayLogIn(user):
            request.setResponseCode(403)
            return self.loginForm(request, "Your company awaits approval by the operator.")
        return self.startSession(request, anonymous, user)

    def startSession(self, request, anonymous, user):
        self.sessions.end(anonymous)
        session = self.sessions.create(user)
        self.sessions.setCookie(request, session, isSecure(request, self.trustedProxies))
        return redirect(request, "/admin/")

    # Companies registering themselves ([companies] registration)

    @app.route("/register", methods=["GET"])
    def registerForm(self, request, error=None, values=None):
        if self.registration == "off":
            return self.notFound(request)
        session = self.anonymousSession(request)
        return self.pages.render(request, "register.html", session=None, csrf=session.csrf, isAdmin=False,
                                 error=error, values=values or {}, approval=self.registration == "approval",
                                 baseDomain=self.directory.baseDomain)

    @app.route("/register", methods=["POST"])
    @defer.inlineCallbacks
    def register(self, request):
        """
        Make the company (approved at once, or awaiting an operator) and its
        first user, its administrator.
        """
        if self.registration == "off":
            return self.registerForm(request)
        values = form(request)
        anonymous = self.sessions.get(request)
        if not validToken(anonymous, values):
            request.setResponseCode(403)
            return self.registerForm(request, "The form expired; please try again.", values)
        address = clientAddress(request, self.trustedProxies)
        if not self.registrations.attempt(address):
            request.setResponseCode(429)
            return self.registerForm(request, "Too many registrations from your address; please try later.", values)
        approved = self.registration == "open"
        try:
            name = jids.prepUser(values.get("user", ""))
            sasl.makeCredentials(values.get("password", ""))  # checks the password
            # Checks the ID and its domain at once, and reserves the ID: a
            # registration at the same time is told it is taken.
            company = yield self.directory.addCompany(values.get("id", ""), values.get("name", "")[:200],
                                                      approved=approved)
        except ValueError as e:
            self.registrations.forgive(address)
            request.setResponseCode(400)
            return self.registerForm(request, reason(e), values)
        user = yield self.accounts.create(f"{name}@{company.domains[0]}", values["password"])
        yield self.directory.setProfile(user, displayName=values.get("display", "")[:200], companyAdmin=True)
        self.log.info("{user} registered the company {id}{waiting}", user=user, id=company.id,
                      waiting="" if approved else "; it awaits approval")
        self.notifyOperators(
            f"{user} registered the company {company.name} ({company.id})"
            + ("." if approved else f"; it awaits your approval: {self.publicURL}/admin/companies")
        )
        if not approved:
            return self.pages.render(request, "message.html", session=None, csrf="", isAdmin=False,
                                     message="Registered. You can log in once an operator has approved your company.")
        return self.startSession(request, anonymous, user)

    # Operators: every company

    def operatorOnly(self, session):
        if not self.isOperator(session.user):
            raise NotFound()

    @app.route("/companies", methods=["GET"])
    @guarded
    def companies(self, request, session, message=None):
        self.operatorOnly(session)
        companies = sorted(self.directory.companies.values(), key=lambda c: (c.approved, c.id))
        taken = {d for c in companies for d in c.domains}
        own = self.directory.companyOf(session.user)
        return self.page(request, "companies.html", session, companies=companies, message=message,
                         baseDomain=self.directory.baseDomain, ownCompany=own.id if own else None,
                         freeDomains=[d for d in self.directory.domains.configured if d not in taken])

    @app.route("/companies", methods=["POST"])
    @guarded
    @defer.inlineCallbacks
    def addCompany(self, request, session):
        self.operatorOnly(session)
        values = form(request)
        try:
            yield self.directory.addCompany(values.get("id", ""), values.get("name", "")[:200],
                                            [values["domain"]] if values.get("domain") else [])
        except DirectoryError as e:
            request.setResponseCode(400)
            return self.companies(request, message=reason(e))
        return redirect(request, "/admin/companies")

    @app.route("/companies/<companyId>/approve", methods=["POST"])
    @guarded
    @defer.inlineCallbacks
    def approveCompany(self, request, session, companyId):
        self.operatorOnly(session)
        try:
            yield self.directory.approveCompany(companyId)
        except DirectoryError:
            raise NotFound() from None
        self.log.info("{operator} approved the company {id}", operator=session.user, id=companyId)
        return redirect(request, "/admin/companies")

    def deletableCompany(self, session, companyId):
        self.operatorOnly(session)
        company = self.directory.companies.get(companyId)
        if company is None:
            raise NotFound()
        if self.directory.companyOf(session.user) is company:
            raise Forbidden()  # the operator's own company, with the operator's account
        return company

    @app.route("/companies/<companyId>/delete", methods=["GET"])
    @guarded
    def confirmDeleteCompany(self, request, session, companyId):
        company = self.deletableCompany(session, companyId)
        return self.page(request, "company-delete.html", session, company=company,
                         automatic=[d for d in company.domains if d not in self.directory.domains.configured])

    @app.route("/companies/<companyId>/delete", methods=["POST"])
    @guarded
    @defer.inlineCallbacks
    def deleteCompany(self, request, session, companyId):
        self.deletableCompany(session, companyId)
        yield self.directory.removeCompany(companyId)
        self.log.info("{operator} deleted the company {id}", operator=session.user, id=companyId)
        return redirect(request, "/admin/companies")

    @app.route("/logout", methods=["POST"])
    @guarded
    def logout(self, request, session):
        self.sessions.end(session)
        return redirect(request, "/admin/login")

    @app.route("/", methods=["GET"])
    @guarded
    def home(self, request, session):
        return redirect(request, "/admin/users" if self.isCompanyAdmin(session.user) else "/admin/download")

    # The company's own settings

    @app.route("/company", methods=["GET"])
    @guarded
    def company(self, request, session, message=None):
        company = self.managedCompany(request, session)
        away, xa = self.autoaway.defaults
        supporters = self.directory.designated(company)
        return self.page(request, "company.html", session, company=company, message=message,
                         query=self.companyQuery(session, company), iconsets=buttons.ICONSETS,
                         defaults={"retention": self.retentionDays, "away": away // 60, "xa": xa // 60},
                         supporters=supporters, embed=self.embedCode(request, company, company.id, supporters))

    @app.route("/company", methods=["POST"])
    @guarded
    @defer.inlineCallbacks
    def updateCompany(self, request, session):
        company = self.managedCompany(request, session)
        values = form(request)
        try:
            retention, away, xa = (wholeNumber(values.get(key)) for key in ("retention", "away", "xa"))
            yield self.directory.setCompany(
                company.id, name=values.get("name", "")[:200], ownCompanyOnly=values.get("own") == "on",
                iconSet=values.get("iconset", company.iconSet), retentionDays=retention,
                awayAfter=None if away is None else away * 60, xaAfter=None if xa is None else xa * 60,
            )
        except ValueError as e:
            request.setResponseCode(400)
            return self.company(request, message=reason(e))
        return self.company(request, message="Saved.")

    # Users

    def companyUser(self, company, jid):
        """
        A user of C{company}, or L{NotFound} (also for other companies').
        """
        try:
            user = self.accounts.prepare(jid)
        except ValueError:
            raise NotFound() from None
        if user.rpartition("@")[2] not in company.domains or not self.accounts.exists(user):
            raise NotFound()
        return user

    def accountToChange(self, session, company, jid):
        """
        A user of C{company} whose account (password, profile, existence)
        the session may change: an operator's only an operator may.
        """
        user = self.companyUser(company, jid)
        if self.isOperator(user) and not self.isOperator(session.user):
            raise Forbidden()
        return user

    @app.route("/users", methods=["GET"])
    @guarded
    @defer.inlineCallbacks
    def users(self, request, session, message=None):
        company = self.managedCompany(request, session)
        users = []
        for domain in company.domains:
            for user in (yield self.accounts.list(domain)):
                profile = self.directory.profile(user)
                users.append({
                    "jid": user, "name": self.directory.displayName(user),
                    "state": self.availability.stateOf(user),
                    "enabled": profile.enabled, "admin": profile.companyAdmin,
                })
        return self.page(request, "users.html", session, company=company, users=users,
                         message=message, query=self.companyQuery(session, company))

    def companyQuery(self, session, company):
        return f"?company={quote(company.id)}" if self.isOperator(session.user) else ""

    @app.route("/users", methods=["POST"])
    @guarded
    @defer.inlineCallbacks
    def createUser(self, request, session):
        company = self.managedCompany(request, session)
        values = form(request)
        domain = values.get("domain") if values.get("domain") in company.domains else company.domains[0]
        try:
            user = yield self.accounts.create(f"{values.get('name', '')}@{domain}", values.get("password", ""))
            if values.get("display"):
                yield self.directory.setProfile(user, displayName=values["display"][:200])
        except (ValueError, AccountExists, DirectoryError) as e:
            request.setResponseCode(400)
            message = "This account exists already." if isinstance(e, AccountExists) else reason(e)
            return (yield self.users(request, message=message))
        return redirect(request, "/admin/users" + self.companyQuery(session, company))

    @app.route("/users/<jid>", methods=["GET"])
    @guarded
    def user(self, request, session, jid, message=None):
        company = self.managedCompany(request, session)
        user = self.companyUser(company, jid)
        d = self.autoaway.storedIntervals(user)
        d.addCallback(lambda intervals: self.page(
            request, "user.html", session, jid=user,
            supporter=self.directory.supporter(company.id, user),
            profile=self.directory.profile(user), state=self.availability.stateOf(user),
            awayMinutes=intervals[0] // 60, xaMinutes=intervals[1] // 60,
            message=message, query=self.companyQuery(session, company),
        ))
        return d

    @app.route("/users/<jid>", methods=["POST"])
    @guarded
    @defer.inlineCallbacks
    def updateUser(self, request, session, jid):
        company = self.managedCompany(request, session)
        user = self.accountToChange(session, company, jid)
        values = form(request)
        enabled = values.get("enabled") == "on"
        admin = values.get("admin") == "on"
        if user == session.user and not (enabled and admin) and not self.isOperator(user):
            raise Forbidden()  # no locking yourself out
        yield self.directory.setProfile(
            user, displayName=values.get("display", "")[:200], enabled=enabled, companyAdmin=admin
        )
        if not enabled:
            self.sessions.endUser(user)
        return self.user(request, jid=user, message="Saved.")

    @app.route("/users/<jid>/password", methods=["POST"])
    @guarded
    @defer.inlineCallbacks
    def resetPassword(self, request, session, jid):
        company = self.managedCompany(request, session)
        user = self.accountToChange(session, company, jid)
        try:
            yield self.accounts.setPassword(user, form(request).get("password", ""))
        except ValueError as e:
            request.setResponseCode(400)
            return self.user(request, jid=user, message=reason(e))
        return self.user(request, jid=user, message="Saved.")

    @app.route("/users/<jid>/autoaway", methods=["POST"])
    @guarded
    @defer.inlineCallbacks
    def setAutoAway(self, request, session, jid):
        company = self.managedCompany(request, session)
        user = self.companyUser(company, jid)
        values = form(request)
        try:
            away, xa = (int(values.get(key, "")) for key in ("away", "xa"))
        except ValueError:
            request.setResponseCode(400)
            return (yield self.user(request, jid=user, message="Use whole minutes."))
        if not (1 <= away < xa <= 1440):
            request.setResponseCode(400)
            return (yield self.user(request, jid=user, message="Use whole minutes."))
        yield self.autoaway.setIntervals(user, away * 60, xa * 60)
        return (yield self.user(request, jid=user, message="Saved."))

    @app.route("/users/<jid>/supporter", methods=["POST"])
    @guarded
    @defer.inlineCallbacks
    def setSupporter(self, request, session, jid):
        """
        Make a user support staff of the company, or change how visitors
        see them (a group's supporter stays the group's).
        """
        company = self.managedCompany(request, session)
        user = self.companyUser(company, jid)
        values = form(request)
        current = self.directory.supporter(company.id, user)
        try:
            yield self.designate(company, user, values, current.group if current else None)
        except ValueError as e:
            request.setResponseCode(400)
            return (yield self.user(request, jid=user, message=reason(e)))
        return (yield self.user(request, jid=user, message="Saved."))

    @app.route("/users/<jid>/supporter/delete", methods=["POST"])
    @guarded
    @defer.inlineCallbacks
    def removeUserSupporter(self, request, session, jid):
        company = self.managedCompany(request, session)
        user = self.companyUser(company, jid)
        try:
            yield self.directory.removeSupporter(company.id, user)
        except DirectoryError:
            raise NotFound() from None
        return (yield self.user(request, jid=user, message="Saved."))

    @app.route("/users/<jid>/delete", methods=["POST"])
    @guarded
    @defer.inlineCallbacks
    def deleteUser(self, request, session, jid):
        company = self.managedCompany(request, session)
        user = self.accountToChange(session, company, jid)
        if user == session.user:
            raise Forbidden()
        confirmed(request)
        try:
            yield self.accounts.delete(user)
        except NoSuchAccount:
            raise NotFound() from None
        self.sessions.endUser(user)
        return redirect(request, "/admin/users" + self.companyQuery(session, company))

    # Groups and support staff

    def companyGroup(self, company, groupId):
        group = self.directory.groups.get(groupId)
        if group is None or group.company != company.id:
            raise NotFound()
        return group

    @app.route("/groups", methods=["GET"])
    @guarded
    def groups(self, request, session, message=None):
        company = self.managedCompany(request, session)
        groups = sorted((g for g in self.directory.groups.values() if g.company == company.id),
                        key=lambda g: g.id)
        return self.page(request, "groups.html", session, company=company, groups=groups,
                         message=message, query=self.companyQuery(session, company))

    @app.route("/groups", methods=["POST"])
    @guarded
    @defer.inlineCallbacks
    def createGroup(self, request, session):
        company = self.managedCompany(request, session)
        values = form(request)
        try:
            yield self.directory.addGroup(values.get("id", ""), company.id, values.get("name", "")[:200],
                                          values.get("shared") == "on")
        except DirectoryError as e:
            request.setResponseCode(400)
            return self.groups(request, message=reason(e))
        return redirect(request, "/admin/groups" + self.companyQuery(session, company))

    @app.route("/groups/<groupId>", methods=["GET"])
    @guarded
    def group(self, request, session, groupId, message=None):
        company = self.managedCompany(request, session)
        group = self.companyGroup(company, groupId)
        supporters = self.directory.designated(group)
        members = [{"jid": m, "name": self.directory.displayName(m),
                    "state": self.availability.stateOf(m)} for m in group.members]
        return self.page(request, "group.html", session, company=company, group=group,
                         members=members, supporters=supporters, message=message,
                         query=self.companyQuery(session, company),
                         embed=self.embedCode(request, company, group.id, supporters),
                         iconsets=buttons.ICONSETS)

    def embedCode(self, request, company, publicId, supporters):
        """
        The embed-code generator's choices (from the query) and its output,
        for the button of a company or group (C{publicId}).
        """
        values = form(request)
        slugs = {s.slug for s in supporters}
        slug = values.get("supporter") if values.get("supporter") in slugs else None
        iconset = values.get("iconset") if values.get("iconset") in buttons.ICONSETS else company.iconSet
        lang = values.get("embedlang") if values.get("embedlang") in ("en", "de") else "en"
        parameters = []
        # Within what the chat accepts.
        for line in values.get("params", "").splitlines()[:MAX_PARAMETERS]:
            name, _, value = line.partition("=")
            if name.strip():
                parameters.append((name.strip()[:MAX_PARAMETER_NAME], value.strip()[:MAX_PARAMETER_VALUE]))
        live, plain = embed.snippets(self.publicURL, publicId, slug, iconset, lang, parameters)
        preview = embed.imageURL("", publicId, slug, iconset, lang)
        return {"live": live, "plain": plain, "preview": preview, "supporter": slug or "",
                "iconset": iconset, "lang": lang, "params": values.get("params", "")}

    def changeGroup(self, request, session, groupId, change):
        company = self.managedCompany(request, session)
        group = self.companyGroup(company, groupId)
        d = defer.maybeDeferred(change, company, group, form(request))

        def failed(failure):
            failure.trap(DirectoryError, ValueError)
            request.setResponseCode(400)
            return self.group(request, groupId=group.id, message=reason(failure.value))

        d.addCallbacks(lambda _: self.group(request, groupId=group.id, message="Saved."), failed)
        return d

    @app.route("/groups/<groupId>", methods=["POST"])
    @guarded
    def updateGroup(self, request, session, groupId):
        def change(company, group, values):
            return self.directory.renameGroup(group.id, values.get("name", "")[:200],
                                              values.get("shared") == "on")

        return self.changeGroup(request, session, groupId, change)

    @app.route("/groups/<groupId>/delete", methods=["POST"])
    @guarded
    @defer.inlineCallbacks
    def deleteGroup(self, request, session, groupId):
        company = self.managedCompany(request, session)
        group = self.companyGroup(company, groupId)
        confirmed(request)
        yield self.directory.removeGroup(group.id)
        return redirect(request, "/admin/groups" + self.companyQuery(session, company))

    @app.route("/groups/<groupId>/members", methods=["POST"])
    @guarded
    def addMember(self, request, session, groupId):
        def change(company, group, values):
            return self.directory.addMember(group.id, self.companyUser(company, values.get("jid", "")))

        return self.changeGroup(request, session, groupId, change)

    @app.route("/groups/<groupId>/members/<jid>/delete", methods=["POST"])
    @guarded
    def removeMember(self, request, session, groupId, jid):
        def change(company, group, values):
            return self.directory.removeMember(group.id, self.companyUser(company, jid))

        return self.changeGroup(request, session, groupId, change)

    @app.route("/groups/<groupId>/supporters", methods=["POST"])
    @guarded
    def addSupporter(self, request, session, groupId):
        def change(company, group, values):
            return self.designate(company, self.companyUser(company, values.get("jid", "")), values, group.id)

        return self.changeGroup(request, session, groupId, change)

    def designate(self, company, user, values, groupId):
        """
        Make C{user} support staff as the form says (name shown, URL name,
        order), of a group or (C{groupId} C{None}) the whole company.
        """
        position = values.get("position") or "0"
        if not re.fullmatch(r"-?[0-9]{1,9}", position):
            raise ValueError("The order is a number.")
        return self.directory.addSupporter(
            company.id, user, values.get("slug") or user.partition("@")[0],
            values.get("name", "")[:200], int(position), groupId,
        )

    @app.route("/groups/<groupId>/supporters/<jid>/delete", methods=["POST"])
    @guarded
    def removeSupporter(self, request, session, groupId, jid):
        def change(company, group, values):
            user = self.companyUser(company, jid)
            supporter = self.directory.supporter(company.id, user)
            if supporter is None or supporter.group != group.id:
                raise NotFound()  # not this group's (perhaps the whole company's)
            return self.directory.removeSupporter(company.id, user)

        return self.changeGroup(request, session, groupId, change)

    # Transcripts of visitor chats

    @defer.inlineCallbacks
    def companyTranscript(self, company, chatId):
        found = yield self.transcripts.getTranscript(chatId)
        if found is None or found[0].company != company.id:
            raise NotFound()
        return found

    @app.route("/transcripts", methods=["GET"])
    @guarded
    @defer.inlineCallbacks
    def transcriptList(self, request, session):
        company = self.managedCompany(request, session)
        values = form(request)
        since = 0.0
        if values.get("since"):
            try:
                since = datetime.strptime(values["since"], "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()
            except ValueError:
                since = 0.0
        try:
            page = max(0, int(values.get("page", "0")))
        except ValueError:
            page = 0
        supporters = None
        if values.get("supporter"):
            supporters = yield self.usersMatching(company, values["supporter"])
        chats, more = yield self.transcripts.listTranscripts(
            company.id, since, supporters, values.get("q", ""), page * TRANSCRIPT_PAGE, TRANSCRIPT_PAGE)
        filters = {key: values[key] for key in ("company", "since", "supporter", "q") if values.get(key)}

        def pageLink(number):
            return "/admin/transcripts?" + urlencode(dict(filters, page=number) if number else filters)

        return self.page(request, "transcripts.html", session, company=company, chats=chats,
                         filters=values, query=self.companyQuery(session, company), when=stamp,
                         newer=pageLink(page - 1) if page else None, older=pageLink(page + 1) if more else None)

    @defer.inlineCallbacks
    def usersMatching(self, company, text):
        """
        The company's users whose address, user name or display name
        contains C{text} (case aside): how a supporter is found.
        """
        needle = text.strip().casefold()
        found = [needle] if "@" in needle else []
        for domain in company.domains:
            for user in (yield self.accounts.list(domain)):
                if needle in user.casefold() or needle in self.directory.displayName(user).casefold():
                    found.append(user)
        return found

    @app.route("/transcripts/<chatId>", methods=["GET"])
    @guarded
    @defer.inlineCallbacks
    def transcript(self, request, session, chatId):
        company = self.managedCompany(request, session)
        chat, lines = yield self.companyTranscript(company, chatId)
        return self.page(request, "transcript.html", session, chat=chat, lines=lines,
                         query=self.companyQuery(session, company), when=stamp)

    @app.route("/transcripts/<chatId>/export", methods=["GET"])
    @guarded
    @defer.inlineCallbacks
    def exportTranscript(self, request, session, chatId):
        company = self.managedCompany(request, session)
        chat, lines = yield self.companyTranscript(company, chatId)
        kind = form(request).get("format", "txt")
        name = f"chat-{chat.id}"
        if kind == "json":
            body = json.dumps({
                "id": chat.id, "visitor": chat.visitorName, "email": chat.visitorEmail,
                "parameters": dict(chat.parameters), "supporters": list(chat.supporters),
                "started": stamp(chat.started), "ended": stamp(chat.ended) if chat.ended else None,
                "endedHow": chat.endedHow,
                "lines": [{"time": stamp(l.stamp), "from": l.direction, "sender": l.sender, "text": l.body}
                          for l in lines],
            }, indent=2, ensure_ascii=False).encode("utf-8")
            contentType = b"application/json"
        elif kind == "html":
            body = self.page(request, "transcript-export.html", session, chat=chat, lines=lines, when=stamp)
            contentType = b"text/html; charset=utf-8"
        else:
            # Only this layout's own lines start at the margin: values are
            # put on one line, a message's further lines are indented.
            text = [f"Visitor: {oneLine(chat.visitorName)} {oneLine(chat.visitorEmail)}".rstrip()]
            text += [f"{oneLine(k)}: {oneLine(v)}" for k, v in chat.parameters]
            text += [f"Started: {stamp(chat.started)}", ""]
            text += [f"[{stamp(l.stamp)}] {oneLine(l.sender or l.direction)}: {indented(l.body)}"
                     for l in lines]
            body = "\n".join(text).encode("utf-8") + b"\n"
            contentType = b"text/plain; charset=utf-8"
            kind = "txt"
        request.setHeader(b"content-type", contentType)
        request.setHeader(b"content-disposition", f'attachment; filename="{name}.{kind}"'.encode("ascii"))
        return body

    @app.route("/transcripts/<chatId>/delete", methods=["POST"])
    @guarded
    @defer.inlineCallbacks
    def deleteTranscript(self, request, session, chatId):
        company = self.managedCompany(request, session)
        chat, lines = yield self.companyTranscript(company, chatId)
        confirmed(request)
        yield self.transcripts.deleteTranscript(chat.id)
        return redirect(request, "/admin/transcripts" + self.companyQuery(session, company))

    # Download

    @app.route("/download", methods=["GET"])
    @guarded
    def download(self, request, session, message=None):
        return self.page(request, "download.html", session, jid=session.user, message=message, **self.connection)

    @app.route("/password", methods=["POST"])
    @guarded
    @defer.inlineCallbacks
    def changePassword(self, request, session):
        """
        Everyone changes their own password, knowing the current one (as
        for logging in, wrong guesses count towards the login throttle).
        """
        values = form(request)
        address = clientAddress(request, self.trustedProxies)
        if not self.throttle.attempt(address, session.user):
            request.setResponseCode(429)
            return self.download(request, message="Too many attempts; please wait a minute.")
        credentials = yield self.accounts.getCredentials(session.user)
        if credentials is None or not sasl.checkPassword(credentials, values.get("current", "")):
            request.setResponseCode(403)
            return self.download(request, message="The current password is wrong.")
        self.throttle.succeeded(address, session.user)
        try:
            yield self.accounts.setPassword(session.user, values.get("password", ""))
        except ValueError as e:
            request.setResponseCode(400)
            return self.download(request, message=reason(e))
        self.log.info("{user} changed their password on the web", user=session.user)
        return self.download(request, message="Saved.")
