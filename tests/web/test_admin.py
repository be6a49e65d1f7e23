"""
Tests for the administration pages (L{openmessenger.web.admin}), driven
through the real Klein resource in memory with treq's C{StubTreq}.
"""

import re

from treq.testing import StubTreq
from twisted.trial.unittest import SynchronousTestCase

from openmessenger.features.admin import operatorNotifier
from openmessenger.web.admin import auth
from openmessenger.web.admin.routes import AdminRoutes
from openmessenger.web.demo import DemoResource
from openmessenger.web.pages import Pages
from openmessenger.web.root import makeSite
from openmessenger.web.status import StatusResource
from openmessenger.web.visitor import VisitorRoutes
from tests.helpers import FakeServer, HeldStore

BASE = "http://om.example/admin"
CONNECTION = {"host": "chat.example.com", "port": "5222", "tlsPort": "5223", "fingerprint": "AB:CD"}


class PagesClient:
    """
    The whole web site over a L{FakeServer}, driven with C{StubTreq}.
    """

    def makeClient(self, server):
        core = server.core
        self.server = server
        self.directory = core.directory
        admin = self.admin = AdminRoutes(Pages(), core.accounts, self.directory, core.availability,
                            server.config.server.admins, CONNECTION, core.autoaway, "https://om.example",
                            server.clock, transcripts=server.store, companies=server.config.companies,
                            retentionDays=server.config.visitorchat.retention_days,
                            notifyOperators=operatorNotifier(core.router.route, core.domains.primary,
                                                             server.config.server.admins))
        site = self.site = makeSite(admin, StatusResource(self.directory, core.availability, server.clock),
                        DemoResource(Pages(), "https://om.example"),
                        VisitorRoutes(Pages(), core.visitorChats))
        self.client = StubTreq(site.resource)

    def get(self, path, **kwargs):
        response = self.successResultOf(self.client.get(BASE + path, allow_redirects=False, **kwargs))
        return response, self.successResultOf(response.text())

    def post(self, path, data, token=True):
        if token:
            data = dict(data, csrf=self.csrf)
        response = self.successResultOf(self.client.post(BASE + path, data=data, allow_redirects=False))
        return response, self.successResultOf(response.text())

    def token(self, html):
        return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)

    def login(self, user, password="pencil"):
        response, html = self.get("/login")
        self.csrf = self.token(html)
        response, html = self.post("/login", {"address": user, "password": password})
        if response.code == 303:
            self.csrf = self.token(self.get("/download")[1])
        return response


