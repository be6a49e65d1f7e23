"""
The visitor chat in headless Chromium against the real daemon, with the
supporter on the other side as a scripted XMPP client (slixmpp).

alice is support staff of the default company C{localhost}.  A visitor opens
C{/chat?company=localhost&param_...} at phone size (375 x 667), gives a name
that looks like markup, and chats with alice both ways, typing
notifications included; reloads the page; and ends the chat.  Then alice
goes offline, a second visitor leaves a message with the offline form, and
alice finds it when she logs in again.  Last, the operator finds both chats
under Transcripts in the administration and exports one.

The tests run in order and build on each other (one daemon for the module):
the transcripts test reads the chats the first two made.

Every wait is for a condition with a deadline, never a fixed sleep.
"""

import base64
import copy
import json
import os
import urllib.request
import xml.etree.ElementTree as ET
from urllib.parse import urlencode, urlsplit

import pytest

from tests.browser import DEADLINE, PHONE, Browser, startChromium
from tests.clients import Contact, waitFor
from tests.daemon import Daemon

try:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
except ImportError:  # pragma: no cover - reported by requireBrowser()
    pass

pytestmark = pytest.mark.clients

OPERATOR = ("admin@localhost", "operator-secret")
ALICE = ("alice@localhost", "alice-secret")
#: The default company of the domain, and alice's name for visitors in it
#: ("Shown to visitors as" on the group page).
COMPANY = "localhost"
SUPPORTER_NAME = "Alice"
VISITORS = f"visitors.{COMPANY}"

#: A visitor's name that would be bold if it were taken for markup.
NAME = "<b>Vera</b>"
PARAMETERS = [("Kundennummer", "56164"), ("URL", "www.example.com")]
#: The second visitor, who finds nobody there.
OFFLINE_NAME = "Otto Offline"
OFFLINE_PARAMETERS = [("Kundennummer", "70001"), ("URL", "www.example.org")]

#: What is said in the first chat, in order.
FIRST_LINE = "Hello, I have a question about my order."
REPLY = "Hello Vera, how can I help?"
AFTER_RELOAD = "Your order left our warehouse today."
LAST_LINE = "Thank you, that is all."
OFFLINE_TEXT = "Please call me back tomorrow morning."

CLIENT = "jabber:client"
ROSTER = "jabber:iq:roster"
NS_CHATSTATES = "http://jabber.org/protocol/chatstates"
NS_NICK = "http://jabber.org/protocol/nick"
NS_DATA = "jabber:x:data"
NS_DELAY = "urn:xmpp:delay"

#: The lines of the conversation (class, text) as the page shows them.
LINES = "return Array.from(document.querySelectorAll('#log li'), li => [li.className, li.innerText])"


def chatPath(parameters):
    """
    The visitor window's address for the company with C{parameters}.
    """
    return "/chat?" + urlencode([("company", COMPANY)] + [(f"param_{k}", v) for k, v in parameters])


def screenshot(browser, name, window=False):
    """
    Save the page as C{name} in C{$OPENMESSENGER_SCREENSHOTS}, only when it
    is set (C{docs/screenshots} refreshes the documentation's): the whole
    page, or with C{window} what the window shows (the viewport).
    """
    directory = os.environ.get("OPENMESSENGER_SCREENSHOTS")
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    if not window:
        browser.screenshot(path)
        return
    shot = browser.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))


def serverState(daemon, slug="alice"):
    """
    What the daemon's JSON status says about a supporter.
    """
    url = f"http://127.0.0.1:{daemon.httpPort}/status/{COMPANY}/{slug}.json"
    with urllib.request.urlopen(url, timeout=DEADLINE) as response:
        return json.load(response)["state"]


def download(browser, path):
    """
    The status, headers and text of a download (here: a transcript's
    export), fetched with the browser's cookies.
    """
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in browser.driver.get_cookies())
    request = urllib.request.Request(browser.base + path, headers={"cookie": cookies})
    with urllib.request.urlopen(request, timeout=DEADLINE) as response:
        return response.status, response.headers, response.read().decode("utf-8")


