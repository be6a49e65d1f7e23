# -*- test-case-name: tests.test_config -*-
"""
The INI configuration file, read once into frozen, validated values.

Every option is declared here exactly once, with its type and default;
C{etc/openmessenger.conf} mirrors these declarations (a test keeps the two in
step).  A bad value raises L{ConfigError} naming the section, the key and the
problem, which C{twistd} and C{openmessenger-ctl} print before exiting.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, field, fields
from typing import Tuple

from twisted.python import usage

from openmessenger.xmpp import jids


class ConfigError(usage.UsageError):
    """
    A configuration value is missing, malformed or out of range.
    """


def _text(value: str) -> str:
    return value.strip()


def _integer(value: str) -> int:
    number = int(value.strip())
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _boolean(value: str) -> bool:
    states = configparser.ConfigParser.BOOLEAN_STATES
    try:
        return states[value.strip().lower()]
    except KeyError:
        raise ValueError("must be true or false") from None


def _optionalDomain(value: str) -> str:
    return jids.prepDomain(value.strip()) if value.strip() else ""


def _choice(*choices):
    def parse(value: str) -> str:
        if value.strip() not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value.strip()

    return parse


def _domains(value: str) -> Tuple[str, ...]:
    domains = tuple(jids.prepDomain(part) for part in _list(value))
    if not domains:
        raise ValueError("needs at least one domain")
    return domains


def _bareJIDs(value: str) -> Tuple[str, ...]:
    result = []
    for part in _list(value):
        address = jids.parse(part)
        if not address.user or address.resource:
            raise ValueError(f"{part!r} is not a bare JID (user@domain)")
        result.append(address.userhost())
    return tuple(result)


def _list(value: str) -> Tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def option(default: str, parse=_text, *, path: bool = False):
    """
    Declare an option: its default as written in the INI file, and a parser.

    @param path: the value is a file system path, taken relative to the
        configuration file's folder (or, for files inside the data
        directory, to C{data_dir}; see L{Config.dataPath}).
    """
    return field(default=default, metadata={"parse": parse, "path": path})


@dataclass(frozen=True)
class ServerSection:
    domain: Tuple[str, ...] = option("localhost", _domains)
    data_dir: str = option("var", path=True)
    admins: Tuple[str, ...] = option("", _bareJIDs)


@dataclass(frozen=True)
class C2SSection:
    endpoint: str = option("tcp:5222")
    direct_tls_endpoint: str = option("tcp:5223")
    require_tls: bool = option("true", _boolean)
    max_stanza_size: int = option("262144", _integer)
    max_stanza_size_before_auth: int = option("8192", _integer)
    auth_failures: int = option("5", _integer)
    auth_failure_window: int = option("60", _integer)
    account_guesses: int = option("20", _integer)
    account_guess_window: int = option("600", _integer)
    dead_peer_timeout: int = option("90", _integer)
    rate_bytes: int = option("10240", _integer)
    rate_stanzas: int = option("100", _integer)
    rate_burst: int = option("2", _integer)
    max_output_buffer: int = option("1048576", _integer)


@dataclass(frozen=True)
class AutoAwaySection:
    away_after: int = option("300", _integer)
    xa_after: int = option("1800", _integer)


@dataclass(frozen=True)
class RegistrationSection:
    enabled: bool = option("false", _boolean)
    max_per_ip: int = option("3", _integer)
    window: int = option("3600", _integer)


@dataclass(frozen=True)
class CompaniesSection:
    base_domain: str = option("", _optionalDomain)
    registration: str = option("off", _choice("off", "approval", "open"))
    max_per_ip: int = option("3", _integer)
    window: int = option("86400", _integer)


@dataclass(frozen=True)
class RosterSection:
    max_items: int = option("1000", _integer)
    max_item_size: int = option("4096", _integer)


@dataclass(frozen=True)
class PrivateSection:
    max_size: int = option("65536", _integer)
    max_documents: int = option("100", _integer)


@dataclass(frozen=True)
class VCardSection:
    max_size: int = option("65536", _integer)


@dataclass(frozen=True)
class StreamManagementSection:
    resume_timeout: int = option("300", _integer)
    max_unacked: int = option("1000", _integer)


@dataclass(frozen=True)
class VisitorChatSection:
    answer_timeout: int = option("120", _integer)
    retention_days: int = option("365", _integer)


@dataclass(frozen=True)
class TLSSection:
    certificate: str = option("", path=True)
    private_key: str = option("", path=True)


@dataclass(frozen=True)
class HTTPSection:
    endpoint: str = option("tcp:5280")
    tls_endpoint: str = option("")
    public_url: str = option("http://localhost:5280")
    trusted_proxies: Tuple[str, ...] = option("", _list)
    max_body: int = option("65536", _integer)
    max_event_streams: int = option("2000", _integer)
    max_event_streams_per_address: int = option("50", _integer)


@dataclass(frozen=True)
class StorageSection:
    database: str = option("openmessenger.sqlite")


@dataclass(frozen=True)
class OfflineSection:
    max_messages: int = option("100", _integer)


@dataclass(frozen=True)
class Config:
    """
    The whole configuration, one attribute per INI section.

    @ivar base: the folder of the configuration file; relative paths are
        taken from here.
    """

    server: ServerSection
    c2s: C2SSection
    tls: TLSSection
    http: HTTPSection
    storage: StorageSection
    offline: OfflineSection
    autoaway: AutoAwaySection
    registration: RegistrationSection
    companies: CompaniesSection
    roster: RosterSection
    private: PrivateSection
    vcard: VCardSection
    stream_management: StreamManagementSection
    visitorchat: VisitorChatSection
    base: str = "."

    def dataPath(self, name: str) -> str:
        """
        Resolve a file name inside the data directory (an absolute path stays).
        """
        return os.path.join(self.server.data_dir, name)

    @property
    def databasePath(self) -> str:
        return self.dataPath(self.storage.database)

    @property
    def controlSocket(self) -> str:
        return self.dataPath("control.sock")


_SECTION_CLASSES = {
    "server": ServerSection,
    "c2s": C2SSection,
    "tls": TLSSection,
    "http": HTTPSection,
    "storage": StorageSection,
    "offline": OfflineSection,
    "autoaway": AutoAwaySection,
    "registration": RegistrationSection,
    "companies": CompaniesSection,
    "roster": RosterSection,
    "private": PrivateSection,
    "vcard": VCardSection,
    "stream_management": StreamManagementSection,
    "visitorchat": VisitorChatSection,
}


def parseConfig(text: str, base: str = ".") -> Config:
    """
    Parse configuration text; relative paths are resolved against C{base}.

    @raise ConfigError: for an unknown section or key, or a bad value.
    """
    parser = configparser.ConfigParser(
        interpolation=None, inline_comment_prefixes=(";", "#")
    )
    try:
        parser.read_string(text)
    except configparser.Error as e:
        raise ConfigError(f"configuration file is not valid INI: {e}") from None
    sections = {}
    for name in parser.sections():
        if name not in _SECTION_CLASSES:
            raise ConfigError(f"[{name}]: unknown section")
    for name, cls in _SECTION_CLASSES.items():
        sections[name] = _parseSection(parser, name, cls, base)
    companies = sections["companies"]
    if companies.registration != "off" and not companies.base_domain:
        raise ConfigError(
            f"[companies] registration = {companies.registration}: needs base_domain "
            "(registered companies get <id>.<base_domain>)"
        )
    return Config(base=base, **sections)


def _parseSection(parser, name, cls, base):
    given = dict(parser.items(name)) if parser.has_section(name) else {}
    known = {f.name: f for f in fields(cls)}
    for key in given:
        if key not in known:
            raise ConfigError(f"[{name}] {key}: unknown option")
    values = {}
    for key, spec in known.items():
        raw = given.get(key, spec.default)
        try:
            value = spec.metadata["parse"](raw)
        except (ValueError, jids.InvalidJID) as e:
            raise ConfigError(f"[{name}] {key} = {raw!r}: {e}") from None
        if spec.metadata["path"] and value:
            value = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
        values[key] = value
    return cls(**values)


def loadConfig(path: str) -> Config:
    """
    Read and validate the configuration file at C{path}.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read configuration file {path}: {e.strerror}")
    return parseConfig(text, base=os.path.dirname(os.path.abspath(path)))
