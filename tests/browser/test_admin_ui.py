"""
The administration pages in headless Chromium against the real daemon.

A company registers itself on the registration page; the operator
(C{[server] admins}) approves it on the companies page; its administrator
logs in and builds a team with the real forms: two users, a shared-roster
group, its members and its support staff.  Then the two users log in over
XMPP (slixmpp) on the company's own domain and find each other in their
rosters.  The same pages must fit a 375 px wide phone screen in English and
German, and show a hostile display name as text.

Every wait is for a condition with a deadline, never a fixed sleep.
"""

import os
from urllib.parse import quote

import pytest

from tests.browser import DEADLINE, DESKTOP, PHONE, Browser, startChromium
from tests.clients import Contact, screenshotDirectory, waitFor
from tests.daemon import Daemon

try:
    from selenium.webdriver.common.by import By
except ImportError:  # pragma: no cover - reported by requireBrowser()
    pass

pytestmark = pytest.mark.clients

OPERATOR = ("admin@localhost", "operator-secret")
#: Registered companies get <id>.<base domain>.
BASE_DOMAIN = "chat.localhost"
COMPANY = ("acme", "ACME Support")
DOMAIN = f"{COMPANY[0]}.{BASE_DOMAIN}"
#: user name, display name, password
BOSS = ("boss", "Bea Boss", "boss-secret")
ALICE = ("alice", "Alice Adams", "alice-secret")
BOB = ("bob", "Bob Brown", "bob-secret")
GROUP = ("sales", "Sales")
HOSTILE = "<script>alert(1)</script>"
HOSTILE_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def jid(user):
    return f"{user[0]}@{DOMAIN}"


# Fixtures


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """
    The real daemon with one operator account; its log's end is printed
    when a test fails.
    """
    directory = tmp_path_factory.mktemp("server")
    server = Daemon(directory, admins=OPERATOR[0],
                    extra=f"[companies]\nbase_domain = {BASE_DOMAIN}\nregistration = approval\n")
    server.addUser(*OPERATOR)
    with server.running() as running:
        yield running


@pytest.fixture(scope="module")
def browser(daemon, tmp_path_factory):
    """
    Headless Chromium with a fresh profile, speaking English unless told
    otherwise; quit (with chromedriver) after the module's tests.
    """
    driver = startChromium(tmp_path_factory.mktemp("chromium"))
    try:
        browser = Browser(driver, f"http://127.0.0.1:{daemon.httpPort}")
        browser.resize(*DESKTOP)
        yield browser
    finally:
        driver.quit()


def logIn(browser, address, password):
    browser.open("/admin/login")
    assert browser.driver.find_element(By.TAG_NAME, "h1").text == "Log in"
    browser.submit("/admin/login", {"address": address, "password": password})


@pytest.fixture(scope="module")
def companyAdmin(browser):
    """
    The company ACME, registered on the registration page (from the link
    on the login page), approved by the operator on the companies page,
    and its administrator logged in.
    """
    browser.open("/admin/login")
    browser.follow("Register your company")
    assert browser.path == "/admin/register"
    browser.submit("/admin/register", {"name": COMPANY[1], "id": COMPANY[0], "user": BOSS[0],
                                       "display": BOSS[1], "password": BOSS[2]})
    assert "once an operator has approved" in browser.message(), browser.mainText()
    logIn(browser, jid(BOSS), BOSS[2])
    assert browser.message() == "Your company awaits approval by the operator.", browser.mainText()

    logIn(browser, *OPERATOR)
    browser.follow("Companies")
    row = browser.driver.find_element(By.XPATH, f"//main//tr[td/a[text()='{COMPANY[0]}']]")
    assert "awaiting approval" in row.text and DOMAIN in row.text, row.text
    browser.submit(f"/admin/companies/{COMPANY[0]}/approve", {})
    row = browser.driver.find_element(By.XPATH, f"//main//tr[td/a[text()='{COMPANY[0]}']]")
    assert "approved" in row.text and "awaiting" not in row.text, row.text
    browser.submit("/admin/logout", {})

    logIn(browser, jid(BOSS), BOSS[2])
    assert browser.path == "/admin/users", browser.text()
    assert jid(BOSS) in browser.mainText() and COMPANY[1] in browser.mainText()
    return browser


