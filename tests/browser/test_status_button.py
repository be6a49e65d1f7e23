"""
The status button's embed snippet in headless Chromium, against the real
daemon.

The snippet (L{openmessenger.web.embed.snippets}) is pasted into a page
served by a little HTTP server of the test's own on another loopback port,
so the button is cross-origin, as on a company's website.  Time on the
page is the test's: a script installed before the page loads takes over
C{window.setInterval}, so the snippet's 10-second refresh runs when the
test advances the page's clock, not when the wall clock says so.

What the image shows is read from the screen (a screenshot of the image,
compared pixel by pixel with each state's picture over the page's white);
after a refresh the bytes behind the image's C{blob:} URL are compared
with the server's answers as well.

Every wait is for a condition with a deadline, never a fixed sleep.
"""

import base64
import io
import json
import os
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest
from PIL import Image, ImageChops

from openmessenger import buttons
from openmessenger.web.embed import REFRESH_SECONDS, snippets, statusPath
from openmessenger.web.status import loadAnswers
from tests.browser import DEADLINE, startChromium
from tests.clients import Contact, screenshotDirectory, waitFor
from tests.daemon import Daemon

pytestmark = pytest.mark.clients

ALICE = ("alice@localhost", "alice-secret")
#: The default company of the domain C{localhost}, and alice's URL name.
COMPANY = "localhost"
SLUG = "alice"
ICONSET = "label"
LANG = "en"
#: The largest difference (0-255) of one colour channel between a pixel on
#: the screen and the picture's, for the picture to count as shown.
TOLERANCE = 8

#: Installed before the page's own scripts: C{setInterval} records its
#: callbacks instead of scheduling them; C{__testClock.advance(ms)} moves
#: the page's time on, calling each callback as often as its period fits,
#: and returns how many calls it made.
CLOCK = """
(function () {
    var timers = [], now = 0, FIRST = 1000000;
    var realClearInterval = window.clearInterval;
    window.setInterval = function (callback, delay) {
        var period = Math.max(1, Number(delay) || 0);
        timers.push({callback: callback, period: period, due: now + period,
                     args: Array.prototype.slice.call(arguments, 2), cleared: false});
        return FIRST + timers.length - 1;
    };
    window.clearInterval = function (id) {
        if (timers[id - FIRST]) timers[id - FIRST].cleared = true;
        else realClearInterval(id);
    };
    window.__testClock = {
        periods: function () {
            return timers.filter(function (t) { return !t.cleared; })
                         .map(function (t) { return t.period; });
        },
        advance: function (ms) {
            var until = now + ms, calls = 0;
            for (;;) {
                var next = null;
                timers.forEach(function (t) {
                    if (!t.cleared && t.due <= until && (next === null || t.due < next.due)) next = t;
                });
                if (next === null) break;
                now = next.due;
                next.due += next.period;
                next.callback.apply(window, next.args);
                calls += 1;
            }
            now = until;
            return calls;
        }
    };
})();
"""

#: The image on the page: its address, whether it has loaded, its natural
#: size and where it is.
IMAGE = """
var image = document.querySelector('a > img');
var box = image.getBoundingClientRect();
return {src: image.src, complete: image.complete, width: image.naturalWidth,
        height: image.naturalHeight, x: box.x, y: box.y};
"""

