"""
The administration pages, the status button and the visitor chat in a real
browser: headless Chromium, driven by Selenium through chromedriver, against
the real daemon.  Run them with C{make test-clients} (they carry the
C{clients} marker).  The tools they share are here.
"""

import base64
import shutil
import urllib.error
import urllib.request
from urllib.parse import urlencode, urlsplit

from tests.clients import requireTools

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait
except ImportError:  # pragma: no cover - reported by requireBrowser()
    webdriver = None

#: How long one page load, form submission or XMPP step may take.
DEADLINE = 30

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

PHONE = (375, 667)
DESKTOP = (1280, 800)


def requireBrowser():
    """
    Skip when Chromium, chromedriver or Selenium is missing; fail instead
    under C{CI=true}, where they must be there.
    """
    if webdriver is None:
        requireTools("selenium", hint="pip install -e '.[test]'")
    requireTools("chromium", "chromedriver", hint="apt-get install chromium chromium-driver")


def startChromium(folder, logs=()):
    """
    Headless Chromium through chromedriver, with a fresh profile in
    C{folder}, speaking English, waiting at most L{DEADLINE} for a page or a
    script; C{logs}: the Chrome logs to keep ("browser", "performance").
    """
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={folder / 'profile'}")
    options.add_argument("--lang=en-US")
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    # An alert must stay open for a test to see it.
    options.unhandled_prompt_behavior = "ignore"
    if logs:
        options.set_capability("goog:loggingPrefs", {kind: "ALL" for kind in logs})
    service = Service(shutil.which("chromedriver"), log_output=str(folder / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(DEADLINE)
    driver.set_script_timeout(DEADLINE)
    return driver


class Browser:
    """
    A Chromium session on the daemon's web port, with the few things the
    tests do: open a page, fill and submit a form, measure the layout.
    """

    def __init__(self, driver, base):
        self.driver = driver
        self.base = base

    def url(self, path, lang="en"):
        return self.base + path + ("&" if "?" in path else "?") + urlencode({"lang": lang})

    def open(self, path, lang="en"):
        """
        Load a page (in C{lang}, which also sets the language cookie for the
        answers to form posts) and check that it is one of ours.
        """
        self.driver.get(self.url(path, lang))
        self.waitLoaded()
        self.checkPage()

    def waitLoaded(self):
        WebDriverWait(self.driver, DEADLINE).until(
            lambda d: d.execute_script("return document.readyState") == "complete",
            f"{self.driver.current_url} to load",
        )

    def checkPage(self):
        """
        The page has our layout (no server error page) and is not an error
        message.
        """
        mains = self.driver.find_elements(By.TAG_NAME, "main")
        assert mains, f"{self.driver.current_url} is not an admin page:\n{self.text()}"

    @property
    def path(self):
        return urlsplit(self.driver.current_url).path

    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def mainText(self):
        return self.driver.find_element(By.TAG_NAME, "main").text

    def message(self):
        messages = self.driver.find_elements(By.CSS_SELECTOR, "main .message, main .error")
        return messages[0].text if messages else None

    def form(self, action):
        """
        The form that posts to the path C{action}.
        """
        for form in self.driver.find_elements(By.TAG_NAME, "form"):
            if urlsplit(form.get_attribute("action")).path == action:
                return form
        raise AssertionError(f"no form posting to {action} on {self.driver.current_url}:\n{self.text()}")

    def submit(self, action, values):
        """
        Fill the form that posts to C{action} (text fields by name; C{True}
        or C{False} for check boxes), press its submit button, and wait for
        the answer.
        """
        form = self.form(action)
        for name, value in values.items():
            field = form.find_element(By.NAME, name)
            if isinstance(value, bool):
                if field.is_selected() != value:
                    field.click()
            else:
                field.clear()
                field.send_keys(value)
        self.markPage()
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.waitNewPage(f"the answer to the form posting to {action} (did the browser refuse to send it?)")

    def markPage(self):
        """
        Mark the current document, so a new one can be told apart.
        """
        self.driver.execute_script("window.__oldPage = true;")

    def waitNewPage(self, what):
        """
        Wait until another document has replaced the marked one, and check
        it.  (Asking the browser about an element of the old document, as
        staleness checks do, can fail outright while it is being replaced.)
        """
        def replaced(driver):
            try:
                return driver.execute_script("return window.__oldPage === undefined;")
            except WebDriverException:
                return False

        WebDriverWait(self.driver, DEADLINE).until(replaced, what)
        self.waitLoaded()
        self.checkPage()

    def follow(self, link):
        """
        Click the link with the text C{link} and wait for its page.
        """
        self.markPage()
        self.driver.find_element(By.LINK_TEXT, link).click()
        self.waitNewPage(f"the page behind the link {link!r}")

    def resize(self, width, height):
        """
        Make the viewport exactly C{width} x C{height} CSS pixels (a window
        alone cannot be narrower than 500 px).
        """
        self.driver.set_window_size(max(width, 500), height)
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False,
        })
        assert self.driver.execute_script("return window.innerWidth") == width

    def overflow(self):
        """
        C{None} when the page has no horizontal scrolling, else what sticks
        out: the widths and the outermost elements reaching past the right
        edge.
        """
        return self.driver.execute_script("""
            const width = window.innerWidth;
            const scrollWidth = document.documentElement.scrollWidth;
            if (scrollWidth <= width) return null;
            const wide = [];
            for (const element of document.body.querySelectorAll('*')) {
                const box = element.getBoundingClientRect();
                if (box.right > width + 0.5 && !wide.some(w => w.element.contains(element))) {
                    wide.push({element: element, right: Math.round(box.right)});
                }
            }
            const describe = w => {
                const e = w.element;
                const name = e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')
                    + (e.name ? '[name=' + e.name + ']' : '');
                return `${name} "${(e.innerText || e.value || '').trim().slice(0, 60)}" right edge ${w.right}px`;
            };
            return `scrollWidth ${scrollWidth} > innerWidth ${width}; past the edge: `
                + wide.slice(0, 5).map(describe).join('; ');
        """)

    def screenshot(self, path):
        """
        Save the whole page (not only the viewport) as a PNG.
        """
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        width = self.driver.execute_script("return window.innerWidth")
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1},
        })
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))

    def fetch(self, path):
        """
        The status and HTML of a page as the server sent them, fetched with
        the browser's cookies (what "view source" shows).
        """
        cookies = "; ".join(f"{c['name']}={c['value']}" for c in self.driver.get_cookies())
        request = urllib.request.Request(self.url(path), headers={"cookie": cookies})
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=DEADLINE) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")

    def alert(self):
        """
        The text of an open alert dialog, or C{None}.
        """
        try:
            return self.driver.switch_to.alert.text
        except NoAlertPresentException:
            return None


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
