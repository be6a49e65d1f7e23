# -*- test-case-name: tests.test_tap -*-
"""
C{twistd openmessenger}: options, and the one place where everything is
built and wired together.
"""

import gc
import os
import signal
import socket
import sys
from urllib.parse import urlparse
from dataclasses import dataclass

from twisted.application import service
from twisted.application.internet import StreamServerEndpointService, TimerService
from twisted.internet import defer, endpoints
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python import usage

from openmessenger import __version__, control, tls
from openmessenger.config import Config, ConfigError, loadConfig
from openmessenger.directory import Directory, ensureDefaultCompany
from openmessenger.storage.interfaces import DirectorySnapshot
from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel.generic import FallbackHandler, VersionHandler
from wokkel.ping import PingHandler

from openmessenger.features.account import AccountHandler
from openmessenger.features.admin import adminCommands, operatorNotifier
from openmessenger.features.autoaway import AutoAwayHandler, AutoAwaySettingsCommand
from openmessenger.features.blocking import BlockingHandler
from openmessenger.features.carbons import CarbonsHandler
from openmessenger.features.companyboundary import CompanyBoundary
from openmessenger.features.commands import CommandsHandler
from openmessenger.features.delivery import DeliveryHandler
from openmessenger.features.disco import DiscoHandler
from openmessenger.features.entitytime import EntityTimeHandler
from openmessenger.features.private import PrivateStorageHandler
from openmessenger.features.privacy import PrivacyHandler
from openmessenger.features.registration import AccountSettingsHandler, Registration
from openmessenger.features.sharedroster import SharedRosterHandler
from openmessenger.features.vcard import VCardHandler
from openmessenger.features.lastactivity import LastActivityHandler, UptimeHandler
from openmessenger.features.offline import OfflineHandler
from openmessenger.features.presence import PresenceHandler
from openmessenger.features.roster import RosterHandler
from openmessenger.storage.sqlite import (
    SQLiteStore,
    UnusableDatabase,
    connectionPool,
    openDatabase,
    resultNow,
)
from openmessenger.visitorchat.component import VisitorDomain
from openmessenger.visitorchat.model import VISITORS
from openmessenger.visitorchat.service import VisitorChatService
from openmessenger.xmpp.domains import ServedDomains
from openmessenger.ratelimit import GuessingGuard
from openmessenger.web.admin.auth import LoginThrottle
from openmessenger.web.admin.routes import AdminRoutes
from openmessenger.web.demo import DemoResource
from openmessenger.web.pages import Pages
from openmessenger.web.root import makeSite
from openmessenger.web.status import StatusResource
from openmessenger.web.visitor import VisitorRoutes
from openmessenger.xmpp.accounts import AccountManager
from openmessenger.xmpp.availability import Availability
from openmessenger.xmpp.c2s import ClientFactory
from openmessenger.xmpp.localdomain import LocalDomain
from openmessenger.xmpp.requests import IQRequests
from openmessenger.xmpp.rosters import RosterManager
from openmessenger.xmpp.router import Router
from openmessenger.xmpp.sessions import SessionRegistry
from openmessenger.xmpp import events

log = Logger()


class Options(usage.Options):
    synopsis = "[--config FILE] [--verbose]"
    optParameters = [
        ["config", "c", "/etc/openmessenger/openmessenger.conf", "configuration file"]
    ]
    optFlags = [["verbose", "v", "log all XML traffic"]]

    def postOptions(self):
        self.config = loadConfig(self["config"])


def prepareDataDir(config):
    """
    Create the data directory (owner-only), the database schema and, unless
    the operator configured one, a self-signed certificate.

    @return: C{(certificate path, key path)}.
    """
    os.makedirs(config.server.data_dir, mode=0o700, exist_ok=True)
    certificate, key = config.tls.certificate, config.tls.private_key
    if not certificate:
        certificate, key = config.dataPath("server.crt"), config.dataPath("server.key")
        names = config.server.domain
        if config.companies.base_domain:
            names += (f"*.{config.companies.base_domain}",)
        if not os.path.exists(certificate) or tls.certificateNames(certificate) != list(names):
            tls.makeSelfSigned(certificate, key, names)
            log.info("Made a self-signed certificate for {names}: {path}", names=", ".join(names),
                     path=certificate)
    elif not key:
        raise ConfigError("[tls] private_key: required when certificate is set")
    return certificate, key


