"""
Tests for L{openmessenger.tap}: options, start-up preparation and the
service tree, without running a reactor.
"""

import gc
import os
import socket
import shutil
import tempfile

from twisted.application.internet import StreamServerEndpointService
from twisted.internet import defer, protocol
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from openmessenger import tap, tls
from openmessenger.config import parseConfig
from openmessenger.xmpp.domains import ServedDomains


def configFile(text=""):
    directory = tempfile.mkdtemp(prefix="om-tap-")
    path = os.path.join(directory, "om.conf")
    with open(path, "w") as f:
        f.write("[server]\ndomain = example.com, example.org\ndata_dir = data\n" + text)
    return path


class OptionsTests(SynchronousTestCase):
    def test_config(self):
        """
        C{--config} is read and validated while parsing options.
        """
        options = tap.Options()
        options.parseOptions(["--config", configFile()])
        self.assertEqual(options.config.server.domain, ("example.com", "example.org"))

    def test_badConfig(self):
        """
        A bad configuration stops option parsing with its message.
        """
        options = tap.Options()
        error = self.assertRaises(
            usage.UsageError, options.parseOptions, ["--config", configFile("[c2s]\nrequire_tls = perhaps\n")]
        )
        self.assertIn("[c2s] require_tls", str(error))


class MakeServiceTests(SynchronousTestCase):
    def makeService(self, text=""):
        options = tap.Options()
        options.parseOptions(["--config", configFile(text)])
        return options, tap.makeService(options)

    def test_services(self):
        """
        The service has the database pool and one listener each for STARTTLS,
        direct TLS, the web pages and the control socket.
        """
        options, top = self.makeService()
        self.assertEqual(sorted(top.ports), ["c2s", "control", "direct_tls", "http"])
        listeners = [s for s in top if isinstance(s, StreamServerEndpointService)]
        self.assertEqual(len(listeners), 4)
        self.assertEqual(list(top.core.domains), ["example.com", "example.org"])

    def test_firstStart(self):
        """
        The first start makes an owner-only data directory, the database and
        a self-signed certificate for every domain.
        """
        options, top = self.makeService()
        data = options.config.server.data_dir
        self.assertEqual(os.stat(data).st_mode & 0o777, 0o700)
        self.assertTrue(os.path.exists(os.path.join(data, "openmessenger.sqlite")))
        self.assertEqual(os.stat(os.path.join(data, "server.key")).st_mode & 0o777, 0o600)
        names = tls.certificateNames(os.path.join(data, "server.crt"))
        self.assertEqual(names, ["example.com", "example.org"])

    def test_certificateFollowsDomains(self):
        """
        The self-signed certificate is made again when the domains change,
        and covers the companies' automatic domains with a wildcard.
        """
        data = tempfile.mkdtemp(prefix="om-tap-")
        self.addCleanup(shutil.rmtree, data)
        config = parseConfig(f"[server]\ndomain = example.com\ndata_dir = {data}\n")
        certificate, _ = tap.prepareDataDir(config)
        self.assertEqual(tls.certificateNames(certificate), ["example.com"])
        fingerprint = tls.fingerprint(certificate)
        tap.prepareDataDir(config)
        self.assertEqual(tls.fingerprint(certificate), fingerprint)
        config = parseConfig(f"[server]\ndomain = example.com\ndata_dir = {data}\n"
                             "[companies]\nbase_domain = chat.example.com\n")
        tap.prepareDataDir(config)
        self.assertEqual(tls.certificateNames(certificate), ["example.com", "*.chat.example.com"])

    def test_startLineCountsCompanyDomains(self):
        """
        The start-up line names the configured domains and counts those
        companies brought.
        """
        domains = ServedDomains(("example.com",))
        self.assertEqual(tap.companyDomains(domains), "")
        domains.add("acme.chat.example.com")
        domains.add("beta.chat.example.com")
        self.assertEqual(tap.companyDomains(domains), " and 2 company domains")

    def test_noDirectTLS(self):
        """
        An empty C{direct_tls_endpoint} disables that listener.
        """
        options, top = self.makeService("[c2s]\ndirect_tls_endpoint =\n")
        self.assertNotIn("direct_tls", top.ports)

    def test_badEndpoint(self):
        """
        An endpoint Twisted cannot parse names its option.
        """
        options = tap.Options()
        options.parseOptions(["--config", configFile("[c2s]\nendpoint = tcp:notaport\n")])
        error = self.assertRaises(SystemExit, tap.makeService, options)
        self.assertIn("[c2s] endpoint", str(error))

    def test_unusableDatabase(self):
        """
        A file that is not a database stops start-up with one line naming
        it, not a traceback or a server that fails later.
        """
        path = configFile()
        data = os.path.join(os.path.dirname(path), "data")
        os.makedirs(data)
        with open(os.path.join(data, "openmessenger.sqlite"), "wb") as f:
            f.write(os.urandom(4096))
        options = tap.Options()
        options.parseOptions(["--config", path])
        error = self.assertRaises(SystemExit, tap.makeService, options)
        self.assertIn("openmessenger.sqlite cannot be used: it is not an SQLite database", str(error))

    def test_missingCertificate(self):
        """
        A configured certificate that does not exist stops start-up.
        """
        options = tap.Options()
        options.parseOptions(["--config", configFile("[tls]\ncertificate = /nonexistent.pem\nprivate_key = /nonexistent.key\n")])
        error = self.assertRaises(SystemExit, tap.makeService, options)
        self.assertIn("/nonexistent.pem", str(error))


