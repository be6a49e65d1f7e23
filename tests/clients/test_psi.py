"""
Psi 1.5 (the Qt desktop client) under Xvfb against the real daemon.

Psi starts from a generated profile that logs in by itself; the tests read
what happened from the daemon's traffic log, look at Psi's windows with
xdotool, and type into them.
"""

import os
import re
import subprocess
import time

import pytest

from tests.clients import (
    CLIENT,
    ROSTER,
    STANZAS,
    VCARD,
    WebVisitor,
    XServer,
    requireTools,
    screenshotDirectory,
    screenshotNow,
    screenshotX,
    serverFailures,
    stopProcess,
    traffic,
    uniqueText,
    visibleWindows,
    waitFor,
    writePsiProfile,
    xdotool,
)
from tests.clients.conftest import ALICE, BOB

#: The resource Psi binds (set in the generated profile).
RESOURCE = "psi-test"

#: What Psi asks that the daemon does not implement (and may answer with
#: service-unavailable): nothing any more.  Privacy lists (XEP-0016), the
#: last one, are there now; Psi 1.5 blocks through them only.
UNIMPLEMENTED = set()

NS_PRIVACY = "jabber:iq:privacy"
PRIVACY = f"{{{NS_PRIVACY}}}query"
PRIVATE = "{jabber:iq:private}query"
DISCO_INFO = "{http://jabber.org/protocol/disco#info}query"
CARBONS = "{urn:xmpp:carbons:2}enable"
VCARD_ELEMENT = f"{{{VCARD}}}vCard"

#: Psi's noise on stdout/stderr, left out when its output is shown.
NOISE = ("Unknown signature value", "Accessing missing option")


def windowTitles(display):
    """
    The sorted titles of Psi's visible windows (a chat window's title starts
    with "* " while it holds an unread message; that is left out).
    """
    return sorted(title.lstrip("* ") for title in visibleWindows(display).values())


def waitForWindow(display, title):
    """
    Wait for a visible window called exactly C{title}; return its id.
    """
    return waitFor(
        lambda: xdotool(display, "search", "--onlyvisible", "--name", f"^{title}$").split(),
        f"Psi's window {title!r}", diagnose=lambda: visibleWindows(display),
    )[-1]


def session(daemon):
    """
    Psi's connection in the daemon's log, or C{None} before it bound.
    """
    return traffic(daemon).of(f"{ALICE[0]}/{RESOURCE}")


def describe(daemon):
    """
    Psi's connection, bound or not (the scripted ones all bound), for
    failure messages.
    """
    full = f"{ALICE[0]}/{RESOURCE}"
    return "\n".join(
        f"--- connection from port {c.port}, bound to {c.jid} ---\n{c.transcript()}"
        for c in traffic(daemon).connections if c.jid in (None, full)
    ) or "Psi did not connect"


def privacyChange(request):
    """
    What a C{jabber:iq:privacy} request is about: its C{list}, C{default}
    or C{active} element, or C{None} for a get of the list names.
    """
    query = request.find(PRIVACY)
    return None if query is None or len(query) == 0 else query[0]


def privacySets(connection):
    """
    The privacy list changes (C{jabber:iq:privacy} sets) Psi sent, in order.
    """
    return [r for r in connection.requests() if r.get("type") == "set" and r.find(PRIVACY) is not None]


def denied(request):
    """
    The JIDs that the privacy list set by C{request} denies.
    """
    change = privacyChange(request)
    return [
        item.get("value") for item in change.findall(f"{{{NS_PRIVACY}}}item")
        if item.get("type") == "jid" and item.get("action") == "deny"
    ]


def privacyReady(connection):
    """
    Whether Psi has set up its privacy lists: with none stored, it creates
    its list "blocked", makes it the default and the active list (three
    sets at once), and fetches the list again when the daemon announces the
    change.  Until then its "Block" does nothing but create that list.
    """
    requests = connection.requests()
    changes = [privacyChange(r) for r in privacySets(connection)]
    fetched = [privacyChange(r) for r in requests if r.get("type") == "get" and r.find(PRIVACY) is not None]
    return (
        any(c is not None and c.tag == f"{{{NS_PRIVACY}}}active" for c in changes)
        and any(c is not None and c.tag == f"{{{NS_PRIVACY}}}list" for c in fetched)
    )