@dataclass
class StoredState:
    """
    What the server keeps in memory from the start: which accounts exist,
    and every block list.
    """

    accounts: set
    blockLists: dict
    directory: DirectorySnapshot


def loadState(config):
    """
    Bring the database schema up to date and read what is kept in memory,
    before the reactor runs (so a broken database stops start-up at once).
    """
    pool = openDatabase(config.databasePath)
    try:
        store = SQLiteStore(pool)
        company = ensureDefaultCompany(store, config.server.domain)
        if company is not None:
            log.info("Made the company {id} for {domains}", id=company.id, domains=", ".join(company.domains))
        return StoredState(
            set(resultNow(store.listAccounts())),
            resultNow(store.allBlockLists()),
            resultNow(store.loadDirectory()),
        )
    finally:
        pool.close()


@dataclass
class XMPPServer:
    """
    The XMPP side of the server, wired: what listeners, the control channel
    and (later) the web side need.
    """

    config: Config
    sessions: SessionRegistry
    router: Router
    domain: LocalDomain
    rosters: RosterManager
    accounts: AccountManager
    availability: Availability
    registration: Registration | None
    caps: object
    directory: Directory
    autoaway: AutoAwayHandler
    visitorChats: VisitorChatService
    domains: ServedDomains
    guard: GuessingGuard

    def clientFactory(self, tlsContext, clock, secret=None):
        return ClientFactory(
            self.domains, self.accounts, self.sessions, self.domain, tlsContext,
            self.config.c2s, clock, self.registration, self.config.stream_management,
            [self.caps], self.directory.mayLogIn, self.guard, secret,
        )


def assemble(store, config, clock, state=None):
    """
    Build the XMPP core and attach every feature to it.

    @param store: provides all storage interfaces.
    @param config: the L{Config}.
    @param clock: an L{IReactorTime}.
    @param state: the L{StoredState} read at start-up (none: empty).
    """
    state = state or StoredState(set(), {}, DirectorySnapshot())
    domains = ServedDomains(config.server.domain)
    sessions = SessionRegistry()
    router = Router()
    domain = LocalDomain(domains, sessions, router)
    router.follow(domains, domain)
    rosters = RosterManager(store, sessions, router.route, domain.fire)
    accounts = AccountManager(store, sessions, rosters, domains, domain.fire)
    accounts.names = state.accounts
    availability = Availability(sessions)
    directory = Directory(store, accounts, domains, domain.fire, config.companies.base_domain)
    directory.load(state.directory)
    domain.listen(events.ACCOUNT_DELETED, directory.accountDeleted)
    visitorChats = VisitorChatService(
        directory, availability, store, rosters, router.route, clock,
        answerTimeout=config.visitorchat.answer_timeout,
    )
    router.follow(domains, VisitorDomain(visitorChats, router.route), VISITORS)
    domain.listen(events.SHARED_CONTACTS, directory.addSharedContacts)
    domain.listen(events.SHARED_CONTACTS, visitorChats.addContacts)
    requests = IQRequests(clock)
    autoaway = AutoAwayHandler(
        store, requests, config.autoaway.away_after, config.autoaway.xa_after, clock,
        directory.autoAwayDefaults,
    )
    blocking = BlockingHandler(store, sessions, rosters, state.blockLists)
    for handler in [
        RosterHandler(rosters, config.roster.max_items, config.roster.max_item_size),
        PresenceHandler(rosters, sessions, accounts, store, availability, clock, config.roster.max_items),
        autoaway,
        VCardHandler(store, accounts, config.vcard.max_size),
        PrivateStorageHandler(store, config.private.max_size, config.private.max_documents),
        blocking,
        CompanyBoundary(directory),
        PrivacyHandler(store, blocking, sessions),
        CarbonsHandler(sessions),
        SharedRosterHandler(rosters, sessions),
        OfflineHandler(store, sessions, accounts, config.offline.max_messages, clock),
        LastActivityHandler(store, sessions, rosters, accounts, clock),
        AccountHandler(),
        DeliveryHandler(sessions, accounts),
        FallbackHandler(),
    ]:
        handler.setHandlerParent(domain.accounts)
    commands = CommandsHandler(clock)
    commands.register(AutoAwaySettingsCommand(autoaway, accounts))
    for command in adminCommands(config.server.admins, accounts, sessions):
        commands.register(command)
    discovery = DiscoHandler("OpenMessenger", also=domain.accounts)
    for handler in [
        discovery,
        requests,
        commands,
        AccountSettingsHandler(accounts),
        PingHandler(),
        VersionHandler("OpenMessenger", __version__),
        EntityTimeHandler(clock),
        UptimeHandler(clock),
        FallbackHandler(),
    ]:
        handler.setHandlerParent(domain.server)
    registration = None
    if config.registration.enabled:
        registration = Registration(
            accounts, config.registration.max_per_ip, config.registration.window, clock,
            reserved=config.server.admins,
        )
    # Every handler answers disco at once, so this has fired already.
    caps = discovery.caps(domains.primary).result
    guard = GuessingGuard(config.c2s.account_guesses, config.c2s.account_guess_window, clock)
    return XMPPServer(
        config, sessions, router, domain, rosters, accounts, availability, registration, caps,
        directory, autoaway, visitorChats, domains, guard,
    )