def bare(jid):
    return (jid or "").partition("/")[0]


class Supporter(Contact):
    """
    A L{Contact} that also keeps every stanza it receives (as elements, in
    order, from its session's start on) and can send chat states.
    """

    def __init__(self, *args):
        self.stanzas = []
        super().__init__(*args)

    async def _sessionStart(self, event):
        # Before the initial presence: offline messages come right after it.
        self.client.add_filter("in", self._record)
        await super()._sessionStart(event)

    def _record(self, stanza):
        self.stanzas.append(copy.deepcopy(stanza.xml))
        return stanza

    def got(self, name=None):
        """
        The stanzas received so far, all or those called C{name}.
        """
        return [e for e in list(self.stanzas) if name is None or e.tag == f"{{{CLIENT}}}{name}"]

    def fromVisitor(self, visitor, name):
        """
        The stanzas called C{name} from the visitor's JID.
        """
        return [e for e in self.got(name) if bare(e.get("from")) == visitor]

    def sendState(self, to, state):
        """
        Send a chat state (XEP-0085) without a body.
        """

        def send():
            message = self.client.make_message(mto=to, mtype="chat")
            message.xml.append(ET.Element(f"{{{NS_CHATSTATES}}}{state}"))
            message.send()

        self.call(send)

    def transcript(self, limit=40):
        return "\n".join(ET.tostring(e, encoding="unicode") for e in self.got()[-limit:])


def body(message):
    return message.findtext(f"{{{CLIENT}}}body")


def chatState(message):
    """
    The chat state element's name in a message, or C{None}.
    """
    for child in message:
        if child.tag.startswith(f"{{{NS_CHATSTATES}}}"):
            return child.tag.partition("}")[2]
    return None


def rosterPushes(supporter, jid):
    """
    The items for C{jid} in the roster pushes C{supporter} received.
    """
    items = []
    for iq in supporter.got("iq"):
        if iq.get("type") != "set":
            continue
        for item in iq.findall(f"{{{ROSTER}}}query/{{{ROSTER}}}item"):
            if item.get("jid") == jid:
                items.append(item)
    return items


class VisitorWindow:
    """
    The visitor chat page in the browser: what it shows and what the
    visitor does in it.
    """

    def __init__(self, browser):
        self.browser = browser
        self.driver = browser.driver

    def lines(self):
        return [tuple(line) for line in self.driver.execute_script(LINES)]

    def shown(self, selector):
        found = self.driver.find_elements(By.CSS_SELECTOR, selector)
        return bool(found) and found[0].is_displayed()

    def text(self, selector):
        return self.driver.find_element(By.CSS_SELECTOR, selector).text

    def visibility(self):
        """
        Which of the page's parts are shown.
        """
        return {part: self.shown(part) for part in
                ("#start", "#conversation", "#say", "#end", "#offline", "#typing")}

    def diagnose(self):
        return (f"shown: {self.visibility()}\nlines: {self.lines()}\n"
                f"notice: {self.text('#notice')!r}\n"
                f"sessionStorage: {self.driver.execute_script('return JSON.stringify(sessionStorage)')}\n"
                f"console: {self.driver.get_log('browser')}")

    def start(self, name):
        form = self.driver.find_element(By.ID, "start")
        field = form.find_element(By.NAME, "name")
        field.clear()
        field.send_keys(name)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    def field(self):
        return self.driver.find_element(By.CSS_SELECTOR, "#say input[name=text]")

    def waitForLine(self, line, what):
        return waitFor(lambda: line in self.lines(), what, timeout=DEADLINE, diagnose=self.diagnose)


# Fixtures


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """
    The real daemon with an operator and alice, support staff of the
    default company ("Alice" to visitors); its log's end is printed when a
    test fails.
    """
    directory = tmp_path_factory.mktemp("server")
    server = Daemon(directory, admins=OPERATOR[0])
    server.addUser(*OPERATOR)
    server.addUser(*ALICE)
    result = server.ctl("supporter", "add", COMPANY, ALICE[0], "--name", SUPPORTER_NAME)
    assert result.returncode == 0, result.stderr
    with server.running() as running:
        yield running