def waitForLogin(daemon, display):
    """
    Wait until Psi has logged in, set up its privacy lists and got all its
    requests answered, with no window but the roster open at any time;
    return its connection.
    """

    def loggedIn():
        # A dialog (certificate question, password prompt, vCard editor,
        # error) is a failure at once.
        titles = windowTitles(display)
        assert titles in ([], ["Psi"]), f"Psi opened a window: {titles}; see psi-last.png"
        connection = session(daemon)
        if connection is None or connection.initialPresence() is None:
            return None
        asked = {child.tag for request in connection.requests() for child in request}
        # Psi's last login requests (privacy lists, bookmarks, the server's
        # disco#info, then carbons and the own vCard, which the server
        # advertises) follow its initial presence; the set-up of its
        # privacy lists comes last.
        if not {PRIVACY, PRIVATE, DISCO_INFO, CARBONS, VCARD_ELEMENT} <= asked:
            return None
        if not privacyReady(connection):
            return None
        if connection.unanswered():
            return None
        return connection

    return waitFor(
        loggedIn, "Psi to log in and get its login requests answered",
        diagnose=lambda: describe(daemon),
    )


def vCardNames(vcard):
    """
    The full name and the nickname in a C{vcard-temp} C{vCard} element.
    """
    return vcard.findtext(f"{{{VCARD}}}FN"), vcard.findtext(f"{{{VCARD}}}NICKNAME")


#: Where "Block" (or, for a blocked contact, "Unblock": the same checkable
#: item) is in Psi 1.5's menu for a contact in the roster, counting the
#: items that the arrow keys stop at: Send Message, Send File, User Info,
#: History, Rename, Remove, Group, Block.  (There is no "Receive Incoming
#: Event" above them while no message from the contact waits, and no
#: "Voice Call": this Psi has no A/V support.)
BLOCK_ITEM = 8


#: Where bob's row is in the roster window (260 by 400 pixels, from the
#: profile): the fourth row, under the account, alice herself and the group
#: "General".
BOB_ROW = (100, 100)


def contactMenu(display, roster):
    """
    Open Psi's context menu for bob (a right click on his row) and return
    the menu's window.  Right after login Psi sometimes ignores input for a
    moment (most likely while its roster is rebuilt), so the click is
    repeated each second until the menu is there.  The mouse, unlike the
    arrow keys, cannot land on another row when some of it is lost.
    """
    sent = []

    def menu():
        # The menu is a window called "Psi" too (which only
        # visibleWindows() finds: "xdotool search --name" does not).
        popups = [w for w, title in visibleWindows(display).items() if title == "Psi" and w != roster]
        if popups:
            return popups[-1]
        if not sent or time.monotonic() - sent[-1] > 1:
            sent.append(time.monotonic())
            x, y = BOB_ROW
            xdotool(display, "mousemove", "--window", roster, str(x), str(y), "click", "3")
        return None

    return waitFor(menu, "Psi's menu for bob", diagnose=lambda: visibleWindows(display))


def chooseBlockItem(display, roster):
    """
    Open bob's menu and move to its "Block"/"Unblock" item (highlighted,
    not yet chosen); return the menu's window.
    """
    menu = contactMenu(display, roster)
    xdotool(display, "key", *["Down"] * BLOCK_ITEM)
    return menu


def choose(display, menu):
    """
    Choose the highlighted item of a menu (Return) and wait for the menu to
    close.
    """
    xdotool(display, "key", "Return")
    waitFor(lambda: menu not in visibleWindows(display), "Psi's menu to close",
            diagnose=lambda: visibleWindows(display))


def answered(daemon, find, after):
    """
    Wait until Psi has sent a privacy list change, after its first C{after}
    ones, for which C{find(request)} is true, and the daemon has answered
    it; return its position among Psi's changes, the request and the answer.
    """

    def done():
        connection = session(daemon)
        changes = privacySets(connection)
        for position in range(after, len(changes)):
            request = changes[position]
            if find(request) and connection.answer(request) is not None:
                return position, request, connection.answer(request)
        return None

    return waitFor(done, "Psi's privacy list change to be answered", diagnose=lambda: describe(daemon))