class ReadinessTests(SynchronousTestCase):
    def test_notifyOnceListening(self):
        """
        With C{NOTIFY_SOCKET} set (systemd C{Type=notify}), the server sends
        C{READY=1} once every listener listens, not before; then it freezes
        the start-up heap.
        """
        path = os.path.join(tempfile.mkdtemp(prefix="om-notify-"), "notify")
        supervisor = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(supervisor.close)
        supervisor.bind(path)
        supervisor.setblocking(False)
        gc.unfreeze()  # whatever an earlier test froze
        self.addCleanup(gc.unfreeze)
        top = tap.ServerService(None, environ={"NOTIFY_SOCKET": path})
        ports = [defer.Deferred(), defer.Deferred()]
        for name, listening in zip(["c2s", "http"], ports):
            top.addListener(name, SlowEndpoint(listening), protocol.Factory())
        top.startService()
        ports[0].callback(object())
        self.assertRaises(BlockingIOError, supervisor.recv, 100)
        self.assertEqual(gc.get_freeze_count(), 0)
        ports[1].callback(object())
        self.assertEqual(supervisor.recv(100), b"READY=1")
        # The start-up objects are out of the garbage collector's way.
        self.assertGreater(gc.get_freeze_count(), 0)


class SlowEndpoint:
    def __init__(self, listening):
        self.listening = listening

    def listen(self, factory):
        return self.listening


class ControlSocketTests(SynchronousTestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.folder)
        self.path = os.path.join(self.folder, "control.sock")

    def test_staleSocketAndLockRemoved(self):
        """
        After a kill -9 the socket file stays, and an earlier version's PID
        lock may name a live process (here: this one): start-up removes both.
        """
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(self.path)
        stale.close()
        os.symlink(str(os.getpid()), self.path + ".lock")
        tap.claimControlSocket(self.path)
        self.assertFalse(os.path.lexists(self.path))
        self.assertFalse(os.path.lexists(self.path + ".lock"))

    def test_runningServerRefused(self):
        """
        A socket that answers belongs to a running server: a second one on
        the same data directory does not start.
        """
        live = socket.socket(socket.AF_UNIX)
        self.addCleanup(live.close)
        live.bind(self.path)
        live.listen(1)
        error = self.assertRaises(usage.UsageError, tap.claimControlSocket, self.path)
        self.assertIn("another OpenMessenger server is running", str(error))
        self.assertTrue(os.path.exists(self.path))


class SecretTests(SynchronousTestCase):
    def test_keptAndNeverShort(self):
        """
        The server's secret is made once (owner-only) and read back; a file
        cut short by a start killed half-way is made again.
        """
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        path = os.path.join(folder, "server.secret")
        first = tap.secret(path)
        self.assertEqual(len(first), 32)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertEqual(tap.secret(path), first)
        with open(path, "wb") as f:
            f.write(first[:5])
        again = tap.secret(path)
        self.assertEqual(len(again), 32)
        self.assertEqual(tap.secret(path), again)
