"""
Tests for L{openmessenger.web.i18n}.
"""

import glob
import os
import re

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.directory import DirectoryError
from openmessenger.messages import Message, reason
from openmessenger.web import i18n

TEMPLATES = os.path.join(os.path.dirname(i18n.__file__), "templates")
ROUTES = os.path.join(os.path.dirname(i18n.__file__), "admin", "routes.py")
PACKAGE = os.path.dirname(os.path.dirname(i18n.__file__))


class NegotiateTests(SynchronousTestCase):
    def test_order(self):
        """
        The language asked for in the URL wins, then the cookie, then the
        browser's best-ranked language we have, then English.
        """
        self.assertEqual(i18n.negotiate("de", "en", "en"), "de")
        self.assertEqual(i18n.negotiate("fr", "de", "en"), "de")
        self.assertEqual(i18n.negotiate(None, None, "fr-FR, en;q=0.5, de-AT;q=0.8"), "de")
        self.assertEqual(i18n.negotiate(None, None, "de;q=0, en;q=0.1"), "en")
        self.assertEqual(i18n.negotiate(None, None, "de;q=bad, fr"), "en")
        self.assertEqual(i18n.negotiate(), "en")


class CatalogueTests(SynchronousTestCase):
    def test_everyTextHasGerman(self):
        """
        Every text a template translates, and every message the admin pages
        show, has a German entry.
        """
        texts = set()
        for path in glob.glob(os.path.join(TEMPLATES, "*.html")):
            with open(path, encoding="utf-8") as f:
                texts.update(re.findall(r'_\("((?:[^"\\]|\\.)*)"\)', f.read()))
        with open(ROUTES, encoding="utf-8") as f:
            source = f.read()
        texts.update(re.findall(r'(?:message=|message = |Form\(request, |ValueError\()"([^"]+)"', source))
        # What the directory and the account checks tell the pages.
        for path in glob.glob(os.path.join(PACKAGE, "**", "*.py"), recursive=True):
            with open(path, encoding="utf-8") as f:
                texts.update(re.findall(r'(?:DirectoryError|Message)\(\s*"((?:[^"\\]|\\.)*)"', f.read()))
        self.assertGreater(len(texts), 140)
        self.assertEqual(sorted(t for t in texts if t not in i18n.GERMAN), [])
        self.assertEqual(i18n.translator("de")("Users"), "Benutzerverwaltung")
        self.assertEqual(i18n.translator("en")("Users"), "Users")

    def test_messagesWithValues(self):
        """
        A message with values is shown in German with its values filled in
        the German text, and in English as raised.
        """
        message = Message("{id!r} is taken", id="acme")
        self.assertEqual(message, "'acme' is taken")
        self.assertEqual(i18n.translator("de")(message), "'acme' ist schon vergeben")
        self.assertEqual(i18n.translator("en")(message), "'acme' is taken")
        self.assertIs(reason(DirectoryError("{id!r} is taken", id="acme")).template, "{id!r} is taken")
        self.assertEqual(reason(ValueError("plain")), "plain")
        # Filled in already (as after the control channel): braces stay.
        self.assertEqual(i18n.translator("de")(Message("no group '{x}'")), "no group '{x}'")