@pytest.fixture(autouse=True)
def tools():
    """
    Psi, Xvfb and xdotool are installed (checked before anything starts).
    """
    requireTools("psi", "Xvfb", "xdotool")


@pytest.fixture
def display():
    """
    A private X server (Xvfb, no window manager); stopped after the test.
    """
    server = XServer()
    try:
        yield server.display
    finally:
        server.close()


@pytest.fixture
def psi(tmp_path, daemon, bob, display):
    """
    Psi, logging in as alice by itself from a generated profile (HOME in the
    test's temporary folder); stopped after the test, its output printed on
    failure.
    """
    home = tmp_path / "psi"
    runtime, temporary = tmp_path / "runtime", tmp_path / "tmp"
    runtime.mkdir(mode=0o700)
    temporary.mkdir()
    writePsiProfile(home, ALICE[0], ALICE[1], daemon.port, daemon.certificate, RESOURCE)
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(runtime),
        "TMPDIR": str(temporary),
        "DISPLAY": display,
        "QT_QPA_PLATFORM": "xcb",
        # No session bus: Psi must neither reach nor start one.
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",
        "LANG": "C.UTF-8",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    output = tmp_path / "psi.log"
    with open(output, "wb") as log:
        process = subprocess.Popen(
            ["psi"], env=env, cwd=str(home), stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        try:
            last = screenshotNow(display, str(tmp_path / "psi-last.png"))
        except Exception as e:
            last = f"none ({e})"
        stopProcess(process)
        print(f"--- Psi's screen at the end: {last} ---")
        lines = output.read_text(errors="replace").splitlines()
        print("--- psi output ---")
        print("\n".join(l for l in lines if not any(n in l for n in NOISE))[-5000:])


@pytest.mark.clients
def test_psi_login_and_chat(daemon, bob, psi, display, tmp_path):
    """Psi logs in over STARTTLS, gets every request answered, and chats with bob both ways."""
    alice = ALICE[0]
    full = f"{alice}/{RESOURCE}"
    screenshots = screenshotDirectory(tmp_path)

    connection = waitForLogin(daemon, display)
    assert psi.poll() is None, "Psi exited"
    # No dialog: no certificate question, no vCard editor, no error.
    assert sorted(visibleWindows(display).values()) == ["Psi"]

    # STARTTLS first, then SASL, then the resource from the profile.
    assert connection.received[0].tag == "{urn:ietf:params:xml:ns:xmpp-tls}starttls"
    assert any(e.tag == "{urn:ietf:params:xml:ns:xmpp-sasl}success" for e in connection.sent)
    assert connection.jid == full

    # The roster get is answered with a result that holds bob.
    roster = connection.rosterResult()
    assert roster.get("type") == "result", connection.transcript()
    items = roster.findall("{jabber:iq:roster}query/{jabber:iq:roster}item")
    assert [(i.get("jid"), i.get("subscription")) for i in items] == [(BOB[0], "both")]

    # Psi sent its initial presence and got bob's.
    assert connection.initialPresence() is not None
    waitFor(
        lambda: any(p.get("from") == bob.fullJID and p.get("type") is None
                    for p in session(daemon).sentStanzas("presence")),
        "bob's presence sent to Psi",
    )
    screenshotX(display, os.path.join(screenshots, "psi-roster.png"))

    # bob -> alice: delivered to Psi, whose chat window opens.
    incoming = uniqueText("Hello from bob")
    bob.send(alice, incoming)
    waitFor(lambda: session(daemon).messagesSent(incoming), "bob's message sent to Psi")
    window = waitFor(
        lambda: xdotool(display, "search", "--onlyvisible", "--name", "bob@localhost").split(),
        "Psi's chat window with bob", diagnose=lambda: visibleWindows(display),
    )[-1]
    # There is no window manager: put the chat beside the roster and give
    # it the keyboard.  (Its title is "* bob@localhost" while it holds an
    # unread message.)
    xdotool(display, "windowmove", "--sync", window, "300", "20")
    xdotool(display, "windowsize", "--sync", window, "520", "400")
    xdotool(display, "windowfocus", "--sync", window)

    # alice -> bob, typed into Psi's chat window.
    outgoing = uniqueText("Hello from Psi")
    xdotool(display, "type", "--delay", "20", outgoing)
    xdotool(display, "key", "Return")
    sender = waitFor(lambda: bob.received(outgoing), "bob to receive Psi's message")
    assert sender == full
    screenshotX(display, os.path.join(screenshots, "psi-chat.png"))

    # Both messages went through the daemon as chat messages.
    everything = traffic(daemon)
    connection, bobs = everything.of(full), everything.of(bob.fullJID)
    [delivered] = connection.messagesSent(incoming)
    assert delivered.get("from") == bob.fullJID
    [sent] = connection.messagesReceived(outgoing)
    assert sent.get("to") in (BOB[0], bob.fullJID) and sent.get("type") == "chat"
    [delivered] = bobs.messagesSent(outgoing)
    assert delivered.get("from") == full

    # Over the whole session: every request Psi sent was answered, and Psi
    # got no stream error, no SASL failure and no stanza error at all (not
    # even for its privacy list set-up); and it shows no window but the
    # roster and the chat.
    assert psi.poll() is None, "Psi exited"
    assert connection.unanswered() == [], connection.transcript()
    assert connection.problems(UNIMPLEMENTED) == [], connection.transcript()
    assert windowTitles(display) == ["Psi", "bob@localhost"]

    # The daemon logged no internal error.
    assert serverFailures(daemon) == []


@pytest.mark.clients
def test_psi_vcard(daemon, bob, psi, display, tmp_path):
    """Psi fetches alice's vCard at login without opening its editor; a name and nickname typed into her User Info window are published, stored, and read back by bob."""
    alice = ALICE[0]
    screenshots = screenshotDirectory(tmp_path)

    # At login Psi asked for the own vCard (to the bare JID) and got the
    # account's default one, so it opened no vCard editor.
    connection = waitForLogin(daemon, display)
    [query] = [r for r in connection.requests()
               if r.get("type") == "get" and r.find(VCARD_ELEMENT) is not None]
    assert query.get("to") == alice
    answer = connection.answer(query)
    assert answer.get("type") == "result", connection.transcript()
    assert vCardNames(answer.find(VCARD_ELEMENT)) == ("alice", "alice")
    assert windowTitles(display) == ["Psi"]

    # Open the own contact's User Info (the row under the account's) with
    # the keyboard: for oneself it is the vCard editor.  Right after login
    # Psi sometimes ignores these keys (nothing gets selected; most likely
    # its roster is still being rebuilt), so they are sent again each second
    # until the window is there; a second Ctrl+I on the contact only raises
    # the same window.
    roster = waitForWindow(display, "Psi")
    sent = []

    def userInfo():
        found = xdotool(display, "search", "--onlyvisible", "--name", "^User Info$").split()
        if found:
            return found[-1]
        if not sent or time.monotonic() - sent[-1] > 1:
            sent.append(time.monotonic())
            xdotool(display, "windowfocus", "--sync", roster)
            xdotool(display, "key", "Home", "Down", "ctrl+i")
        return None

    info = waitFor(userInfo, "Psi's User Info window", diagnose=lambda: visibleWindows(display))
    xdotool(display, "windowfocus", "--sync", info)

    # Type a new full name and nickname; "Publish" (Alt+P) sends them.  The
    # dialog opens with the button focused, so the full name field is
    # clicked (there is no window manager: the dialog has no frame, and
    # the field is at the same place in it every time); Tab leads on to the
    # nickname.
    fullName, nickname = uniqueText("Alice Liddell"), uniqueText("ally")
    xdotool(display, "mousemove", "--window", info, "250", "65", "click", "1")
    xdotool(display, "key", "ctrl+a")
    xdotool(display, "type", "--delay", "20", fullName)
    xdotool(display, "key", "Tab", "ctrl+a")
    xdotool(display, "type", "--delay", "20", nickname)
    xdotool(display, "key", "alt+p")

    def published():
        connection = session(daemon)
        for request in connection.requests():
            if (request.get("type") == "set" and request.find(VCARD_ELEMENT) is not None
                    and connection.answer(request) is not None):
                return connection, request
        return None

    connection, publish = waitFor(
        published, "Psi's vCard publish to be answered", diagnose=lambda: describe(daemon),
    )
    # The vCard set went to the own account and was answered with a result.
    assert publish.get("to") in (None, alice)
    assert vCardNames(publish.find(VCARD_ELEMENT)) == (fullName, nickname)
    assert connection.answer(publish).get("type") == "result", connection.transcript()

    # Psi says so ("Your account information has been published.") and
    # shows no error.
    success = waitForWindow(display, "Success")
    assert windowTitles(display) == ["Psi", "Success", "User Info"]
    screenshotX(display, os.path.join(screenshots, "psi-vcard.png"))
    xdotool(display, "windowfocus", "--sync", success)
    xdotool(display, "key", "Return")
    waitFor(lambda: windowTitles(display) == ["Psi", "User Info"], "the message box to close",
            diagnose=lambda: visibleWindows(display))
    xdotool(display, "windowfocus", "--sync", info)
    xdotool(display, "key", "Escape")
    waitFor(lambda: windowTitles(display) == ["Psi"], "the User Info window to close",
            diagnose=lambda: visibleWindows(display))

    # The daemon stored it: bob reads the new vCard.
    assert vCardNames(bob.vCard(alice)) == (fullName, nickname)

    # Over the whole session: every request answered, no stanza error, no
    # internal error logged.
    connection = session(daemon)
    assert psi.poll() is None, "Psi exited"
    assert connection.unanswered() == [], connection.transcript()
    assert connection.problems(UNIMPLEMENTED) == [], connection.transcript()
    assert serverFailures(daemon) == []


@pytest.mark.clients
def test_psi_block(daemon, bob, psi, display, tmp_path):
    """Psi blocks bob from his contact menu through its privacy list (bob's message bounces, he sees alice go offline) and unblocks him the same way (his message reaches Psi, he sees her online)."""
    alice = ALICE[0]
    full = f"{alice}/{RESOURCE}"
    screenshots = screenshotDirectory(tmp_path)

    # At login Psi made its list "blocked" (allowing everything) the default
    # and the active one, and the daemon said yes to each step.
    connection = waitForLogin(daemon, display)
    setUp = privacySets(connection)
    assert [(privacyChange(r).tag, privacyChange(r).get("name")) for r in setUp] == [
        (f"{{{NS_PRIVACY}}}list", "blocked"),
        (f"{{{NS_PRIVACY}}}default", "blocked"),
        (f"{{{NS_PRIVACY}}}active", "blocked"),
    ], connection.transcript()
    assert [connection.answer(r).get("type") for r in setUp] == ["result"] * 3, connection.transcript()
    waitFor(lambda: RESOURCE in bob.resources(alice), "bob to see Psi online")

    # Block: bob's menu, "Block" (there is no confirmation).  Psi sends bob
    # its unavailable presence itself, then its list with a deny item for
    # him on top.
    roster = waitForWindow(display, "Psi")
    choose(display, chooseBlockItem(display, roster))
    position, block, answer = answered(daemon, lambda r: BOB[0] in denied(r), after=len(setUp))
    assert answer.get("type") == "result", session(daemon).transcript()
    assert privacyChange(block).get("name") == "blocked"
    assert denied(block) == [BOB[0]]

    # bob sees alice go offline: besides Psi's own goodbye (with a status),
    # the daemon sends him her unavailable presence.
    waitFor(lambda: RESOURCE not in bob.resources(alice), "bob to see Psi offline")
    waitFor(
        lambda: [p for p in traffic(daemon).of(bob.fullJID).sentStanzas("presence", type="unavailable")
                 if p.get("from") == full and p.find(f"{{{CLIENT}}}status") is None],
        "the daemon's unavailable presence from Psi to bob",
        diagnose=lambda: traffic(daemon).of(bob.fullJID).transcript(),
    )

    # A message from bob bounces with service-unavailable and never reaches
    # Psi, which opens no window.
    blockedText = uniqueText("Hello while blocked")
    bob.send(alice, blockedText)
    [bounce] = waitFor(
        lambda: [m for m in traffic(daemon).of(bob.fullJID).messagesSent(blockedText)
                 if m.get("type") == "error"],
        "bob's message to bounce", diagnose=lambda: traffic(daemon).of(bob.fullJID).transcript(),
    )
    assert bounce.find(f"{{{CLIENT}}}error/{{{STANZAS}}}service-unavailable") is not None
    assert session(daemon).messagesSent(blockedText) == []
    assert bob.received(blockedText) is None
    assert windowTitles(display) == ["Psi"]

    # The same menu item now reads "Unblock" (the picture shows it);
    # choosing it sends the list without bob.
    menu = chooseBlockItem(display, roster)
    screenshotX(display, os.path.join(screenshots, "psi-block.png"))
    choose(display, menu)
    _, unblock, answer = answered(
        daemon, lambda r: privacyChange(r).tag == f"{{{NS_PRIVACY}}}list", after=position + 1,
    )
    assert answer.get("type") == "result", session(daemon).transcript()
    assert privacyChange(unblock).get("name") == "blocked"
    assert denied(unblock) == []

    # bob sees alice online again, and his next message reaches Psi, whose
    # chat window opens.
    waitFor(lambda: RESOURCE in bob.resources(alice), "bob to see Psi online again")
    welcome = uniqueText("Hello after unblock")
    bob.send(alice, welcome)
    [delivered] = waitFor(lambda: session(daemon).messagesSent(welcome), "bob's message sent to Psi")
    assert delivered.get("from") == bob.fullJID
    waitFor(lambda: windowTitles(display) == ["Psi", "bob@localhost"], "Psi's chat window with bob",
            diagnose=lambda: visibleWindows(display))

    # Over the whole session: every privacy list change Psi sent got a
    # result, every request was answered, no stanza error reached Psi, it
    # showed no other window (no error popup), and the daemon logged no
    # internal error.
    connection = session(daemon)
    changes = privacySets(connection)
    assert [connection.answer(r).get("type") for r in changes] == ["result"] * len(changes)
    assert len(changes) == len(setUp) + 2, connection.transcript()
    assert psi.poll() is None, "Psi exited"
    assert connection.unanswered() == [], connection.transcript()
    assert connection.problems(UNIMPLEMENTED) == [], connection.transcript()
    assert windowTitles(display) == ["Psi", "bob@localhost"]
    assert serverFailures(daemon) == []


#: The visitor chat from Psi: the company (the domain's default one), the
#: visitor and what the visitor's page brought along.
COMPANY = "localhost"
VISITOR = "Vera Visitor"
VISITOR_PARAMETERS = (("Kundennummer", "56164"), ("URL", "www.example.com"))
NS_CHATSTATES = "http://jabber.org/protocol/chatstates"
NS_RECEIPTS = "urn:xmpp:receipts"


def fromVisitors(connection, name):
    """
    The elements called C{name} the daemon sent Psi from a visitor's JID.
    """
    return [e for e in connection.sentStanzas(name)
            if e.get("from", "").partition("/")[0].endswith(f"@visitors.{COMPANY}")]


def rosterPushes(connection, jid):
    """
    The daemon's roster pushes to Psi about C{jid}: each item with Psi's
    answer (C{None} while there is none).
    """
    pushes = []
    for iq in connection.sentStanzas("iq", type="set"):
        for item in iq.findall(f"{{{ROSTER}}}query/{{{ROSTER}}}item"):
            if item.get("jid") == jid:
                answers = [e for e in connection.received if e.tag == f"{{{CLIENT}}}iq"
                           and e.get("id") == iq.get("id") and e.get("type") in ("result", "error")]
                pushes.append((item, answers[0] if answers else None))
    return pushes


def visitorWindows(display):
    """
    Psi's visible windows titled after the visitor, by window id (a chat
    window's title starts with "* " while it holds an unread message, and
    ends with "(Composing ...)" while the visitor types).
    """
    return {w: t for w, t in visibleWindows(display).items() if t.lstrip("* ").startswith(VISITOR)}


def unreadChat(display):
    """
    Psi's chat windows with the visitor that hold unread messages: titled
    "* Vera Visitor", or "* [2] Vera Visitor" with two of them.
    """
    unread = re.compile(rf"\* (\[\d+\] )?{re.escape(VISITOR)}")
    return [w for w, t in visibleWindows(display).items() if unread.match(t)]


@pytest.mark.clients
def test_psi_visitor_chat(daemon, bob, psi, display, tmp_path):
    """A website visitor (the visitor chat's JSON API) chats with alice in Psi: Psi gets the parameters before the visitor's first line and the visitor in its roster (group Visitors, named after the visitor), opens a chat window named after the visitor, and a reply typed there (with Psi's typing notification) reaches the visitor; when the visitor ends the chat, Psi gets gone, the visitor's unavailable presence and the visitor's removal from its roster.  Psi should show the parameters in that chat window, not in a window of their own."""
    screenshots = screenshotDirectory(tmp_path)
    # alice takes visitors of the default company (in the running daemon).
    result = daemon.ctl("supporter", "add", COMPANY, ALICE[0], "--name", "Alice")
    assert result.returncode == 0, result.stderr
    problems = []
    waitForLogin(daemon, display)
    visitor = WebVisitor(daemon.httpPort)
    try:
        visitor.start(COMPANY, VISITOR, VISITOR_PARAMETERS)

        # First the parameters message (a chat message, with the visitor's
        # name as nickname), then the visitor in Psi's roster.
        first = waitFor(lambda: fromVisitors(session(daemon), "message"), "the parameters message sent to Psi",
                        diagnose=lambda: describe(daemon))[0]
        jid = first.get("from")
        parameters = first.findtext(f"{{{CLIENT}}}body").split("\n")
        assert first.get("type") == "chat"
        assert parameters[0] == f"Visitor: {VISITOR}", parameters
        for name, value in VISITOR_PARAMETERS:
            assert f"{name}: {value}" in parameters, parameters
        [(item, answer)] = waitFor(
            lambda: [p for p in rosterPushes(session(daemon), jid) if p[1] is not None],
            "Psi to answer the roster push adding the visitor", diagnose=lambda: describe(daemon),
        )
        assert answer.get("type") == "result", describe(daemon)
        assert (item.get("name"), item.get("subscription")) == (VISITOR, "both")
        assert [g.text for g in item.findall(f"{{{ROSTER}}}group")] == ["Visitors"]
        waitFor(lambda: [p for p in fromVisitors(session(daemon), "presence") if p.get("type") is None],
                "the visitor's presence sent to Psi", diagnose=lambda: describe(daemon))
        # Psi opens the chat on the first message: if the visitor is not yet
        # in its roster and available, the chat begins with "Vera Visitor
        # is now Offline", then "... is now Online".
        toPsi = session(daemon).sent
        position = next(i for i, e in enumerate(toPsi) if e.tag == f"{{{CLIENT}}}message" and e.get("from") == jid)
        before = toPsi[:position]
        early = [what for what, found in (
            ("roster push", [e for e in before if e.get("type") == "set"
                             and e.find(f"{{{ROSTER}}}query/{{{ROSTER}}}item[@jid='{jid}']") is not None]),
            ("available presence", [e for e in before if e.tag == f"{{{CLIENT}}}presence"
                                    and e.get("from") == jid and e.get("type") is None]),
        ) if not found]
        if early:
            problems.append(f"Psi gets the parameters message before the visitor's {' and '.join(early)}: "
                            "a chat window opened by that message begins with \"Vera Visitor is now "
                            "Offline\", then \"... is now Online\"")

        # The visitor's first line reaches Psi after the parameters, and Psi
        # opens a chat window named after the visitor.
        opening = uniqueText("Hello from the website")
        visitor.say(opening)
        waitFor(lambda: session(daemon).messagesSent(opening), "the visitor's line sent to Psi",
                diagnose=lambda: describe(daemon))
        bodies = [m.findtext(f"{{{CLIENT}}}body") for m in fromVisitors(session(daemon), "message")
                  if m.find(f"{{{CLIENT}}}body") is not None]
        assert bodies == [first.findtext(f"{{{CLIENT}}}body"), opening], bodies
        window = waitFor(lambda: unreadChat(display), "Psi's chat window with the visitor",
                         diagnose=lambda: visibleWindows(display))[-1]
        xdotool(display, "windowmove", "--sync", window, "300", "20")
        xdotool(display, "windowsize", "--sync", window, "520", "400")
        xdotool(display, "windowfocus", "--sync", window)

        # alice types a reply: the visitor sees her typing, then the reply.
        reply = uniqueText("Hello from Psi")
        xdotool(display, "type", "--delay", "20", reply)
        waitFor(lambda: "composing" in visitor.fromSupporter("typing"), "the visitor to see Psi typing",
                diagnose=lambda: f"{visitor.events}\n{describe(daemon)}")
        xdotool(display, "key", "Return")
        waitFor(lambda: reply in visitor.fromSupporter(), "Psi's reply to reach the visitor",
                diagnose=lambda: f"{visitor.events}\n{describe(daemon)}")
        [sent] = session(daemon).messagesReceived(reply)
        assert sent.get("to").partition("/")[0] == jid and sent.get("type") == "chat"
        # Psi asks for a delivery receipt (XEP-0184); the visitor's page
        # fetching the reply sends it, and Psi marks the line delivered.
        assert sent.find(f"{{{NS_RECEIPTS}}}request") is not None, sent.attrib
        waitFor(lambda: [m for m in fromVisitors(session(daemon), "message")
                         if m.find(f"{{{NS_RECEIPTS}}}received[@id='{sent.get('id')}']") is not None],
                "the visitor's delivery receipt sent to Psi", diagnose=lambda: describe(daemon))

        # The visitor types: Psi gets "composing".
        visitor.typing(True)
        waitFor(lambda: [m for m in fromVisitors(session(daemon), "message")
                         if m.find(f"{{{NS_CHATSTATES}}}composing") is not None],
                "the visitor's composing sent to Psi", diagnose=lambda: describe(daemon))

        # Whatever else Psi opened for the visitor goes under the chat for
        # the picture.
        others = [w for w in visitorWindows(display) if w != window]
        for other in others:
            xdotool(display, "windowmove", "--sync", other, "300", "430")
            xdotool(display, "windowsize", "--sync", other, "520", "260")
        screenshotX(display, os.path.join(screenshots, "psi-visitor-chat.png"))
        if others:
            problems.append(
                f"Psi shows the visitor in {len(others) + 1} windows {sorted(visibleWindows(display).values())}: "
                "the parameters message carries a data form (jabber:x:data), which Psi 1.5 shows in a form "
                "window of its own (with Submit and Cancel, without the message's text) instead of in the "
                "chat window; the chat window opens only with the visitor's first line, without the parameters")

        # The visitor ends the chat: Psi gets "gone", the visitor's
        # unavailable presence, and the visitor leaves its roster.
        visitor.close()
        waitFor(visitor.ended.is_set, "the chat to end", diagnose=lambda: visitor.events)
        waitFor(lambda: [m for m in fromVisitors(session(daemon), "message")
                         if m.find(f"{{{NS_CHATSTATES}}}gone") is not None],
                "gone sent to Psi", diagnose=lambda: describe(daemon))
        waitFor(lambda: [p for p in fromVisitors(session(daemon), "presence") if p.get("type") == "unavailable"],
                "the visitor's unavailable presence sent to Psi", diagnose=lambda: describe(daemon))
        [(removal, answer)] = waitFor(
            lambda: [p for p in rosterPushes(session(daemon), jid)
                     if p[0].get("subscription") == "remove" and p[1] is not None],
            "Psi to answer the roster push removing the visitor", diagnose=lambda: describe(daemon),
        )
        assert answer.get("type") == "result", describe(daemon)
    finally:
        visitor.stop()

    # Over the whole session: every request answered, no stanza error, no
    # internal error logged, and the visitor's page never lost its events.
    connection = session(daemon)
    assert psi.poll() is None, "Psi exited"
    assert connection.unanswered() == [], connection.transcript()
    assert connection.problems(UNIMPLEMENTED) == [], connection.transcript()
    assert serverFailures(daemon) == []
    assert visitor.errors == []
    assert not problems, "\n".join(problems)