def makeService(options):
    """
    The whole server, or an exit with one line that says why it cannot
    start.
    """
    try:
        return buildService(options)
    except ConfigError as e:
        raise SystemExit(f"openmessenger: {e}") from None
    except UnusableDatabase as e:
        raise SystemExit(f"openmessenger: the database {options.config.databasePath} cannot be used: {e}") from None


def buildService(options):
    from twisted.internet import reactor

    config = options.config
    try:
        certificate, key = prepareDataDir(config)
        context = tls.ReloadableContext(certificate, key)
    except (OSError, tls.TLSError) as e:
        raise ConfigError(str(e)) from None
    state = loadState(config)

    pool = connectionPool(config.databasePath)
    store = SQLiteStore(pool)
    core = assemble(store, config, reactor, state)

    top = ServerService(core)
    PoolService(pool).setServiceParent(top)
    ReloadOnHangup(context, reactor).setServiceParent(top)
    purge = TimerService(86400, core.visitorChats.purge, config.visitorchat.retention_days)
    purge.clock = reactor
    purge.setServiceParent(top)
    clients = top.clients = core.clientFactory(context, reactor, secret(config.dataPath("server.secret")))
    clients.logTraffic = options["verbose"]
    top.listen(reactor, "c2s", config.c2s.endpoint, clients, "[c2s] endpoint")
    if config.c2s.direct_tls_endpoint:
        wrapped = TLSMemoryBIOFactory(context, False, clients)
        top.listen(
            reactor, "direct_tls", config.c2s.direct_tls_endpoint, wrapped,
            "[c2s] direct_tls_endpoint",
        )
    if config.http.endpoint:
        pages = Pages()
        admin = AdminRoutes(
            pages, core.accounts, core.directory, core.availability, config.server.admins,
            connectionInfo(config, certificate), core.autoaway, config.http.public_url, reactor,
            trustedProxies=config.http.trusted_proxies, transcripts=store,
            companies=config.companies, retentionDays=config.visitorchat.retention_days,
            notifyOperators=operatorNotifier(core.router.route, core.domains.primary, config.server.admins),
            loginThrottle=LoginThrottle(
                reactor, config.c2s.auth_failures, config.c2s.auth_failure_window, core.guard),
        )
        status = StatusResource(
            core.directory, core.availability, reactor, trustedProxies=config.http.trusted_proxies,
            maxStreams=config.http.max_event_streams,
            maxStreamsPerAddress=config.http.max_event_streams_per_address,
        )
        demo = DemoResource(pages, config.http.public_url)
        if admin.setupToken:
            log.info(
                "First start: set the password of the operator {operator} at "
                "{url}/admin/setup?token={token}",
                operator=sorted(config.server.admins)[0], url=config.http.public_url.rstrip("/"),
                token=admin.setupToken,
            )
        visitor = VisitorRoutes(pages, core.visitorChats, config.http.trusted_proxies)
        site = makeSite(admin, status, demo, visitor, config.http.max_body)
        top.listen(reactor, "http", config.http.endpoint, site, "[http] endpoint")
        if config.http.tls_endpoint:
            top.listen(
                reactor, "https", config.http.tls_endpoint, TLSMemoryBIOFactory(context, False, site),
                "[http] tls_endpoint",
            )
    claimControlSocket(config.controlSocket)
    controlEndpoint = endpoints.UNIXServerEndpoint(reactor, config.controlSocket, mode=0o600)
    top.addListener("control", controlEndpoint, control.ControlFactory(core.accounts, core.directory))

    log.info(
        "OpenMessenger {version} serving {domains}.  Clients connect to "
        "{endpoint} (STARTTLS) and {direct} (direct TLS).  Certificate SHA-256 "
        "fingerprint: {fingerprint}.  Create a user with: {ctl} --config "
        "{config} user add USER@{domain}",
        version=__version__,
        domains=", ".join(config.server.domain) + companyDomains(core.domains),
        endpoint=config.c2s.endpoint,
        direct=config.c2s.direct_tls_endpoint or "nothing",
        fingerprint=tls.fingerprint(certificate),
        ctl=_ctlCommand(),
        config=options["config"],
        domain=config.server.domain[0],
    )
    return top


