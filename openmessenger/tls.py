# -*- test-case-name: tests.test_tls -*-
"""
The server's TLS certificate: load the operator's, or make a self-signed one
on first start, and build the server context (TLS 1.2 or newer, no
renegotiation, no compression).
"""

import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto
from twisted.internet import ssl
from twisted.internet.interfaces import IOpenSSLContextFactory
from zope.interface import implementer


class TLSError(Exception):
    """
    The certificate or key cannot be used.
    """


def makeSelfSigned(certPath, keyPath, domains, days=3650):
    """
    Write a new self-signed certificate for C{domains} and its private key
    (owner-only).
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domains[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    descriptor = os.open(keyPath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    with open(certPath, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))


def fingerprint(certPath):
    """
    The SHA-256 fingerprint of the (first) certificate in a PEM file, as
    colon-separated hex, as clients show it.
    """
    with open(certPath, "rb") as f:
        certificate = x509.load_pem_x509_certificate(f.read())
    digest = certificate.fingerprint(hashes.SHA256())
    return ":".join(f"{b:02X}" for b in digest)


def certificateNames(certPath):
    """
    The DNS names the (first) certificate in a PEM file is valid for.
    """
    with open(certPath, "rb") as f:
        certificate = x509.load_pem_x509_certificate(f.read())
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return names.value.get_values_for_type(x509.DNSName)


class _ServerOptions(ssl.CertificateOptions):
    def _makeContext(self, *args, **kwargs):
        context = ssl.CertificateOptions._makeContext(self, *args, **kwargs)
        # Renegotiation costs the server CPU on the client's whim (CVE-2021-32920).
        context.set_options(SSL.OP_NO_RENEGOTIATION)
        return context


def serverContext(certPath, keyPath):
    """
    The context factory for STARTTLS and direct TLS.  C{certPath} may hold a
    chain: the server certificate first, then intermediates.
    """
    try:
        with open(certPath, "rb") as f:
            chain = x509.load_pem_x509_certificates(f.read())
        with open(keyPath, "rb") as f:
            key = crypto.PKey.from_cryptography_key(
                serialization.load_pem_private_key(f.read(), password=None)
            )
    except (OSError, ValueError, TypeError) as e:
        raise TLSError(f"cannot load {certPath} / {keyPath}: {e}") from None
    certificates = [crypto.X509.from_cryptography(c) for c in chain]
    return _ServerOptions(
        privateKey=key,
        certificate=certificates[0],
        extraCertChain=certificates[1:],
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
    )


@implementer(IOpenSSLContextFactory)
class ReloadableContext:
    """
    A server context factory whose certificate can be read again (SIGHUP)
    without a restart: new connections use the new one.
    """

    def __init__(self, certPath, keyPath):
        self.certPath = certPath
        self.keyPath = keyPath
        self.current = serverContext(certPath, keyPath)

    def getContext(self):
        return self.current.getContext()

    def reload(self):
        """
        Read the files again; keep the old certificate if they are broken.

        @return: C{True} if the new certificate is in use.
        """
        try:
            fresh = serverContext(self.certPath, self.keyPath)
            fresh.getContext()
        except (TLSError, SSL.Error):
            return False
        self.current = fresh
        return True