class AdminPagesTests(PagesClient, SynchronousTestCase):
    def setUp(self):
        self.makeClient(FakeServer(domains=("example.com", "example.org"), admins="root@example.com"))
        for user in ["root@example.com", "boss@example.com", "alice@example.com", "eve@example.org", "mallory@example.org"]:
            self.server.addUser(user)
        self.successResultOf(self.directory.addCompany("acme", "ACME", ["example.com"]))
        self.successResultOf(self.directory.addCompany("evil", "Evil Corp", ["example.org"]))
        self.successResultOf(self.directory.setProfile("boss@example.com", companyAdmin=True))
        self.successResultOf(self.directory.setProfile("mallory@example.org", companyAdmin=True))
        self.successResultOf(self.directory.addGroup("sales", "acme", "Sales"))

    def test_loginAndHeaders(self):
        """
        A company admin logs in and lands on the users page; pages carry a
        strict CSP and the cookie is HttpOnly and SameSite=Strict.
        """
        response, html = self.get("/login")
        cookie = response.headers.getRawHeaders("set-cookie")[0]
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=strict", cookie)
        self.assertIn("default-src 'none'", response.headers.getRawHeaders("content-security-policy")[0])
        self.assertEqual(self.login("boss@example.com").code, 303)
        response, html = self.get("/")
        self.assertEqual(response.headers.getRawHeaders("location"), ["/admin/users"])
        response, html = self.get("/users")
        self.assertIn("alice@example.com", html)
        self.assertNotIn("eve@example.org", html)

    def test_wrongPassword(self):
        """
        A wrong password is refused and names no reason.
        """
        self.assertEqual(self.login("boss@example.com", "nope").code, 401)
        self.assertEqual(self.get("/users")[0].code, 303)

    def test_throttle(self):
        """
        After five failures from one address, even the right password is
        refused for a while.
        """
        for _ in range(5):
            self.login("boss@example.com", "nope")
        self.assertEqual(self.login("boss@example.com").code, 429)
        self.server.clock.advance(61)
        self.assertEqual(self.login("boss@example.com").code, 303)

    def test_throttleHoldsInParallel(self):
        """
        Logins waiting for their password check at once are counted as they
        start: of 30 sent together from one address, 5 are checked.
        """
        held = HeldStore(held=("getCredentials",))
        server = FakeServer(store=held)
        server.addUser("boss@example.com")
        self.makeClient(server)
        self.csrf = self.token(self.get("/login")[1])
        answers = [self.client.post(BASE + "/login", data={"address": "boss@example.com", "password": "nope",
                                                           "csrf": self.csrf}, allow_redirects=False)
                   for _ in range(30)]
        self.assertEqual(len(held.held), 5)
        codes = [self.successResultOf(a).code for a in answers[5:]]
        self.assertEqual(set(codes), {429})

    def test_csrf(self):
        """
        A POST without the session's token changes nothing.
        """
        self.login("boss@example.com")
        response, html = self.post("/users", {"name": "sneaky", "password": "x"}, token=False)
        self.assertEqual(response.code, 403)
        response, html = self.post("/users", {"name": "sneaky", "password": "x", "csrf": "0" * 48}, token=False)
        self.assertEqual(response.code, 403)
        self.assertFalse(self.server.core.accounts.exists("sneaky@example.com"))

    def test_createUserEscapesNames(self):
        """
        A created user shows up; a hostile display name is shown as text.
        """
        self.login("boss@example.com")
        response, _ = self.post("/users", {"name": "bob", "password": "pw", "display": "<script>alert(1)</script>"})
        self.assertEqual(response.code, 303)
        self.assertTrue(self.server.core.accounts.exists("bob@example.com"))
        html = self.get("/users")[1]
        self.assertNotIn("<script>alert(1)", html)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", html)

    def test_editDisableAndDelete(self):
        """
        Disabling a user ends their XMPP sessions and stops logins; deleting
        removes the account.
        """
        self.login("boss@example.com")
        alice = self.server.login("alice@example.com")
        self.post("/users/alice%40example.com", {"display": "Alice A."})
        self.assertEqual(alice.streamError(), "not-authorized")
        self.assertFalse(self.directory.profile("alice@example.com").enabled)
        client = self.server.client()
        client.startTLS()
        failure = client.authenticate("alice@example.com")
        self.assertEqual(failure.firstChildElement().name, "account-disabled")
        response, html = self.post("/users/alice%40example.com/delete", {})
        self.assertEqual(response.code, 400)
        self.assertIn("tick the box to confirm", html)
        self.assertTrue(self.server.core.accounts.exists("alice@example.com"))
        response, _ = self.post("/users/alice%40example.com/delete", {"confirm": "on"})
        self.assertEqual(response.code, 303)
        self.assertFalse(self.server.core.accounts.exists("alice@example.com"))

    def test_crossTenant(self):
        """
        An admin of another company gets 404 for everything of ACME, read or
        write, by guessed or swapped IDs.
        """
        self.login("mallory@example.org")
        for path in ["/users/alice%40example.com", "/groups/sales", "/users/alice%40example.com?company=acme"]:
            self.assertEqual(self.get(path)[0].code, 404, path)
        # Asking for another company's pages shows one's own.
        self.assertNotIn("alice@example.com", self.get("/users?company=acme")[1])
        for path, data in [
            ("/users/alice%40example.com", {"display": "pwned"}),
            ("/users/alice%40example.com/password", {"password": "pwned"}),
            ("/users/alice%40example.com/delete", {"confirm": "on"}),
            ("/groups/sales/members", {"jid": "eve@example.org"}),
            ("/groups/sales/delete", {"confirm": "on"}),
        ]:
            self.assertIn(self.post(path, data)[0].code, (403, 404), path)
        self.post("/users?company=acme", {"name": "x", "password": "y"})
        self.assertFalse(self.server.core.accounts.exists("x@example.com"))
        self.assertTrue(self.server.core.accounts.exists("alice@example.com"))
        self.assertIn("sales", self.directory.groups)
        self.assertNotIn("ACME", self.get("/users")[1])

    def test_operatorsAccountIsTheirs(self):
        """
        A company admin cannot change, disable or delete the account of an
        operator on the company's domain (it would give them every company);
        an operator can change their own.
        """
        self.login("boss@example.com")
        for path, data in [
            ("/users/root%40example.com/password", {"password": "taken-over"}),
            ("/users/root%40example.com", {"display": "x"}),
            ("/users/root%40example.com/delete", {"confirm": "on"}),
        ]:
            self.assertEqual(self.post(path, data)[0].code, 403, path)
        self.assertTrue(self.server.core.directory.profile("root@example.com").enabled)
        self.assertEqual(self.login("root@example.com").code, 303)
        self.assertEqual(self.post("/users/root%40example.com/password", {"password": "new-root"})[0].code, 200)
        self.assertEqual(self.login("root@example.com", "new-root").code, 303)

    def test_loginFormsDoNotPushOutSessions(self):
        """
        However many login forms are fetched, a logged-in admin stays
        logged in; the oldest forms' sessions go.
        """
        self.patch(auth, "MAX_SESSIONS", 3)
        self.login("boss@example.com")
        for _ in range(5):
            # A new client each time: no cookie, a new login-form session.
            self.successResultOf(StubTreq(self.site.resource).get(BASE + "/login"))
        self.assertEqual(len(self.admin.sessions._forms), 3)
        self.assertEqual(self.get("/users")[0].code, 200)

    def test_userSeesDownloadOnly(self):
        """
        A plain user gets the download page with connection settings, and
        no administration.
        """
        self.login("alice@example.com")
        self.assertEqual(self.get("/users")[0].code, 403)
        html = self.get("/download")[1]
        self.assertIn("chat.example.com", html)
        self.assertIn("AB:CD", html)

    def test_changeOwnPassword(self):
        """
        Every user changes their own password on the download page, knowing
        the current one; wrong guesses count towards the login throttle;
        the new password works for the web and XMPP.
        """
        self.login("alice@example.com")
        response, html = self.post("/password", {"current": "wrong", "password": "new-secret"})
        self.assertEqual(response.code, 403)
        self.assertIn("The current password is wrong.", html)
        self.assertEqual(self.post("/password", {"current": "pencil", "password": ""})[0].code, 400)
        self.assertEqual(self.post("/password", {"current": "pencil", "password": "x"}, token=False)[0].code, 403)
        response, html = self.post("/password", {"current": "pencil", "password": "new-secret"})
        self.assertEqual(response.code, 200)
        self.assertIn("Saved.", html)
        self.assertEqual(self.login("alice@example.com", "new-secret").code, 303)
        self.server.client().login("alice@example.com", "new-secret")
        for _ in range(4):
            self.post("/password", {"current": "wrong", "password": "x"})
        response, _ = self.post("/password", {"current": "new-secret", "password": "x"})
        self.assertEqual(response.code, 429)

    def test_operatorChoosesCompany(self):
        """
        An operator manages any company, and the navigation stays with the
        company chosen; a company admin's links carry no company.
        """
        self.login("root@example.com")
        html = self.get("/users?company=evil")[1]
        self.assertIn("eve@example.org", html)
        for page in ("users", "groups", "transcripts", "company"):
            self.assertIn(f'href="/admin/{page}?company=evil"', html)
        self.assertIn('href="/admin/companies"', html)
        self.login("boss@example.com")
        html = self.get("/users")[1]
        self.assertIn('href="/admin/groups"', html)
        self.assertNotIn('href="/admin/companies"', html)

    def test_groupsAndSupporters(self):
        """
        An admin adds a member and designates them support staff.
        """
        self.login("boss@example.com")
        response, _ = self.post("/groups", {"id": "support", "name": "Support", "shared": "on"})
        self.assertEqual(response.code, 303)
        self.post("/groups/support/members", {"jid": "alice@example.com"})
        response, html = self.post("/groups/support/supporters",
                                   {"jid": "alice@example.com", "name": "Alice", "position": "1"})
        self.assertEqual(response.code, 200)
        self.assertEqual([s.jid for s in self.directory.supportersOf("support")], ["alice@example.com"])
        response, html = self.post("/groups", {"id": "Bad ID", "name": "x"})
        self.assertEqual(response.code, 400)
        self.assertEqual(self.post("/groups/support/delete", {})[0].code, 400)
        self.assertIn("support", self.directory.groups)
        self.assertEqual(self.post("/groups/support/delete", {"confirm": "on"})[0].code, 303)
        self.assertNotIn("support", self.directory.groups)

    def test_companySupporterOnUserPage(self):
        """
        On a user's page an admin makes the user support staff of the whole
        company, changes how visitors see them (a group's supporter stays
        the group's) and removes them; the company page makes the code for
        the whole company's button.  Another company's admin reaches none of
        it.
        """
        self.login("boss@example.com")
        response, html = self.post("/users/bob%40example.com/supporter", {"name": "<i>Bob</i>", "slug": "bob",
                                                                         "position": "2"})
        self.assertEqual(response.code, 404)  # bob is no user here
        response, html = self.post("/users/boss%40example.com/supporter", {"name": "<i>Boss</i>", "slug": "chef",
                                                                          "position": "2"})
        self.assertEqual(response.code, 200)
        self.assertIn("&lt;i&gt;Boss&lt;/i&gt;", html)
        supporter = self.directory.supporter("acme", "boss@example.com")
        self.assertEqual((supporter.slug, supporter.position, supporter.group), ("chef", 2, None))
        self.assertEqual(self.post("/users/boss%40example.com/supporter", {"position": "x"})[0].code, 400)
        html = self.get("/company")[1]
        self.assertIn("The whole company", html)
        self.assertIn("/status/acme.png", html)
        self.assertIn('<option value="chef"', html)
        self.assertIn("/status/acme/chef.png", self.get("/company?supporter=chef")[1])

        self.post("/groups/sales/members", {"jid": "alice@example.com"})
        self.post("/groups/sales/supporters", {"jid": "alice@example.com", "name": "Alice"})
        self.post("/users/alice%40example.com/supporter", {"name": "Alice A.", "slug": "alice", "position": "1"})
        self.assertEqual(self.directory.supporter("acme", "alice@example.com").group, "sales")

        self.login("mallory@example.org")
        self.assertEqual(self.post("/users/boss%40example.com/supporter/delete", {})[0].code, 404)
        self.assertEqual(self.post("/users/boss%40example.com/supporter?company=acme", {"name": "x"})[0].code, 404)
        self.assertNotIn("chef", self.get("/company?company=acme")[1])
        self.login("boss@example.com")
        self.assertEqual(self.post("/users/boss%40example.com/supporter/delete", {})[0].code, 200)
        self.assertIsNone(self.directory.supporter("acme", "boss@example.com"))
        self.assertEqual(self.post("/users/boss%40example.com/supporter/delete", {})[0].code, 404)

    def test_groupSupporters(self):
        """
        The group page lists its supporters also while disabled (to remove
        them), removes only its own (not the whole company's), refuses an
        order out of range; a member who leaves stops being its supporter.
        """
        self.login("boss@example.com")
        self.post("/groups/sales/members", {"jid": "alice@example.com"})
        self.post("/groups/sales/members", {"jid": "boss@example.com"})
        self.post("/groups/sales/supporters", {"jid": "alice@example.com", "name": "Alice"})
        self.post("/users/boss%40example.com/supporter", {"name": "Chef", "slug": "chef"})
        for position in ("99999999999999999999", "100000", "x"):
            response, html = self.post("/groups/sales/supporters", {"jid": "boss@example.com", "position": position})
            self.assertEqual(response.code, 400, position)
        self.assertIsNone(self.directory.supporter("acme", "boss@example.com").group)
        self.assertEqual(self.post("/groups/sales/supporters/boss%40example.com/delete", {})[0].code, 404)
        self.assertIsNotNone(self.directory.supporter("acme", "boss@example.com"))
        self.successResultOf(self.directory.setProfile("alice@example.com", enabled=False))
        self.assertIn("Alice (alice@example.com, <code>alice</code>)", self.get("/groups/sales")[1])
        self.post("/groups/sales/members/alice%40example.com/delete", {})
        self.assertIsNone(self.directory.supporter("acme", "alice@example.com"))
        snapshot = self.successResultOf(self.server.store.loadDirectory())
        self.assertEqual([s.jid for s in snapshot.supporters], ["boss@example.com"])

    def test_autoAwayIntervals(self):
        """
        The company admin sets a user's auto-away intervals (stored, shown,
        used); nonsense is refused.
        """
        self.login("boss@example.com")
        self.assertIn('value="5"', self.get("/users/alice%40example.com")[1])
        response, html = self.post("/users/alice%40example.com/autoaway", {"away": "2", "xa": "20"})
        self.assertEqual(response.code, 200)
        self.assertEqual(self.server.store.getAutoAway("alice@example.com").result, (120, 1200))
        for values in [{"away": "x", "xa": "20"}, {"away": "30", "xa": "20"}, {"away": "0", "xa": "2"}]:
            self.assertEqual(self.post("/users/alice%40example.com/autoaway", values)[0].code, 400)
        self.assertEqual(self.server.store.getAutoAway("alice@example.com").result, (120, 1200))

    def test_embedCode(self):
        """
        The group page makes the copy-paste code for the chosen supporter,
        icon set, language and parameters, shown escaped, with a preview.
        """
        self.successResultOf(self.directory.addMember("sales", "alice@example.com"))
        self.successResultOf(self.directory.addSupporter("acme", "alice@example.com", "alice", "Alice", 1, "sales"))
        self.login("boss@example.com")
        html = self.get("/groups/sales?supporter=alice&iconset=button&embedlang=de&params=Kundennummer%3D56164")[1]
        self.assertIn("https://om.example/chat?company=sales&amp;amp;supporter=alice&amp;amp;param_Kundennummer=56164", html)
        self.assertIn('src="/status/sales/alice.png?iconset=button&amp;lang=de"', html)
        self.assertIn("&lt;script&gt;", html)

    def test_hostileNamesEverywhere(self):
        """
        A script as a group's name and as a supporter's name is text on
        every page that shows it.
        """
        self.login("boss@example.com")
        self.post("/groups", {"id": "evil-group", "name": "<script>alert(2)</script>", "shared": "on"})
        self.post("/groups/evil-group/members", {"jid": "alice@example.com"})
        self.post("/groups/evil-group/supporters", {"jid": "alice@example.com", "name": "<script>alert(3)</script>"})
        self.assertEqual(self.directory.group("evil-group").name, "<script>alert(2)</script>")
        for path in ["/groups", "/groups/evil-group", "/users/alice%40example.com", "/company",
                     "/groups/evil-group?supporter=alice"]:
            response, html = self.get(path)
            self.assertEqual(response.code, 200, path)
            self.assertNotIn("<script>alert(", html, path)
            self.assertIn("&lt;script&gt;alert(", html, path)

    def test_demoPage(self):
        """
        The demo page embeds the button with its refresh script, allowed by
        the page's CSP hashes and nothing else; it is the same for any ID.
        """
        response = self.successResultOf(self.client.get("http://om.example/demo/sales"))
        html = self.successResultOf(response.text())
        csp = response.headers.getRawHeaders("content-security-policy")[0]
        self.assertIn("/status/sales.png?iconset=button", html)
        self.assertIn("'sha256-", csp)
        self.assertNotIn("unsafe-inline", csp)
        other = self.successResultOf(self.client.get("http://om.example/demo/nosuchid"))
        self.assertEqual(other.code, 200)

    def test_transcriptListFiltersAndPages(self):
        """
        The transcript list is paged (50 a page, links keep the filters), a
        supporter is found by user name or display name, the text search
        by words of names and parameters.
        """
        import html as htmllib
        from openmessenger.storage.interfaces import Transcript

        self.server.addUser("sven@example.com")
        self.successResultOf(self.directory.setProfile("sven@example.com", displayName="Sven Berger"))
        store = self.server.store
        for n in range(120):
            served = ("sven@example.com",) if n % 2 else ("alice@example.com",)
            store.putTranscript(Transcript(f"c{n:03d}", "acme", "acme", f"Visitor {n}", "",
                                           (("Order", f"4711-{n}"),), served, 1000.0 + n))
        self.login("boss@example.com")
        page = self.get("/transcripts")[1]
        self.assertEqual(page.count("/admin/transcripts/c"), 50)
        self.assertIn("c119", page)
        self.assertNotIn("Newer", page)
        older = htmllib.unescape(re.search(r'href="([^"]*page=1[^"]*)"', page).group(1))
        self.assertIn("c069", self.get(older.removeprefix("/admin"))[1])
        for supporter in ("sven", "Sven Berger", "sven@example.com"):
            found = self.get(f"/transcripts?supporter={supporter.replace(' ', '+')}")[1]
            self.assertEqual(found.count("/admin/transcripts/c"), 50, supporter)
            self.assertNotIn("c118", found)
            link = htmllib.unescape(re.search(r'href="([^"]*page=1[^"]*)"', found).group(1))
            self.assertIn("supporter=", link)
        self.assertEqual(self.get("/transcripts?supporter=nobody")[1].count("/admin/transcripts/c"), 0)
        found = self.get("/transcripts?q=4711-7")[1]
        self.assertIn("c007", found)
        self.assertNotIn("c008", found)

    def test_textExportHasNoForgedLines(self):
        """
        In the text export a value can never pass for a label: parameter
        values stay on their line, a message's further lines are indented,
        and terminal escapes stored by an older version are not written.
        """
        from openmessenger.storage.interfaces import Transcript, TranscriptLine

        store = self.server.store
        store.putTranscript(Transcript("c1", "acme", "sales", "Vera", "", (("Order", "4711\nVisitor: Admin"),),
                                       ("alice@example.com",), 1000.0, 1100.0, "visitor"))
        store.appendLine("c1", TranscriptLine(1, "visitor", "Vera", "hi\n[2026-01-01] Boss: pay\x1b[8m", 1001.0))
        self.login("boss@example.com")
        text = self.get("/transcripts/c1/export?format=txt")[1]
        lines = text.splitlines()
        self.assertEqual([l for l in lines if l.startswith("Visitor:")], ["Visitor: Vera"])
        self.assertIn("Order: 4711 Visitor: Admin", lines)
        self.assertIn("    [2026-01-01] Boss: pay[8m", lines)
        self.assertNotIn("\x1b", text)

    def test_transcripts(self):
        """
        A company admin lists, filters, reads and exports their company's
        chats, hostile text shown as text; another company's are 404.
        """
        from openmessenger.storage.interfaces import Transcript, TranscriptLine

        store = self.server.store
        store.putTranscript(Transcript("c1", "acme", "sales", "Vera <b>", "", (("Order", "4711"),),
                                       ("alice@example.com",), 1000.0, 1100.0, "visitor"))
        store.appendLine("c1", TranscriptLine(1, "visitor", "Vera <b>", "<script>alert(1)</script>", 1001.0))
        store.putTranscript(Transcript("c2", "evil", "evil", "Eve", started=1000.0))
        self.login("boss@example.com")
        listing = self.get("/transcripts?q=4711")[1]
        self.assertIn("Vera &lt;b&gt;", listing)
        self.assertNotIn("Eve", listing)
        self.assertNotIn("Vera", self.get("/transcripts?q=nothing")[1])
        page = self.get("/transcripts/c1")[1]
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", page)
        response, text = self.get("/transcripts/c1/export?format=txt")
        self.assertIn("Order: 4711", text)
        self.assertIn('attachment; filename="chat-c1.txt"', response.headers.getRawHeaders("content-disposition")[0])
        import json as jsonlib
        self.assertEqual(jsonlib.loads(self.get("/transcripts/c1/export?format=json")[1])["parameters"], {"Order": "4711"})
        self.assertNotIn("<script>alert", self.get("/transcripts/c1/export?format=html")[1])
        self.assertEqual(self.get("/transcripts/c2")[0].code, 404)
        self.assertEqual(self.post("/transcripts/c2/delete", {"confirm": "on"})[0].code, 404)
        self.assertEqual(self.post("/transcripts/c1/delete", {})[0].code, 400)
        self.assertIsNotNone(store.getTranscript("c1").result)
        self.assertEqual(self.post("/transcripts/c1/delete", {"confirm": "on"})[0].code, 303)
        self.assertIsNone(store.getTranscript("c1").result)

    def test_firstRunSetup(self):
        """
        On a new install the operator's account is made once, with the
        one-time token from the console; without it, or afterwards, the page
        does not exist.
        """
        core = self.server.core
        admin = AdminRoutes(Pages(), core.accounts, self.directory, core.availability,
                            ["op@example.com"], CONNECTION, core.autoaway, "https://om.example",
                            self.server.clock)
        client = StubTreq(admin.app.resource())
        token = admin.setupToken
        self.assertTrue(token)
        get = lambda path: self.successResultOf(client.get("http://om.example" + path))
        self.assertEqual(get("/setup?token=wrong").code, 404)
        self.assertEqual(get(f"/setup?token={token}").code, 200)
        response = self.successResultOf(client.post("http://om.example/setup", data={"token": token, "password": "s3t"},
                                                      allow_redirects=False))
        self.assertEqual(response.code, 303)
        self.assertTrue(core.accounts.exists("op@example.com"))
        self.assertEqual(get(f"/setup?token={token}").code, 404)
        self.assertIsNone(self.adminRoutesWithExistingOperator())

    def adminRoutesWithExistingOperator(self):
        core = self.server.core
        return AdminRoutes(Pages(), core.accounts, self.directory, core.availability,
                           ["root@example.com"], CONNECTION, core.autoaway, clock=self.server.clock).setupToken

    def test_german(self):
        """
        Pages speak German to a German browser, and switch on request.
        """
        self.login("boss@example.com")
        html = self.get("/users", headers={"accept-language": "de-DE,de;q=0.9,en;q=0.5"})[1]
        self.assertIn("Benutzerverwaltung", html)
        self.assertIn('lang="de"', html)
        self.assertIn("Users", self.get("/users?lang=en")[1])
        # Errors with values are German too, the values filled in.
        self.get("/groups?lang=de")
        response, html = self.post("/groups", {"id": "sales", "name": "Clash"})
        self.assertEqual(response.code, 400)
        self.assertIn("&#39;sales&#39; ist schon vergeben", html)
        self.get("/groups?lang=en")
        self.assertIn("&#39;sales&#39; is taken", self.post("/groups", {"id": "sales", "name": "Clash"})[1])

    def test_companySettings(self):
        """
        A company admin renames the company and keeps its users to
        themselves; another company's admin cannot reach either, and the
        name is shown escaped.
        """
        self.login("boss@example.com")
        html = self.get("/company")[1]
        self.assertIn("ACME", html)
        response, html = self.post("/company", {"name": "<script>ACME</script>", "own": "on"})
        self.assertEqual(response.code, 200)
        self.assertIn("&lt;script&gt;ACME&lt;/script&gt;", html)
        company = self.directory.companies["acme"]
        self.assertEqual((company.name, company.ownCompanyOnly), ("<script>ACME</script>", True))
        self.assertEqual(self.post("/company", {"name": " "})[0].code, 400)
        self.assertEqual(self.post("/company", {"name": "ACME"}, token=False)[0].code, 403)
        self.assertTrue(self.directory.companies["acme"].ownCompanyOnly)
        self.login("mallory@example.org")
        self.post("/company?company=acme", {"name": "pwned"})
        self.assertEqual(self.directory.companies["acme"].name, "<script>ACME</script>")
        self.assertEqual(self.directory.companies["evil"].name, "pwned")
        self.login("alice@example.com")
        self.assertEqual(self.get("/company")[0].code, 403)

    def test_companySettingsDefaults(self):
        """
        The icon set, transcript retention and auto-away defaults are set on
        the company page; empty fields give them back to the server's
        settings, which the page shows; the group's embed generator offers
        the company's icon set first.
        """
        self.login("boss@example.com")
        html = self.get("/company")[1]
        self.assertIn('placeholder="365"', html)
        self.assertIn('placeholder="5"', html)
        response, _ = self.post("/company", {"name": "ACME", "iconset": "dot", "retention": "30",
                                             "away": "2", "xa": "10"})
        self.assertEqual(response.code, 200)
        company = self.directory.companies["acme"]
        self.assertEqual((company.iconSet, company.retentionDays, company.awayAfter, company.xaAfter),
                         ("dot", 30, 120, 600))
        self.assertIn("<option selected>dot</option>", self.get("/groups/sales")[1])
        self.assertIn("iconset=dot", self.get("/groups/sales")[1])
        for bad in [{"retention": "soon"}, {"away": "10", "xa": "2"}, {"away": "3"}, {"iconset": "rainbow"}]:
            self.assertEqual(self.post("/company", dict({"name": "ACME"}, **bad))[0].code, 400, bad)
        self.post("/company", {"name": "ACME", "iconset": "dot"})
        company = self.directory.companies["acme"]
        self.assertEqual((company.retentionDays, company.awayAfter, company.xaAfter), (None, None, None))

    def test_registrationOff(self):
        """
        Without [companies] registration, there is no registration page.
        """
        self.assertEqual(self.get("/register")[0].code, 404)
        self.csrf = self.token(self.get("/login")[1])
        response, _ = self.post("/register", {"id": "newco", "user": "x", "password": "secret"})
        self.assertEqual(response.code, 404)
        self.assertNotIn("newco", self.directory.companies)
        self.assertNotIn("/admin/register", self.get("/login")[1])