@pytest.fixture(scope="module")
def browser(daemon, tmp_path_factory):
    """
    Headless Chromium with a fresh profile, in English, at phone size
    (375 x 667, device emulation); its console is kept for failure messages.
    """
    driver = startChromium(tmp_path_factory.mktemp("chromium"), logs=("browser",))
    try:
        browser = Browser(driver, f"http://127.0.0.1:{daemon.httpPort}")
        browser.resize(*PHONE)
        yield browser
    finally:
        driver.quit()


# The tests


def test_visitorChatsWithSupporter(daemon, browser):
    """
    A visitor chats with alice from start to end:

      1. the window (375 px wide, no sideways scrolling) asks for a name;
         alice gets the parameters first, then the visitor's first line,
         and the visitor in her roster (group Visitors, named after the
         visitor: the name is text, never markup, on both sides); the
         visitor is told alice's name for visitors ("Alice");
      2. alice's reply is on the page (how fast: bench/visitors.py); her
         C{composing} shows "... is typing", and the visitor's typing sends
         her C{composing};
      3. after a reload the page shows the same lines, none lost or
         doubled, and the chat goes on;
      4. "End chat": alice gets C{gone}, the visitor's unavailable presence
         and a roster push removing the visitor; the page says the chat
         has ended and offers no input, also after a reload.

    Which of its parts the page shows (name form, conversation, offline
    form) and the supporter's name on it are collected and checked last,
    so that the conversation is exercised either way.
    """
    window = VisitorWindow(browser)
    problems = []
    alice = Supporter(*ALICE, daemon.port, daemon.certificate)
    try:
        waitFor(lambda: serverState(daemon) == "online", "the server to show alice online",
                timeout=DEADLINE, diagnose=lambda: serverState(daemon))

        # 1. The window asks for a name, and nothing else is shown.
        browser.open(chatPath(PARAMETERS))
        shown = window.visibility()
        if shown != {"#start": True, "#conversation": False, "#say": False, "#end": False,
                     "#offline": False, "#typing": False}:
            problems.append(f"the new window shows {shown}; only #start should be shown")
        window.start(NAME)
        waitFor(lambda: window.shown("#conversation") and window.lines(), "the conversation",
                timeout=DEADLINE, diagnose=window.diagnose)

        # alice's first stanza from the visitor is the parameters message.
        first = waitFor(
            lambda: [m for m in alice.got("message") if bare(m.get("from")).endswith("@" + VISITORS)],
            "alice to get the parameters message", timeout=DEADLINE, diagnose=alice.transcript,
        )[0]
        visitor = bare(first.get("from"))
        text = body(first)
        assert text is not None, ET.tostring(first, encoding="unicode")
        lines = text.split("\n")
        assert lines[0] == f"Visitor: {NAME}", text
        for name, value in PARAMETERS:
            assert f"{name}: {value}" in lines, text
        assert first.findtext(f"{{{NS_NICK}}}nick") == NAME
        assert len(first.find(f"{{{CLIENT}}}body")) == 0, "the name came as markup"
        # No data form: Psi 1.5 would show it in a window of its own,
        # apart from the chat (tests/clients/test_psi.py).
        assert first.find(f"{{{NS_DATA}}}x") is None, ET.tostring(first, encoding="unicode")

        # The visitor in alice's roster: group Visitors, named after the
        # visitor (as text), and available.
        [item] = waitFor(lambda: rosterPushes(alice, visitor), "the roster push adding the visitor",
                         timeout=DEADLINE, diagnose=alice.transcript)
        assert (item.get("name"), item.get("subscription")) == (NAME, "both"), ET.tostring(item)
        assert [g.text for g in item.findall(f"{{{ROSTER}}}group")] == ["Visitors"]
        waitFor(lambda: [p for p in alice.fromVisitor(visitor, "presence") if p.get("type") is None],
                "the visitor's presence", timeout=DEADLINE, diagnose=alice.transcript)

        # The visitor is told who answers: alice's name for visitors.
        [talking] = waitFor(
            lambda: [line for line in window.lines()
                     if line[0] == "system" and line[1].startswith("You are talking to ")],
            "the supporter's name on the page", timeout=DEADLINE, diagnose=window.diagnose,
        )
        shownName = talking[1][len("You are talking to "):].rstrip(".")
        if shownName != SUPPORTER_NAME:
            problems.append(f"the visitor is told {talking[1]!r}, not alice's name for visitors "
                            f"{SUPPORTER_NAME!r} (supporter add --name)")
        if window.shown("#start"):
            problems.append("the name form is still shown after the chat started")
        overflow = browser.overflow()
        if overflow:
            problems.append(f"the chat window scrolls sideways at 375 px: {overflow}")

        # 2. The visitor types: alice gets "composing", then the line.
        field = window.field()
        field.send_keys(FIRST_LINE)
        waitFor(lambda: [m for m in alice.fromVisitor(visitor, "message")
                         if chatState(m) == "composing" and body(m) is None],
                "alice to get the visitor's composing", timeout=DEADLINE, diagnose=alice.transcript)
        field.send_keys(Keys.ENTER)
        window.waitForLine(("visitor", f"You: {FIRST_LINE}"), "the visitor's line on the page")
        waitFor(lambda: field.get_attribute("value") == "", "the input to be emptied", timeout=DEADLINE)
        waitFor(lambda: alice.received(FIRST_LINE), "alice to get the visitor's first line",
                timeout=DEADLINE, diagnose=alice.transcript)
        bodies = [body(m) for m in alice.fromVisitor(visitor, "message") if body(m) is not None]
        assert bodies == [text, FIRST_LINE], bodies

        # alice's reply is on the page at once (long polling).
        alice.send(visitor, REPLY)
        window.waitForLine(("supporter", f"{shownName}: {REPLY}"), "alice's reply on the page")

        # alice types: "... is typing" shows, and goes when she pauses.
        alice.sendState(visitor, "composing")
        waitFor(lambda: window.shown("#typing"), "the typing notice", timeout=DEADLINE,
                diagnose=window.diagnose)
        assert window.text("#typing") == f"{shownName} is typing…"
        screenshot(browser, "visitor-chat.png", window=True)
        alice.sendState(visitor, "paused")
        waitFor(lambda: not window.shown("#typing"), "the typing notice to go", timeout=DEADLINE,
                diagnose=window.diagnose)

        # 3. A reload shows the same lines, once each, and the chat goes on.
        before = window.lines()
        assert before == [talking, ("visitor", f"You: {FIRST_LINE}"), ("supporter", f"{shownName}: {REPLY}")]
        browser.driver.refresh()
        browser.waitLoaded()
        waitFor(lambda: window.lines() == before, "the same lines after the reload", timeout=DEADLINE,
                diagnose=window.diagnose)
        alice.send(visitor, AFTER_RELOAD)
        window.waitForLine(("supporter", f"{shownName}: {AFTER_RELOAD}"), "alice's line after the reload")
        assert window.lines() == before + [("supporter", f"{shownName}: {AFTER_RELOAD}")]
        assert browser.driver.execute_script("return document.querySelectorAll('b').length") == 0
        if window.shown("#start"):
            problems.append("the name form is shown after the reload")
        field = window.field()
        field.send_keys(LAST_LINE, Keys.ENTER)
        window.waitForLine(("visitor", f"You: {LAST_LINE}"), "the visitor's line after the reload")
        waitFor(lambda: alice.received(LAST_LINE), "alice to get the line after the reload",
                timeout=DEADLINE, diagnose=alice.transcript)

        # 4. The visitor ends the chat.
        browser.driver.find_element(By.ID, "end").click()
        window.waitForLine(("system", "The chat has ended."), "the end on the page")
        waitFor(lambda: [m for m in alice.fromVisitor(visitor, "message") if chatState(m) == "gone"],
                "alice to get gone", timeout=DEADLINE, diagnose=alice.transcript)
        waitFor(lambda: [p for p in alice.fromVisitor(visitor, "presence") if p.get("type") == "unavailable"],
                "the visitor's unavailable presence", timeout=DEADLINE, diagnose=alice.transcript)
        waitFor(lambda: [i for i in rosterPushes(alice, visitor) if i.get("subscription") == "remove"],
                "the roster push removing the visitor", timeout=DEADLINE, diagnose=alice.transcript)
        for part in ("#say", "#end"):
            if window.shown(part):
                problems.append(f"{part} is still shown after the chat ended")
        ended = window.lines()

        # A reload of the ended chat shows it ended (or offers a new one),
        # and no input for a chat that is over.
        browser.driver.refresh()
        browser.waitLoaded()
        try:
            waitFor(lambda: window.lines() == ended
                    or (window.shown("#start") and not window.shown("#conversation")),
                    "the ended chat or the name form after a reload", timeout=5)
        except AssertionError:
            problems.append(f"after a reload the ended chat shows the lines {window.lines()} "
                            f"(before: {len(ended)} lines) and {window.visibility()}")
        for part in ("#say", "#end"):
            if window.shown(part):
                problems.append(f"{part} is shown after a reload of the ended chat")

        # alice got every line once, in order, and the page shows each once.
        bodies = [body(m) for m in alice.fromVisitor(visitor, "message") if body(m) is not None]
        assert bodies == [text, FIRST_LINE, LAST_LINE], bodies
        assert ended == before + [
            ("supporter", f"{shownName}: {AFTER_RELOAD}"), ("visitor", f"You: {LAST_LINE}"),
            ("system", "The chat has ended."),
        ]
    finally:
        alice.close()
    assert not problems, "\n".join(problems)


