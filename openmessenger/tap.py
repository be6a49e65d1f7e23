# -*- test-case-name: tests.test_tap -*-
"""
C{twistd openmessenger}: options, and the one place where everything is
built and wired together.
"""

import os

from twisted.application import service, strports
from twisted.application.internet import StreamServerEndpointService
from twisted.internet import endpoints
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python import usage

from openmessenger import __version__, control, tls
from openmessenger.config import ConfigError, loadConfig
from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel.generic import FallbackHandler, VersionHandler
from wokkel.ping import PingHandler

from openmessenger.features.delivery import DeliveryHandler
from openmessenger.features.lastactivity import LastActivityHandler, UptimeHandler
from openmessenger.features.offline import OfflineHandler
from openmessenger.features.presence import PresenceHandler
from openmessenger.features.roster import RosterHandler
from openmessenger.storage.sqlite import SQLiteStore, SynchronousPool, connectionPool
from openmessenger.xmpp.accounts import AccountManager
from openmessenger.xmpp.c2s import ClientFactory
from openmessenger.xmpp.localdomain import LocalDomain
from openmessenger.xmpp.rosters import RosterManager
from openmessenger.xmpp.router import Router
from openmessenger.xmpp.sessions import SessionRegistry

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
        if not os.path.exists(certificate):
            tls.makeSelfSigned(certificate, key, config.server.domain)
            log.info("Made a self-signed certificate: {path}", path=certificate)
    elif not key:
        raise ConfigError("[tls] private_key: required when certificate is set")
    return certificate, key


def loadAccounts(config):
    """
    Bring the database schema up to date and read the account list, before
    the reactor runs (so a broken database stops start-up at once).
    """
    pool = SynchronousPool(config.databasePath)
    store = SQLiteStore(pool)
    store.migrate()
    names = store.listAccounts()
    pool.close()
    return set(names.result)


def makeService(options):
    from twisted.internet import reactor

    config = options.config
    try:
        certificate, key = prepareDataDir(config)
        context = tls.serverContext(certificate, key)
    except (OSError, tls.TLSError) as e:
        raise ConfigError(str(e)) from None
    names = loadAccounts(config)

    store = SQLiteStore(connectionPool(config.databasePath))
    domains = config.server.domain
    sessions = SessionRegistry()
    router = Router()
    domain = LocalDomain(domains, sessions, router)
    rosters = RosterManager(store, sessions, router.route)
    accounts = AccountManager(store, sessions, rosters, domains)
    accounts.names = names

    for handler in [
        RosterHandler(rosters),
        PresenceHandler(rosters, sessions, accounts, store, reactor),
        OfflineHandler(store, sessions, accounts, config.offline.max_messages, reactor),
        LastActivityHandler(store, sessions, rosters, accounts, reactor),
        DeliveryHandler(sessions, accounts),
        FallbackHandler(),
    ]:
        handler.setHandlerParent(domain.accounts)
    for handler in [
        PingHandler(),
        VersionHandler("OpenMessenger", __version__),
        UptimeHandler(reactor),
        FallbackHandler(),
    ]:
        handler.setHandlerParent(domain.server)

    top = service.MultiService()
    clients = ClientFactory(domains, accounts, sessions, domain, context, config.c2s, reactor)
    clients.logTraffic = options["verbose"]
    listen(top, config.c2s.endpoint, clients, "[c2s] endpoint")
    if config.c2s.direct_tls_endpoint:
        wrapped = TLSMemoryBIOFactory(context, False, clients)
        listen(top, config.c2s.direct_tls_endpoint, wrapped, "[c2s] direct_tls_endpoint")
    controlEndpoint = endpoints.UNIXServerEndpoint(
        reactor, config.controlSocket, mode=0o600, wantPID=True
    )
    StreamServerEndpointService(
        controlEndpoint, control.ControlFactory(accounts)
    ).setServiceParent(top)

    log.info(
        "OpenMessenger {version} serving {domains}; certificate SHA-256 "
        "fingerprint {fingerprint}.  Create a user with: openmessenger-ctl "
        "--config {config} user add USER@{domain}",
        version=__version__,
        domains=", ".join(domains),
        fingerprint=tls.fingerprint(certificate),
        config=options["config"],
        domain=domains[0],
    )
    return top


def listen(parent, description, factory, where):
    try:
        strports.service(description, factory).setServiceParent(parent)
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{where} = {description!r}: {e}") from None