def claimControlSocket(path):
    """
    Make way for the control socket at C{path}: one left behind by a server
    that was killed is removed, as is the PID lock earlier versions kept
    beside it (its PID may belong to another process by now, in a container
    always); one that answers belongs to a server still running on this data
    directory, and start-up stops.
    """
    lock = path + ".lock"
    if os.path.lexists(lock):
        os.unlink(lock)
    if not os.path.lexists(path):
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)
            return
    raise ConfigError(
        f"another OpenMessenger server is running on the data directory {os.path.dirname(path)} "
        f"(its control socket {path} answers); stop it first"
    )


def secret(path):
    """
    The server's secret bytes, kept in C{path} (owner-only), made on first
    start.
    """
    try:
        with open(path, "rb") as f:
            value = f.read()
        if len(value) == 32:
            return value
    except FileNotFoundError:
        pass
    # Written beside it and renamed: a start killed half-way leaves no
    # short secret behind.
    value = os.urandom(32)
    partial = path + ".new"
    with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(value)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)
    return value


def connectionInfo(config, certificate):
    """
    What the download page tells users about connecting.
    """
    def port(endpoint):
        parts = endpoint.split(":")
        return parts[1] if len(parts) > 1 and parts[1].isdigit() else ""

    host = urlparse(config.http.public_url).hostname or config.server.domain[0]
    return {
        "host": host,
        "port": port(config.c2s.endpoint),
        "tlsPort": port(config.c2s.direct_tls_endpoint),
        "fingerprint": tls.fingerprint(certificate),
    }


def _ctlCommand():
    """
    How to call openmessenger-ctl: by its full path when it sits beside this
    Python (in a virtualenv that is not on PATH).
    """
    beside = os.path.join(os.path.dirname(sys.executable), "openmessenger-ctl")
    return beside if os.path.exists(beside) else "openmessenger-ctl"