def test_offlineMessageReachesSupporter(daemon, browser):
    """
    With alice offline, a new visitor gets the offline form; the message
    left there is stored for her and delivered when she logs in again (with
    a delay stamp), with the visitor's name and parameters.
    """
    problems = []
    waitFor(lambda: serverState(daemon) == "offline", "the server to show alice offline",
            timeout=DEADLINE, diagnose=lambda: serverState(daemon))
    # A new visitor: a tab of its own, so a session storage of its own.
    first = browser.driver.current_window_handle
    browser.driver.switch_to.new_window("tab")
    try:
        window = VisitorWindow(browser)
        browser.open(chatPath(OFFLINE_PARAMETERS))
        window.start(OFFLINE_NAME)
        waitFor(lambda: window.shown("#offline") and window.text("#offline-note"), "the offline form",
                timeout=DEADLINE, diagnose=window.diagnose)
        assert window.text("#offline-note") == "Nobody is available right now. Leave a message:"
        assert not window.shown("#conversation"), window.diagnose()
        form = browser.driver.find_element(By.ID, "offline")
        form.find_element(By.NAME, "text").send_keys(OFFLINE_TEXT)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        waitFor(lambda: window.text("#notice") == "Thank you, your message was sent.", "the thanks",
                timeout=DEADLINE, diagnose=window.diagnose)
        if window.shown("#offline"):
            problems.append("the offline form is still shown after the message was sent")
    finally:
        browser.driver.close()
        browser.driver.switch_to.window(first)

    alice = Supporter(*ALICE, daemon.port, daemon.certificate)
    try:
        [message] = waitFor(
            lambda: [m for m in alice.got("message") if OFFLINE_TEXT in (body(m) or "")],
            "the offline message", timeout=DEADLINE, diagnose=alice.transcript,
        )
        assert bare(message.get("from")).endswith("@" + VISITORS), message.get("from")
        assert message.find(f"{{{NS_DELAY}}}delay") is not None, "not delivered from offline storage"
        assert message.findtext(f"{{{CLIENT}}}subject") == f"Website: {OFFLINE_NAME}"
        lines = body(message).split("\n")
        assert f"From: {OFFLINE_NAME}" in lines, lines
        for name, value in OFFLINE_PARAMETERS:
            assert f"{name}: {value}" in lines, lines
        assert lines[-1] == OFFLINE_TEXT, lines
    finally:
        alice.close()
    assert not problems, "\n".join(problems)