class RegistrationTests(PagesClient, SynchronousTestCase):
    """
    Companies registering themselves, with operator approval.
    """

    def setUp(self):
        self.makeClient(FakeServer(
            domains=("example.com",), admins="root@example.com",
            extra="[companies]\nbase_domain = chat.example.com\nregistration = approval\nmax_per_ip = 2\n",
        ))
        self.server.addUser("root@example.com")
        self.successResultOf(self.directory.addCompany("example-com", "Example", ["example.com"]))
        self.values = {"id": "acme", "name": "ACME <b>Ltd</b>", "user": "boss", "display": "Boss",
                       "password": "secret"}

    def register(self, **changes):
        self.csrf = self.token(self.get("/register")[1])
        return self.post("/register", dict(self.values, **changes))

    def test_controlCharactersDropped(self):
        """
        A registration named with control characters stores a clean name,
        which the operators' XMPP notice can carry.
        """
        self.register(name="Evil\x01Corp\x1b", display="Bo\x00ss")
        self.assertEqual(self.directory.companies["acme"].name, "EvilCorp")
        self.assertEqual(self.directory.displayName("boss@acme.chat.example.com"), "Boss")

    def test_registerAwaitApprovalLogIn(self):
        """
        A registered company waits for an operator: its admin cannot log in
        (told why) until the operator approves it on the companies page;
        then the admin manages the company's users.
        """
        self.assertIn("/admin/register", self.get("/login")[1])
        root = self.server.login("root@example.com")
        response, html = self.register()
        (message,) = root.read()
        self.assertEqual((message["from"], message["type"]), ("example.com", "normal"))
        self.assertEqual(str(message.body), "boss@acme.chat.example.com registered the company ACME <b>Ltd</b> "
                         "(acme); it awaits your approval: https://om.example/admin/companies")
        self.assertEqual(response.code, 200)
        self.assertIn("once an operator has approved", html)
        company = self.directory.companies["acme"]
        self.assertEqual((company.name, company.domains, company.approved),
                         ("ACME <b>Ltd</b>", ("acme.chat.example.com",), False))
        self.assertTrue(self.directory.profile("boss@acme.chat.example.com").companyAdmin)
        response = self.login("boss@acme.chat.example.com", "secret")
        self.assertEqual(response.code, 403)
        self.login("root@example.com")
        html = self.get("/companies")[1]
        self.assertIn("ACME &lt;b&gt;Ltd&lt;/b&gt;", html)
        self.assertIn("awaiting approval", html)
        self.assertEqual(self.post("/companies/acme/approve", {})[0].code, 303)
        self.assertEqual(self.post("/companies/acme/approve", {})[0].code, 404)
        self.assertEqual(self.login("boss@acme.chat.example.com", "secret").code, 303)
        response, _ = self.post("/users", {"name": "alice", "password": "pw"})
        self.assertEqual(response.code, 303)
        self.assertTrue(self.server.core.accounts.exists("alice@acme.chat.example.com"))

    def test_badRegistrations(self):
        """
        Taken or malformed IDs, bad user names, empty passwords and a missing
        CSRF token are refused with the form again, and nothing is made;
        each address may register only max_per_ip companies per window.
        """
        for changes, words in [({"id": "example-com"}, "taken"), ({"id": "A!"}, "IDs are"), ({"id": "ab-"}, "IDs are"),
                               ({"user": "a@b"}, "not a valid user name"), ({"password": ""}, "empty")]:
            response, html = self.register(**changes)
            self.assertEqual(response.code, 400, changes)
            self.assertIn(words, html)
        self.assertEqual(self.post("/register", self.values, token=False)[0].code, 403)
        self.assertEqual(sorted(self.directory.companies), ["example-com"])
        self.assertEqual(self.register()[0].code, 200)
        self.assertEqual(self.register(id="beta")[0].code, 200)
        response, html = self.register(id="gamma")
        self.assertEqual(response.code, 429)
        self.assertNotIn("gamma", self.directory.companies)
        self.server.clock.advance(86400)
        self.assertEqual(self.register(id="gamma")[0].code, 200)

    def test_configuredDomainNotTakenOver(self):
        """
        An ID whose automatic domain is served already (a configured domain,
        owned by a company or not) cannot be registered: its accounts stay
        where they are.
        """
        self.makeClient(FakeServer(
            domains=("example.com", "sales.chat.example.com", "beta.chat.example.com"),
            extra="[companies]\nbase_domain = chat.example.com\nregistration = open\n",
        ))
        self.server.addUser("carol@sales.chat.example.com")
        self.successResultOf(self.directory.addCompany("other", "Other", ["beta.chat.example.com"]))
        for taken in ("sales", "beta"):
            response, html = self.register(id=taken)
            self.assertEqual(response.code, 400, taken)
            self.assertIn(f"&#39;{taken}&#39; is taken", html)
        self.assertEqual(sorted(self.directory.companies), ["other"])
        self.assertIsNone(self.directory.companyOf("carol@sales.chat.example.com"))

    def test_sameIdAtOnce(self):
        """
        Two registrations of one ID at the same time: the second is told
        the ID is taken, the first gets the company.
        """
        store = HeldStore()
        self.makeClient(FakeServer(
            domains=("example.com",), store=store,
            extra="[companies]\nbase_domain = chat.example.com\nregistration = open\n",
        ))
        self.csrf = self.token(self.get("/register")[1])
        first = self.client.post(BASE + "/register", data=dict(self.values, csrf=self.csrf), allow_redirects=False)
        response, html = self.post("/register", dict(self.values, user="other"))
        self.assertEqual(response.code, 400)
        self.assertIn("&#39;acme&#39; is taken", html)
        store.held.pop().callback(None)
        self.client.flush()
        self.assertEqual(self.successResultOf(first).code, 303)
        self.assertTrue(self.server.core.accounts.exists("boss@acme.chat.example.com"))
        self.assertFalse(self.server.core.accounts.exists("other@acme.chat.example.com"))

    def test_openRegistration(self):
        """
        With open registration, the new company is approved at once and its
        administrator is logged in.
        """
        self.makeClient(FakeServer(
            domains=("example.com",),
            extra="[companies]\nbase_domain = chat.example.com\nregistration = open\n",
        ))
        response, _ = self.register()
        self.assertEqual((response.code, response.headers.getRawHeaders("location")), (303, ["/admin/"]))
        self.assertTrue(self.directory.companies["acme"].approved)
        self.assertIn("boss@acme.chat.example.com", self.get("/users")[1])

    def test_operatorCompanies(self):
        """
        Only operators see the companies page; they add companies (with an
        automatic or a free configured domain) and delete them with their
        accounts, but not their own.
        """
        self.register()
        self.login("boss@acme.chat.example.com", "secret")
        self.login("root@example.com")
        self.assertEqual(self.post("/companies", {"id": "beta", "name": "Beta"})[0].code, 303)
        self.assertEqual(self.directory.companies["beta"].domains, ("beta.chat.example.com",))
        self.assertEqual(self.post("/companies", {"id": "x", "name": "X"})[0].code, 400)
        html = self.get("/companies")[1]
        self.assertIn('href="/admin/companies/acme/delete"', html)
        self.assertNotIn('href="/admin/companies/example-com/delete"', html)
        response, html = self.get("/companies/acme/delete")
        self.assertIn("acme.chat.example.com", html)
        self.assertIn("acme", self.directory.companies)
        self.assertEqual(self.get("/companies/example-com/delete")[0].code, 403)
        self.assertEqual(self.post("/companies/acme/delete", {})[0].code, 303)
        self.assertNotIn("acme", self.directory.companies)
        self.assertFalse(self.server.core.accounts.exists("boss@acme.chat.example.com"))
        self.assertEqual(self.post("/companies/example-com/delete", {})[0].code, 403)
        self.assertEqual(self.post("/companies/nope/delete", {})[0].code, 404)
        self.server.addUser("boss@beta.chat.example.com")
        self.successResultOf(self.directory.setProfile("boss@beta.chat.example.com", companyAdmin=True))
        self.login("boss@beta.chat.example.com")
        self.assertEqual(self.get("/companies")[0].code, 404)
        self.assertEqual(self.post("/companies/example-com/delete", {})[0].code, 404)
        self.assertEqual(self.post("/companies", {"id": "evil"})[0].code, 404)
        self.assertIn("example-com", self.directory.companies)