@pytest.fixture(scope="module")
def team(companyAdmin):
    """
    What the company's administrator builds with the forms: the users alice
    and bob, the group Sales with a shared roster, both in it, alice its
    supporter.  Each step checks the page it leads to.
    """
    browser = companyAdmin
    for name, display, password in (ALICE, BOB):
        browser.open("/admin/users")
        browser.submit("/admin/users", {"name": name, "display": display, "password": password})
        assert browser.path == "/admin/users", browser.text()
        assert browser.message() is None, browser.message()
        row = browser.driver.find_element(By.XPATH, f"//main//tr[td/a[text()='{jid((name,))}']]")
        assert display in row.text

    groupId, groupName = GROUP
    browser.open("/admin/groups")
    browser.submit("/admin/groups", {"id": groupId, "name": groupName, "shared": True})
    assert browser.path == "/admin/groups", browser.text()
    assert browser.message() is None, browser.message()
    browser.follow(groupName)
    assert browser.path == f"/admin/groups/{groupId}"
    assert browser.driver.find_element(By.NAME, "shared").is_selected()

    for user in (ALICE, BOB):
        browser.submit(f"/admin/groups/{groupId}/members", {"jid": jid(user)})
        assert browser.message() == "Saved.", browser.mainText()
    browser.submit(f"/admin/groups/{groupId}/supporters", {"jid": jid(ALICE), "name": "Alice"})
    assert browser.message() == "Saved.", browser.mainText()
    return browser


# The tests


def rosterItem(contact, other):
    """
    The name, groups and subscription of C{other} in C{contact}'s roster
    (as the server sent it at login), or C{None}.
    """
    def read():
        roster = contact.client.client_roster
        if other not in roster:
            return None
        item = roster[other]
        return (item["name"], sorted(item["groups"]), item["subscription"])

    return contact.call(read)


def test_registeredCompanyBuildsSharedRosterGroup(team, daemon):
    """
    The group the registered company's administrator made with the forms
    shows both members and alice as its supporter; alice and bob, logging
    in over XMPP on the company's domain, find each other in their rosters
    under "Sales" with subscription both, and alice sees bob come online.
    """
    browser = team
    browser.open(f"/admin/groups/{GROUP[0]}")
    members, supporters = browser.driver.find_elements(By.CSS_SELECTOR, "main ul.list")
    assert f"{ALICE[1]} ({jid(ALICE)})" in members.text
    assert f"{BOB[1]} ({jid(BOB)})" in members.text
    assert f"Alice ({jid(ALICE)}, alice)" in supporters.text
    assert jid(BOB) not in supporters.text
    browser.open("/admin/groups")
    entry = browser.driver.find_element(By.XPATH, f"//main//li[a[text()='{GROUP[1]}']]").text
    assert entry == f"{GROUP[1]} {GROUP[0]} · 2 Members", entry

    contacts = []
    try:
        alice = Contact(jid(ALICE), ALICE[2], daemon.port, daemon.certificate)
        contacts.append(alice)
        assert rosterItem(alice, jid(BOB)) == (BOB[1], ["Sales"], "both")
        assert alice.resources(jid(BOB)) == []

        bob = Contact(jid(BOB), BOB[2], daemon.port, daemon.certificate)
        contacts.append(bob)
        assert rosterItem(bob, jid(ALICE)) == (ALICE[1], ["Sales"], "both")

        # bob's initial presence reaches alice, and alice's bob.
        bobResource = bob.fullJID.partition("/")[2]
        waitFor(lambda: alice.resources(jid(BOB)) == [bobResource], "alice to see bob online",
                timeout=DEADLINE, diagnose=lambda: f"alice sees {alice.resources(jid(BOB))}")
        aliceResource = alice.fullJID.partition("/")[2]
        waitFor(lambda: bob.resources(jid(ALICE)) == [aliceResource], "bob to see alice online",
                timeout=DEADLINE, diagnose=lambda: f"bob sees {bob.resources(jid(ALICE))}")
    finally:
        for contact in contacts:
            contact.close()


#: Each main page: its name (for screenshots), its path, and words that
#: show it is in German.
PAGES = [
    ("login", "/admin/login", ["Anmelden", "Adresse", "Passwort", "Firma registrieren"]),
    ("register", "/admin/register", ["Firma registrieren", "Name der Firma", "Ihr Benutzername"]),
    ("users", "/admin/users", ["Benutzerverwaltung", "Benutzer anlegen", "Anzeigename"]),
    ("user", f"/admin/users/{quote(jid(ALICE))}", ["Anzeigename", "Firmenadministrator", "Passwort zurücksetzen"]),
    ("groups", "/admin/groups", ["Gruppenverwaltung", "Gruppe anlegen", "Gemeinsame Kontaktliste"]),
    ("group", f"/admin/groups/{GROUP[0]}", ["Mitglieder", "Mitglied hinzufügen", "Supportmitarbeiter"]),
    ("download", "/admin/download", ["Client verbinden", "Zertifikat-Fingerabdruck"]),
    ("company", "/admin/company", ["Firma", "OpenMessenger-ID der Firma", "Nur eigene Firma",
                                   "Chat-Protokolle aufbewahren"]),
]

#: The page's own words: headings, labels, buttons, table heads, links.
UI_TEXT = "h1, h2, label, button, th, dt, nav a, .languages, main > p"

#: Words that are the same in German.
SAME_IN_GERMAN = {"Name", "Download", "Server", "Port", "Clients"}