def test_transcriptsInAdministration(daemon, browser):
    """
    The operator, logged in through the login form, finds both chats under
    Transcripts (the visitor's name as text); the first one's page shows
    its parameters and every line in order, and its text export has the
    parameters and the lines.
    """
    browser.open("/admin/login")
    browser.submit("/admin/login", {"address": OPERATOR[0], "password": OPERATOR[1]})
    assert browser.path == "/admin/users", browser.text()
    browser.follow("Transcripts")
    assert browser.path == "/admin/transcripts", browser.text()

    rows = {}
    for row in browser.driver.find_elements(By.CSS_SELECTOR, "main tbody tr"):
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        rows[cells[1]] = (cells, row)
    assert set(rows) == {NAME, OFFLINE_NAME}, browser.mainText()
    assert rows[NAME][0][2:] == [ALICE[0], "visitor"], rows[NAME][0]
    assert rows[OFFLINE_NAME][0][2:] == [ALICE[0], "offline form"], rows[OFFLINE_NAME][0]
    assert browser.driver.execute_script("return document.querySelectorAll('main b').length") == 0

    link = rows[NAME][1].find_element(By.TAG_NAME, "a")
    browser.markPage()
    link.click()
    browser.waitNewPage("the transcript's page")
    assert browser.path.startswith("/admin/transcripts/"), browser.path
    assert browser.driver.find_element(By.TAG_NAME, "h1").text == NAME
    terms = browser.driver.find_elements(By.CSS_SELECTOR, "main dl dt")
    details = dict(zip([t.text for t in terms],
                       [d.text for d in browser.driver.find_elements(By.CSS_SELECTOR, "main dl dd")]))
    for name, value in PARAMETERS:
        assert details.get(name) == value, details
    items = browser.driver.find_elements(By.CSS_SELECTOR, "main ol.transcript li")
    lines = [li.text for li in items]
    classes = [li.get_attribute("class") for li in items]
    expected = [
        # Who took the chat (the name the visitor was told).
        ("system", f"{ALICE[0]}: supporter: "),
        ("visitor", f"{NAME}: {FIRST_LINE}"),
        ("supporter", f"{ALICE[0]}: {REPLY}"),
        ("supporter", f"{ALICE[0]}: {AFTER_RELOAD}"),
        ("visitor", f"{NAME}: {LAST_LINE}"),
    ]
    assert len(lines) == len(expected), lines
    for (kind, part), line, got in zip(expected, lines, classes):
        assert got == kind and part in line, (kind, part, got, line)
    assert browser.driver.execute_script("return document.querySelectorAll('main b').length") == 0
    overflow = browser.overflow()
    screenshot(browser, "admin-transcript.png")

    # The export is a download: fetched with the browser's cookies.
    href = urlsplit(browser.driver.find_element(By.LINK_TEXT, "text").get_attribute("href"))
    assert "format=txt" in href.query.split("&"), href
    status, headers, export = download(browser, f"{href.path}?{href.query}")
    assert status == 200, (status, export)
    assert headers["content-type"].startswith("text/plain"), headers["content-type"]
    assert headers["content-disposition"].startswith("attachment;"), headers["content-disposition"]
    text = export.splitlines()
    assert text[0] == f"Visitor: {NAME}", text
    for name, value in PARAMETERS:
        assert f"{name}: {value}" in text, text
    for line in (f"{NAME}: {FIRST_LINE}", f"{ALICE[0]}: {REPLY}", f"{NAME}: {LAST_LINE}"):
        assert any(t.endswith(line) for t in text), (line, text)
    assert overflow is None, f"the transcript page scrolls sideways at 375 px: {overflow}"
