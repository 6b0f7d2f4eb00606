"""`DATABASE_URL` read as libpq (psql) reads a URI, with the parameters docs/contract.md §5 lists.

    postgresql://[user[:password]@][host[:port]][,host[:port]...][/database][?param=value&...]

Several hosts are tried in order (for a primary and its standbys, with `target_session_attrs`);
`host` in the query (a socket folder, or a list) and `port` (one, or one per host) replace those
of the authority, as in libpq. Every parameter is either a connection parameter (TLS, the
connect timeout, the hosts' choice) or one PostgreSQL applies at the session's start
(`application_name`, `options`); any other stops the start with one line naming it, so that no
parameter is ever sent to the server as a setting (asyncpg would send it: `?ssl=true` then fails
with "parameter ssl cannot be changed now", and PgBouncer refuses the connection).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlencode

from service.settings import ConfigurationError, database_url_of

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
SESSION_ATTRS = ("any", "read-write", "read-only", "primary", "standby", "prefer-standby")
# Node's `pg` spells TLS `ssl=true`; libpq's `sslmode` says more and wins where both are given.
_SSL_FLAG = {"true": "require", "1": "require", "false": "disable", "0": "disable"}
PARAMETERS = (
    "sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name",
    "options", "target_session_attrs", "host", "port", "ssl",
)  # fmt: skip
_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[^\]]*)\]|(?P<name>[^:]*))(?::(?P<port>[^:]*))?$")


def _refuse(reason: str) -> ConfigurationError:
    return ConfigurationError(f"DATABASE_URL {reason}")


def _port(text: str) -> int | None:
    if text == "":
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise _refuse(f"has a port that is not a number from 1 to 65535: {text!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """What a `DATABASE_URL` says, checked; `hosts[i]` is tried on `ports[i]` (None: 5432)."""

    hosts: tuple[str, ...]  # "" is libpq's default (the local socket); "/…" a socket folder
    ports: tuple[int | None, ...]
    user: str | None
    password: str | None
    database: str | None
    sslmode: str | None = None
    sslrootcert: str | None = None
    sslcert: str | None = None
    sslkey: str | None = None
    connect_timeout: int | None = None  # seconds per host, as in libpq; None: DB_CONNECT_TIMEOUT
    application_name: str | None = None
    options: str | None = None  # e.g. "-c search_path=erp", applied by the server at start
    target_session_attrs: str | None = None
    # The authority's hosts as written (for the label, which must stay as it always was).
    written_hosts: str = ""
    query_host: str | None = None

    @classmethod
    def parse(cls, text: str) -> DatabaseUrl:
        """The URL's parts, or ConfigurationError in one line (never repeating the URL)."""
        canonical = database_url_of(text)  # scheme and credentials: postgresql://user:pw@...
        rest = canonical.removeprefix("postgresql://")
        rest, _, query = rest.partition("?")
        rest = rest.partition("#")[0]
        authority, slash, path = rest.partition("/")
        userinfo, at, hostspec = authority.rpartition("@")
        user = password = None
        if at:
            name, colon, secret = userinfo.partition(":")
            user = unquote(name) or None
            password = unquote(secret) if colon and secret else None
        params = cls._query(query)
        hosts, ports = cls._hosts(hostspec)
        written = ",".join(f"{h}:{p}" if p else h for h, p in zip(hosts, ports, strict=True))
        if "host" in params:  # libpq: the query's host list replaces the authority's
            hosts = tuple(unquote(h) for h in params["host"].split(","))
            ports = (None,) * len(hosts)
        if "port" in params:
            given = tuple(_port(p) for p in params["port"].split(","))
            if len(given) == 1:
                ports = given * len(hosts)
            elif len(given) == len(hosts):
                ports = given
            else:
                raise _refuse(f"gives {len(given)} ports for {len(hosts)} hosts")
        return cls(
            hosts=hosts,
            ports=ports,
            user=user,
            password=password,
            database=unquote(path) if slash and path else None,
            sslmode=cls._sslmode(params),
            sslrootcert=params.get("sslrootcert"),
            sslcert=params.get("sslcert"),
            sslkey=params.get("sslkey"),
            connect_timeout=cls._timeout(params.get("connect_timeout")),
            application_name=params.get("application_name"),
            options=params.get("options"),
            target_session_attrs=cls._choice(params, "target_session_attrs", SESSION_ATTRS),
            written_hosts=written,
            query_host=params.get("host"),
        )

    @staticmethod
    def _query(query: str) -> dict[str, str]:
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
        except ValueError:
            raise _refuse("has a malformed query (expected ?name=value&name=value)") from None
        params: dict[str, str] = {}
        for name, value in pairs:
            if name not in PARAMETERS:
                raise _refuse(
                    f"has the parameter {name!r}, which this service does not take (it takes "
                    f"{', '.join(PARAMETERS)}): remove it"
                )
            params[name] = value
        return params

    @staticmethod
    def _hosts(hostspec: str) -> tuple[tuple[str, ...], tuple[int | None, ...]]:
        hosts: list[str] = []
        ports: list[int | None] = []
        for part in hostspec.split(","):
            match = _HOST_PORT.match(part)
            if match is None:
                raise _refuse(f"has a host that is not host[:port]: {unquote(part)!r}")
            hosts.append(unquote(match["v6"] if match["v6"] is not None else match["name"]))
            ports.append(_port(match["port"] or ""))
        if len(hosts) > 1 and "" in hosts:
            raise _refuse("has an empty host in its list of hosts")
        return tuple(hosts), tuple(ports)

    @staticmethod
    def _choice(params: dict[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
        value = params.get(name)
        if value is not None and value not in allowed:
            raise _refuse(f"has {name}={value!r}: it must be one of {', '.join(allowed)}")
        return value

    @classmethod
    def _sslmode(cls, params: dict[str, str]) -> str | None:
        mode = cls._choice(params, "sslmode", SSLMODES)
        if "ssl" in params:
            flag = _SSL_FLAG.get(params["ssl"].lower())
            if flag is None:
                raise _refuse(f"has ssl={params['ssl']!r}: it must be true or false")
            if mode is not None and (mode == "disable") != (flag == "disable"):
                raise _refuse(f"has ssl={params['ssl']} and sslmode={mode}, which disagree")
            return mode or flag
        return mode

    @staticmethod
    def _timeout(value: str | None) -> int | None:
        if value is None:
            return None
        if not value.strip().isdigit():
            raise _refuse(f"has connect_timeout={value!r}: it must be a whole number of seconds")
        seconds = int(value)
        # libpq: 0 waits forever (here: DB_CONNECT_TIMEOUT, never forever); 1 means 2.
        return None if seconds == 0 else max(seconds, 2)

    @property
    def label(self) -> str:
        """user@host[:port][,host[:port]]/database, never the password. Its text is the spool's
        key (it says which database a delivery was spooled for), so it is written exactly as it
        always was: the hosts as the URL's authority writes them, else the query's `host`."""
        where = self.written_hosts or self.query_host or "local socket"
        return f"{self.user or ''}@{where}/{self.database or ''}"

    @property
    def tls_params(self) -> dict[str, str]:
        """The TLS parameters, as libpq names them (asyncpg reads them so from a DSN)."""
        values = {
            "sslmode": self.sslmode,
            "sslrootcert": self.sslrootcert,
            "sslcert": self.sslcert,
            "sslkey": self.sslkey,
        }
        return {name: value for name, value in values.items() if value is not None}

    def tls_dsn(self) -> str | None:
        """A DSN with the TLS parameters only (asyncpg takes sslrootcert… from a DSN alone)."""
        params = self.tls_params
        return f"postgresql://?{urlencode(params)}" if params else None

    def startup_settings(self) -> dict[str, str]:
        """What the server applies at the session's start, as libpq sends it: application_name
        and options (PgBouncer passes application_name; `options` only where it is allowed)."""
        settings = {"application_name": self.application_name or "timemoto-pointage"}
        if self.options:
            settings["options"] = self.options
        return settings


def check_database_url(url: str | None) -> None:
    """At start: ConfigurationError in one line if DATABASE_URL is not one this service reads."""
    if url:
        DatabaseUrl.parse(url)