class ReloadOnHangup(service.Service):
    """
    Read the TLS certificate again on SIGHUP (after renewing it), for new
    XMPP and HTTPS connections alike.
    """

    def __init__(self, context, reactor):
        self.context = context
        self.reactor = reactor
        self.previous = None

    def startService(self):
        service.Service.startService(self)
        self.previous = signal.signal(signal.SIGHUP, self.hangup)

    def stopService(self):
        service.Service.stopService(self)
        if self.previous is not None:
            signal.signal(signal.SIGHUP, self.previous)

    def hangup(self, signum, frame):
        self.reactor.callFromThread(self.reload)

    def reload(self):
        if self.context.reload():
            log.info("Reloaded the TLS certificate {path}", path=self.context.certPath)
        else:
            log.error("Kept the old TLS certificate: {path} cannot be used", path=self.context.certPath)


class PoolService(service.Service):
    """
    Closes the database connection pool when the server stops.
    """

    def __init__(self, pool):
        self.pool = pool

    def stopService(self):
        service.Service.stopService(self)
        self.pool.close()


class ServerService(service.MultiService):
    """
    The whole server.  C{ports} maps each listener's name (C{"c2s"},
    C{"direct_tls"}, C{"control"}) to a Deferred that fires with its
    listening port once it listens (tests listen on port 0 and ask).

    @ivar core: the L{XMPPServer}.
    @ivar clients: the L{ClientFactory} of the client listeners.
    """

    clients = None

    def __init__(self, core, environ=os.environ):
        service.MultiService.__init__(self)
        self.core = core
        self.ports = {}
        self.environ = environ

    def stopService(self):
        """
        Clients first: each is told the server shuts down, and what they
        had not acknowledged is stored before the database closes.
        """
        d = self.clients.shutdown() if self.clients is not None else defer.succeed(None)
        return d.addCallback(lambda _: service.MultiService.stopService(self))

    def startService(self):
        service.MultiService.startService(self)
        listening = defer.gatherResults(list(self.ports.values()), consumeErrors=True)
        listening.addCallback(self.ready)
        listening.addErrback(lambda failure: None)  # start-up failed loudly already

    def ready(self, ports):
        """
        Every listener is up: set the start-up objects aside for the
        garbage collector, and tell the supervisor.
        """
        # Full collections stop the whole server for a time that grows with
        # the heap; the start-up objects (a third of it with 1,000 open
        # visitor chats) live for ever, so they need not be scanned again
        # (bench/visitors.py: round trip p99 at 50 lines/s 65 -> 22 ms).
        gc.collect()
        gc.freeze()
        notifyReady(self.environ.get("NOTIFY_SOCKET"))

    def listen(self, reactor, name, description, factory, where):
        try:
            endpoint = endpoints.serverFromString(reactor, description)
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"{where} = {description!r}: {e}") from None
        self.addListener(name, endpoint, factory)

    def addListener(self, name, endpoint, factory):
        self.ports[name] = listening = defer.Deferred()
        recording = _RecordingEndpoint(endpoint, listening)
        listener = StreamServerEndpointService(recording, factory)
        # As twisted.application.strports does: a port that cannot be bound
        # stops start-up with an error instead of a log line.
        listener._raiseSynchronously = True
        listener.setServiceParent(self)


def companyDomains(domains):
    """
    How many domains companies bring, for the start-up line.
    """
    brought = [d for d in domains if d not in domains.configured]
    return f" and {len(brought)} company domains" if brought else ""


def notifyReady(address):
    """
    Tell a supervisor that listens on C{address} (systemd's
    C{NOTIFY_SOCKET}, for C{Type=notify}) that every listener is up, so
    whatever depends on the server starts only then.
    """
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]  # Linux abstract namespace
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.sendto(b"READY=1", address)


class _RecordingEndpoint:
    def __init__(self, endpoint, listening):
        self.endpoint = endpoint
        self.listening = listening

    def listen(self, factory):
        d = self.endpoint.listen(factory)

        def listened(port):
            self.listening.callback(port)
            return port

        return d.addCallback(listened)