#: The bytes behind a C{blob:} URL, base64-encoded (or an error message).
BLOB_BYTES = """
var done = arguments[arguments.length - 1];
fetch(arguments[0]).then(function (r) { return r.arrayBuffer(); }).then(function (buffer) {
    var bytes = new Uint8Array(buffer), text = '';
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    done({data: btoa(text)});
}).catch(function (e) { done({error: String(e)}); });
"""

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Example Ltd</title></head>
<body style="font-family: sans-serif; background: #fff; color: #222; margin: 24px">
<h1 style="font-size: 20px">Example Ltd</h1>
<p>Questions about your order? Our team is here to help.</p>
<p>{snippet}</p>
</body>
</html>
"""


# Tools


class HostSite:
    """
    A company's website: one page on a loopback port of its own, served by
    a thread; the paths asked for are kept in C{requests}.
    """

    def __init__(self, html):
        body = html.encode("utf-8")
        requests = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                if self.path != "/":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, name="host site", daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(DEADLINE)


def expectedPictures():
    """
    Each state's picture (C{label}, English, 1x) as the page shows it: over
    white, in RGB; and the PNG's bytes.
    """
    answers = loadAnswers()
    pictures, png = {}, {}
    for state in buttons.STATES:
        body = answers[("png", ICONSET, state, LANG, 1)].body
        picture = Image.open(io.BytesIO(body)).convert("RGBA")
        white = Image.new("RGBA", picture.size, "white")
        white.alpha_composite(picture)
        pictures[state] = white.convert("RGB")
        png[state] = body
    return pictures, png


def difference(one, other):
    """
    The largest difference of one colour channel between two RGB pictures
    of the same size.
    """
    return max(high for _, high in ImageChops.difference(one, other).getextrema())


class ButtonPage:
    """
    The host page in Chromium, with the test's clock.
    """

    def __init__(self, driver, daemon, site):
        self.driver = driver
        self.daemon = daemon
        self.site = site
        self.pictures, self.png = expectedPictures()
        # The image's path and query, as the browser asks for it.
        self.imagePath = f"{statusPath(COMPANY, SLUG)}.png?{urlencode({'iconset': ICONSET, 'lang': LANG})}"
        self.requestIds = []
        self.statuses = {}

    def image(self):
        return self.driver.execute_script(IMAGE)

    def screenImage(self):
        """
        The image as it is on the screen (RGB).
        """
        image = self.image()
        width, height = self.pictures["offline"].size
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png",
            "clip": {"x": round(image["x"]), "y": round(image["y"]), "width": width, "height": height, "scale": 1},
        })
        return Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB")

    def differences(self):
        shown = self.screenImage()
        return {state: difference(shown, picture) for state, picture in self.pictures.items()}

    def shownState(self):
        """
        The state whose picture is on the screen, or C{None}.
        """
        image = self.image()
        if not image["complete"] or (image["width"], image["height"]) != self.pictures["offline"].size:
            return None
        matches = [state for state, d in self.differences().items() if d <= TOLERANCE]
        return matches[0] if len(matches) == 1 else None

    def blobState(self):
        """
        The state whose PNG is behind the image's C{blob:} URL, or C{None}.
        """
        src = self.image()["src"]
        if not src.startswith("blob:"):
            return None
        result = self.driver.execute_async_script(BLOB_BYTES, src)
        assert "error" not in result, f"reading {src}: {result['error']}"
        data = base64.b64decode(result["data"])
        return next((state for state, body in self.png.items() if body == data), None)

    def advance(self, milliseconds):
        """
        Move the page's clock on; the number of timer calls it made.
        """
        return self.driver.execute_script("return window.__testClock.advance(arguments[0])", milliseconds)

    def refreshes(self):
        """
        The HTTP status codes of the daemon's answers to the image's address,
        in order, as the browser saw them on the wire (its network log: the
        daemon does not log status-button requests).
        """
        for entry in self.driver.get_log("performance"):
            event = json.loads(entry["message"])["message"]
            params = event.get("params", {})
            if event.get("method") == "Network.requestWillBeSent":
                if params["request"]["url"].endswith(self.imagePath) and params["requestId"] not in self.requestIds:
                    self.requestIds.append(params["requestId"])
            elif event.get("method") == "Network.responseReceivedExtraInfo":
                self.statuses[params["requestId"]] = str(params["statusCode"])
        return [self.statuses[r] for r in self.requestIds if r in self.statuses]

    def diagnose(self):
        logs = self.driver.get_log("browser")
        return (f"image: {self.image()}\ndifference to each state's picture: {self.differences()}\n"
                f"answers to the host page: {self.refreshes()}\n"
                f"paths asked of the host site: {self.site.requests}\n"
                f"browser console: {logs}")


def serverState(daemon):
    """
    What the daemon's JSON status says about alice.
    """
    url = f"http://127.0.0.1:{daemon.httpPort}/status/{COMPANY}/{SLUG}.json"
    with urllib.request.urlopen(url, timeout=DEADLINE) as response:
        return json.load(response)["state"]


# Fixtures


@pytest.fixture
def daemon(tmp_path):
    """
    The real daemon with alice, support staff of the default company;
    stopped after the test, its log's end printed on failure.
    """
    directory = tmp_path / "server"
    directory.mkdir()
    server = Daemon(directory)
    server.addUser(*ALICE)
    companies = server.ctl("company", "list")
    assert companies.returncode == 0, companies.stderr
    assert COMPANY in companies.stdout.split(), companies.stdout
    result = server.ctl("supporter", "add", COMPANY, ALICE[0], "--name", "Alice")
    assert result.returncode == 0, result.stderr
    with server.running(60) as running:
        yield running


@pytest.fixture
def site(daemon):
    """
    The company's website with the live snippet for alice's button.
    """
    live, _ = snippets(f"http://127.0.0.1:{daemon.httpPort}", COMPANY, SLUG, ICONSET, LANG)
    host = HostSite(PAGE.format(snippet=live))
    yield host
    host.close()


@pytest.fixture
def driver(tmp_path):
    """
    Headless Chromium (a fresh profile, 1 CSS pixel per screen pixel), with
    the test's clock installed in every page; quit after the test.
    """
    folder = tmp_path / "chromium"
    folder.mkdir()
    chromium = startChromium(folder, logs=("browser", "performance"))
    try:
        chromium.set_window_size(800, 600)
        chromium.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": 560, "height": 170, "deviceScaleFactor": 1, "mobile": False,
        })
        chromium.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CLOCK})
        yield chromium
    finally:
        chromium.quit()


# The test


def test_embedSnippetFollowsPresence(daemon, site, driver, tmp_path):
    """
    On a page of another origin, the generated snippet shows alice's button
    offline, and after she comes online, and then goes away, the next
    10-second refresh of the page's clock shows the new picture.
    """
    page = ButtonPage(driver, daemon, site)
    refresh = REFRESH_SECONDS * 1000
    driver.get(site.url)
    waitFor(lambda: page.image()["complete"], "the button to load", timeout=DEADLINE,
            diagnose=page.diagnose)
    image = page.image()
    assert image["src"].startswith(f"http://127.0.0.1:{daemon.httpPort}/status/{COMPANY}/{SLUG}.png"), image
    assert not image["src"].startswith(site.url), "the button must come from another origin"
    assert driver.execute_script("return window.__testClock.periods()") == [refresh]
    waitFor(lambda: page.shownState() == "offline", "the offline picture", timeout=DEADLINE,
            diagnose=page.diagnose)

    # Nothing changed: one period, one conditional request, a 304, and the
    # same picture, now from a blob: URL.
    assert page.advance(refresh - 1) == 0
    assert page.advance(1) == 1
    waitFor(lambda: page.blobState() == "offline", "the refreshed offline picture", timeout=DEADLINE,
            diagnose=page.diagnose)
    waitFor(lambda: page.refreshes() == ["200", "304"], "the refresh to cost a 304", timeout=DEADLINE,
            diagnose=page.diagnose)
    assert page.shownState() == "offline", page.diagnose()

    alice = Contact(*ALICE, daemon.port, daemon.certificate)
    try:
        waitFor(lambda: serverState(daemon) == "online", "the server to show alice online",
                timeout=DEADLINE, diagnose=lambda: serverState(daemon))
        # Until the page's clock moves, the page shows what it had.
        assert page.shownState() == "offline", page.diagnose()
        assert page.advance(refresh) == 1
        waitFor(lambda: page.shownState() == "online", "the online picture", timeout=DEADLINE,
                diagnose=page.diagnose)
        assert page.blobState() == "online", page.diagnose()
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        with open(os.path.join(screenshotDirectory(tmp_path), "status-button.png"), "wb") as f:
            f.write(base64.b64decode(shot["data"]))

        alice.call(lambda: alice.client.send_presence(pshow="away"))
        waitFor(lambda: serverState(daemon) == "away", "the server to show alice away",
                timeout=DEADLINE, diagnose=lambda: serverState(daemon))
        assert page.shownState() == "online", page.diagnose()
        assert page.advance(refresh) == 1
        waitFor(lambda: page.shownState() == "away", "the away picture", timeout=DEADLINE,
                diagnose=page.diagnose)
        assert page.blobState() == "away", page.diagnose()
        waitFor(lambda: page.refreshes() == ["200", "304", "200", "200"], "one request per refresh",
                timeout=DEADLINE, diagnose=page.diagnose)
    finally:
        alice.close()
