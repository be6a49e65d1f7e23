"""
Tests for L{openmessenger.tls}.
"""

import os
import tempfile

from OpenSSL import SSL
from twisted.trial.unittest import SynchronousTestCase

from openmessenger import tls


class CertificateTests(SynchronousTestCase):
    def setUp(self):
        directory = tempfile.mkdtemp(prefix="om-tls-")
        self.cert = os.path.join(directory, "server.crt")
        self.key = os.path.join(directory, "server.key")
        tls.makeSelfSigned(self.cert, self.key, ["example.com", "chat.example.com"])

    def test_selfSigned(self):
        """
        The generated certificate names every domain; the key is owner-only.
        """
        self.assertEqual(tls.certificateNames(self.cert), ["example.com", "chat.example.com"])
        self.assertEqual(os.stat(self.key).st_mode & 0o777, 0o600)

    def test_fingerprint(self):
        """
        The fingerprint is 32 colon-separated hex bytes.
        """
        parts = tls.fingerprint(self.cert).split(":")
        self.assertEqual(len(parts), 32)
        self.assertTrue(all(len(p) == 2 and p == p.upper() for p in parts))

    def test_context(self):
        """
        The server context refuses renegotiation and anything below TLS 1.2.
        """
        context = tls.serverContext(self.cert, self.key).getContext()
        options = context.set_options(0)
        self.assertTrue(options & SSL.OP_NO_RENEGOTIATION)
        self.assertTrue(options & SSL.OP_NO_TLSv1_1)
        self.assertTrue(options & SSL.OP_NO_TLSv1)

    def test_chain(self):
        """
        A certificate file with intermediates after the server certificate
        is accepted.
        """
        with open(self.cert) as f:
            pem = f.read()
        with open(self.cert, "w") as f:
            f.write(pem + pem)
        tls.serverContext(self.cert, self.key).getContext()

    def test_wrongKey(self):
        """
        A key that does not match is reported.
        """
        other = self.key + ".other"
        tls.makeSelfSigned(self.cert + ".other", other, ["x.example"])
        self.assertRaises(Exception, tls.serverContext(self.cert, other).getContext)


class ReloadTests(SynchronousTestCase):
    def test_reload(self):
        """
        A renewed certificate is used after reloading; broken files keep the
        old one.
        """
        directory = tempfile.mkdtemp(prefix="om-tls-")
        cert, key = os.path.join(directory, "c.pem"), os.path.join(directory, "k.pem")
        tls.makeSelfSigned(cert, key, ["old.example"])
        context = tls.ReloadableContext(cert, key)
        old = context.current
        tls.makeSelfSigned(cert, key, ["new.example"])
        self.assertTrue(context.reload())
        self.assertIsNot(context.current, old)
        with open(cert, "w") as f:
            f.write("garbage")
        current = context.current
        self.assertFalse(context.reload())
        self.assertIs(context.current, current)
