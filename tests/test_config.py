"""
Tests for L{openmessenger.config}.
"""

import os
from dataclasses import fields

from twisted.trial.unittest import SynchronousTestCase

from openmessenger import config

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "etc", "openmessenger.conf")


class SampleTests(SynchronousTestCase):
    def test_sampleEqualsDefaults(self):
        """
        The sample file lists every option with exactly the built-in default.
        """
        sample = config.loadConfig(SAMPLE)
        defaults = config.parseConfig("", base=os.path.dirname(os.path.abspath(SAMPLE)))
        self.assertEqual(sample, defaults)

    def test_sampleListsEveryOption(self):
        """
        Each declared option appears in the sample file.
        """
        with open(SAMPLE) as f:
            text = f.read()
        for section in config._SECTION_CLASSES.values():
            for option in fields(section):
                self.assertRegex(text, rf"(?m)^{option.name} =", option.name)

    def test_documented(self):
        """
        Each declared option has a row in docs/configuration.md.
        """
        with open(os.path.join(os.path.dirname(SAMPLE), "..", "docs", "configuration.md")) as f:
            text = f.read()
        for section in config._SECTION_CLASSES.values():
            for option in fields(section):
                self.assertIn(f"| `{option.name}` |", text, option.name)

    def test_requiredKeys(self):
        """
        The keys operators rely on exist with their documented defaults.
        """
        c = config.parseConfig("", base="/srv/om")
        self.assertEqual(c.server.domain, ("localhost",))
        self.assertEqual(c.server.data_dir, "/srv/om/var")
        self.assertEqual(c.c2s.endpoint, "tcp:5222")
        self.assertEqual(c.c2s.direct_tls_endpoint, "tcp:5223")
        self.assertTrue(c.c2s.require_tls)
        self.assertEqual(c.http.endpoint, "tcp:5280")
        self.assertEqual(c.http.public_url, "http://localhost:5280")


class ParseTests(SynchronousTestCase):
    def error(self, text):
        return str(self.assertRaises(config.ConfigError, config.parseConfig, text))

    def test_values(self):
        """
        Lists, booleans, numbers and paths are parsed; paths are relative to
        the file's folder.
        """
        c = config.parseConfig(
            "[server]\ndomain = Example.com, chat.example.com\ndata_dir = /var/lib/om\n"
            "admins = boss@example.com\n[c2s]\nrequire_tls = no\nmax_stanza_size = 1000\n"
            "[tls]\ncertificate = certs/x.pem ; comment\n",
            base="/etc/om",
        )
        self.assertEqual(c.server.domain, ("example.com", "chat.example.com"))
        self.assertEqual(c.server.data_dir, "/var/lib/om")
        self.assertEqual(c.server.admins, ("boss@example.com",))
        self.assertFalse(c.c2s.require_tls)
        self.assertEqual(c.c2s.max_stanza_size, 1000)
        self.assertEqual(c.tls.certificate, "/etc/om/certs/x.pem")
        self.assertEqual(c.databasePath, "/var/lib/om/openmessenger.sqlite")

    def test_errorsNameSectionAndKey(self):
        """
        A bad value stops with a message naming section, key and problem.
        """
        self.assertIn("[c2s] require_tls = 'maybe': must be true or false",
                      self.error("[c2s]\nrequire_tls = maybe\n"))
        self.assertIn("[offline] max_messages", self.error("[offline]\nmax_messages = -1\n"))
        self.assertIn("[offline] max_messages", self.error("[offline]\nmax_messages = lots\n"))
        self.assertIn("[server] domain", self.error("[server]\ndomain = a..b\n"))
        self.assertIn("[server] domain", self.error("[server]\ndomain = ,\n"))
        self.assertIn("[server] admins", self.error("[server]\nadmins = example.com\n"))

    def test_companyRegistrationNeedsBaseDomain(self):
        """
        Registered companies get automatic domains, so registration without
        a base domain is refused at start-up.
        """
        self.assertIn("needs base_domain", self.error("[companies]\nregistration = open\n"))
        self.assertIn("must be one of off, approval, open", self.error("[companies]\nregistration = yes\n"))
        self.assertIn("[companies] base_domain", self.error("[companies]\nbase_domain = a..b\n"))
        self.assertIn("[companies] max_per_ip", self.error("[companies]\nmax_per_ip = -1\n"))
        c = config.parseConfig("[companies]\nregistration = approval\nbase_domain = Chat.Example.com\n")
        self.assertEqual((c.companies.registration, c.companies.base_domain), ("approval", "chat.example.com"))

    def test_unknownNames(self):
        """
        Misspelt sections and keys are errors, not silently ignored.
        """
        self.assertIn("[sever]: unknown section", self.error("[sever]\ndomain = x\n"))
        self.assertIn("[c2s] endpiont: unknown option", self.error("[c2s]\nendpiont = tcp:1\n"))

    def test_notIni(self):
        """
        A file that is not INI is reported as such.
        """
        self.assertIn("not valid INI", self.error("domain = x\n"))

    def test_missingFile(self):
        """
        A missing file is reported with its path.
        """
        error = self.assertRaises(config.ConfigError, config.loadConfig, "/nonexistent/om.conf")
        self.assertIn("/nonexistent/om.conf", str(error))