def uiTexts(browser):
    """
    The text of each element holding the page's own words (L{UI_TEXT}), in
    document order.
    """
    return browser.driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText.trim())", UI_TEXT
    )


@pytest.mark.parametrize("lang", ["en", "de"])
def test_pagesFitPhoneScreen(team, lang, tmp_path):
    """
    At 375 x 667 every main page, in English and in German, has no
    horizontal scrolling; the German pages are in German, with none of the
    English page's words left over.  The English pages' screenshots are
    saved (and the users page's at a desktop width).
    """
    browser = team
    screenshots = screenshotDirectory(tmp_path) if lang == "en" else None
    problems = []
    english = {}
    try:
        browser.resize(*PHONE)
        for name, path, german in PAGES:
            if lang == "de":
                browser.open(path, "en")
                english[name] = uiTexts(browser)
            status, _ = browser.fetch(path)
            if status != 200:
                problems.append(f"{name} ({path}): HTTP status {status}")
            browser.open(path, lang)
            page = f"{name} ({path}?lang={lang})"
            if browser.driver.find_element(By.TAG_NAME, "html").get_attribute("lang") != lang:
                problems.append(f"{page}: <html lang> is not {lang}")
            overflow = browser.overflow()
            if overflow:
                problems.append(f"{page}: scrolls sideways at 375 px: {overflow}")
            text = browser.text()
            if lang == "de":
                problems += [f"{page}: no German {word!r}" for word in german if word not in text]
                texts = uiTexts(browser)
                if len(english[name]) != len(texts):
                    problems.append(f"{page}: the German page has other elements than the English one")
                # Left in English: the same text in both, but for data
                # (addresses, the group's name) and words German shares.
                problems += [
                    f"{page}: not translated: {theirs!r}"
                    for theirs, ours in zip(english[name], texts)
                    if theirs == ours and any(c.isalpha() for c in ours) and ours not in SAME_IN_GERMAN
                    and "@" not in ours and GROUP[1] not in ours
                ]
            else:
                problems += [f"{page}: German {word!r} on the English page" for word in german if word in text]
                browser.screenshot(os.path.join(screenshots, f"admin-{name}.png"))
        if lang == "en":
            browser.resize(*DESKTOP)
            browser.open("/admin/users")
            browser.screenshot(os.path.join(screenshots, "admin-users-desktop.png"))
    finally:
        browser.resize(*DESKTOP)
    assert not problems, "\n".join(problems)


def test_hostileDisplayNameIsText(companyAdmin):
    """
    A display name that is a script, entered in the create-user form, is
    shown as text on the users page and in the user's own form: no alert,
    no script element, escaped in the page source.
    """
    browser = companyAdmin
    mallory = jid(("mallory",))
    browser.open("/admin/users")
    browser.submit("/admin/users", {"name": "mallory", "display": HOSTILE, "password": "mallory-secret"})
    assert browser.message() is None, browser.message()
    row = browser.driver.find_element(By.XPATH, f"//main//tr[td/a[text()='{mallory}']]")
    assert row.find_elements(By.TAG_NAME, "td")[1].text == HOSTILE
    browser.follow(mallory)
    assert browser.driver.find_element(By.NAME, "display").get_attribute("value") == HOSTILE
    # Saved again through the user's own form, it stays the same text.
    browser.submit(f"/admin/users/{quote(mallory)}", {"display": HOSTILE, "enabled": True})
    assert browser.message() == "Saved.", browser.mainText()
    assert browser.driver.find_element(By.NAME, "display").get_attribute("value") == HOSTILE

    for path in ("/admin/users", f"/admin/users/{quote(mallory)}"):
        browser.open(path)
        assert browser.alert() is None, f"an alert on {path}"
        assert browser.driver.execute_script("return document.scripts.length") == 0, path
        status, html = browser.fetch(path)
        assert status == 200, (path, status)
        assert HOSTILE not in html, path
        assert HOSTILE_ESCAPED in html, path
        assert HOSTILE_ESCAPED in browser.driver.page_source, path


def test_operatorCompaniesPage(companyAdmin, tmp_path):
    """
    The operator's companies page lists the registered company as approved
    and fits a phone screen; its screenshot is saved.  (Last: it logs the
    browser in as the operator.)
    """
    browser = companyAdmin
    logIn(browser, *OPERATOR)
    try:
        browser.resize(*PHONE)
        browser.open("/admin/companies")
        row = browser.driver.find_element(By.XPATH, f"//main//tr[td/a[text()='{COMPANY[0]}']]")
        assert COMPANY[1] in row.text and DOMAIN in row.text and "approved" in row.text, row.text
        assert browser.overflow() is None, browser.overflow()
        browser.screenshot(os.path.join(screenshotDirectory(tmp_path), "admin-companies.png"))
    finally:
        browser.resize(*DESKTOP)
