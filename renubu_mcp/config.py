"""Settings: one object, read once from the RENUBU_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

TOOLSETS = ("customers", "workflows", "docs", "features", "integrations")


# Every environment variable the server reads, with what it means: server.json declares exactly these
# (a test holds the two lists together), and `secret` marks the ones clients must treat as secrets.
ENVIRONMENT: dict[str, tuple[str, bool]] = {
    "RENUBU_DATABASE_URL": (
        "PostgreSQL URL of the serving login role (not superuser, no BYPASSRLS, owns no "
        "table); unset runs a private embedded PostgreSQL with demo data",
        True,
    ),
    "RENUBU_MIGRATION_DATABASE_URL": ("PostgreSQL URL of the schema owner, for `renubu-mcp db` commands", True),
    "RENUBU_LISTEN_DATABASE_URL": (
        "PostgreSQL URL (direct or session-pooled) on which the server LISTENs for "
        "changes, when RENUBU_DATABASE_URL goes through a transaction pooler",
        True,
    ),
    "RENUBU_DATA_DIR": ("Directory of the embedded PostgreSQL cluster and its keys", False),
    "RENUBU_USER_EMAIL": ("Email of the Renubu user a stdio server acts for", False),
    "RENUBU_ACCESS_TOKEN": ("A signed access token naming the user a stdio server acts for", True),
    "RENUBU_JWT_SECRET": ("HS256 secret that signs access tokens (Supabase's JWT secret)", True),
    "RENUBU_JWT_ISSUER": ("Required issuer (iss) of access tokens", False),
    "RENUBU_JWT_AUDIENCE": ("Required audience (aud) of access tokens", False),
    "RENUBU_JWKS_URL": ("JWKS URL of the identity provider, for RS256/ES256 access tokens", False),
    "RENUBU_TOKEN_ENCRYPTION_KEY": ("Key that encrypts integration secrets at rest (pgcrypto AES-256)", True),
    "RENUBU_TOKEN_ENCRYPTION_PREVIOUS_KEYS": (
        "Comma-separated keys that encrypted secrets before the current one: "
        "they only decrypt, until `renubu-mcp tokens rotate-key` is done",
        True,
    ),
    "RENUBU_REQUEST_STATE_KEY": (
        "Key (at least 32 characters) that seals the state of tool calls that ask the user "
        "something (2026-07-28 requestState); every replica must share it (unset: derived "
        "from RENUBU_TOKEN_ENCRYPTION_KEY)",
        True,
    ),
    "RENUBU_REQUEST_STATE_PREVIOUS_KEYS": (
        "Comma-separated keys that sealed request state before the current one: "
        "they still open it, for one 15-minute lifetime after a rotation",
        True,
    ),
    "RENUBU_READ_ONLY": ("true: offer no write tool and run every transaction read-only", False),
    "RENUBU_TOOLSETS": ("Comma-separated toolsets to offer: customers, workflows, docs, features, integrations", False),
    "RENUBU_STATEMENT_TIMEOUT_MS": ("Per-statement timeout inside each call, in milliseconds", False),
    "RENUBU_POOL_MAX_SIZE": ("Maximum database connections", False),
    "RENUBU_POOL_IDLE_SECONDS": ("Seconds an unused database connection stays open", False),
    "RENUBU_LOG_LEVEL": ("Log level (logs go to stderr)", False),
    "RENUBU_HOST": ("HTTP transport: address to bind", False),
    "RENUBU_PORT": ("HTTP transport: port", False),
    "RENUBU_PUBLIC_URL": ("How clients and OAuth providers reach this server; sets the OAuth redirect URI", False),
    "RENUBU_AUTH_SERVER_URL": (
        "External authorization server named in the protected resource metadata (unset: "
        "this server signs clients in itself)",
        False,
    ),
    "RENUBU_BUILTIN_AUTH_SERVER": (
        "HTTP: false turns off the built-in OAuth authorization server (sign-in page) when no external one is named",
        False,
    ),
    "RENUBU_ACCESS_TOKEN_TTL_SECONDS": (
        "Lifetime of the access tokens the built-in authorization server issues, in seconds",
        False,
    ),
    "RENUBU_REFRESH_TOKEN_TTL_DAYS": (
        "Lifetime of an unused refresh token from the built-in authorization server, in days",
        False,
    ),
    "RENUBU_ALLOWED_HOSTS": ("HTTP: extra Host header values to accept (comma-separated)", False),
    "RENUBU_ALLOWED_ORIGINS": ("HTTP: extra Origin header values to accept (comma-separated)", False),
}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and what is valid."""


def _default_data_dir() -> Path:
    if os.geteuid() == 0:
        # As root the cluster runs as the `postgres` user, which cannot enter /root.
        return Path("/var/lib/renubu-mcp")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "renubu-mcp"


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _switch(name: str, value: str | None, default: bool) -> bool:
    if value is None:
        return default
    word = value.strip().lower()
    if word not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
        raise ConfigError(f"RENUBU_{name} takes true or false, not {value!r}")
    return _flag(word)


def parse_toolsets(value: str | None) -> tuple[str, ...]:
    if not value or not value.strip():
        return TOOLSETS
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in TOOLSETS]
    if unknown:
        raise ConfigError(f"unknown toolset(s) {', '.join(unknown)}; valid: {', '.join(TOOLSETS)}")
    return names


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _sealing_key(name: str, value: str | None) -> str | None:
    """A key for AES-256-GCM sealing: at least 32 characters (a random one: `openssl rand -hex 32`)."""
    if value is not None and len(value.strip()) < 32:
        raise ConfigError(f"RENUBU_{name} must hold keys of at least 32 characters (e.g. `openssl rand -hex 32`)")
    return value.strip() if value is not None else None


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(value: str | None) -> str:
    level = (value or "WARNING").strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"RENUBU_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
    return level


def _whole_number(name: str, value: str | None, default: int, lowest: int, highest: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"RENUBU_{name} takes a whole number, not {value!r}") from None
    if not lowest <= number <= highest:
        raise ConfigError(f"RENUBU_{name} must be between {lowest} and {highest}, not {number}")
    return number


def _port(value: str | None) -> int:
    try:
        port = int(value or 8000)
    except ValueError:
        raise ConfigError(f"RENUBU_PORT must be a port number, not {value!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"RENUBU_PORT must be between 1 and 65535, not {port}")
    return port


@dataclass(frozen=True)
class Settings:
    # Where the server reads and writes as the non-owner login role; None means the embedded cluster.
    database_url: str | None = None
    # The owner connection used for migrations; defaults to database_url.
    migration_database_url: str | None = None
    # Where the server LISTENs for change notifications; defaults to database_url (unless that is a transaction
    # pooler, which cannot hold a LISTEN: then live notifications are off without it).
    listen_database_url: str | None = None
    data_dir: Path = field(default_factory=_default_data_dir)
    user_email: str | None = None
    access_token: str | None = field(default=None, repr=False)
    token_encryption_key: str | None = field(default=None, repr=False)
    # Keys that encrypted stored secrets before the current one: used only to decrypt rows they made, while
    # `renubu-mcp tokens rotate-key` moves those rows to the current key.
    token_encryption_previous_keys: tuple[str, ...] = field(default=(), repr=False)
    # Seal the state of calls that ask the user something (request_state.py); unset: derived from the token key.
    request_state_key: str | None = field(default=None, repr=False)
    request_state_previous_keys: tuple[str, ...] = field(default=(), repr=False)
    jwt_secret: str | None = field(default=None, repr=False)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwks_url: str | None = None
    # HTTP transport
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None  # how clients reach this server; default http://host:port
    auth_server_url: str | None = None  # an external authorization server, advertised in the resource metadata
    builtin_auth_server: bool = True  # without an external one, this server signs MCP clients in (authserver/)
    access_token_ttl_seconds: int = 3600
    refresh_token_ttl_days: int = 30
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    read_only: bool = False
    toolsets: tuple[str, ...] = TOOLSETS
    statement_timeout_ms: int = 15_000
    pool_max_size: int = 10
    pool_idle_seconds: int = 300
    log_level: str = "WARNING"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        get = lambda name: env.get(f"RENUBU_{name}") or None  # noqa: E731
        return cls(
            database_url=get("DATABASE_URL"),
            migration_database_url=get("MIGRATION_DATABASE_URL"),
            listen_database_url=get("LISTEN_DATABASE_URL"),
            data_dir=Path(data_dir).expanduser() if (data_dir := get("DATA_DIR")) else _default_data_dir(),
            user_email=get("USER_EMAIL"),
            access_token=get("ACCESS_TOKEN"),
            token_encryption_key=get("TOKEN_ENCRYPTION_KEY"),
            token_encryption_previous_keys=_list(get("TOKEN_ENCRYPTION_PREVIOUS_KEYS")),
            request_state_key=_sealing_key("REQUEST_STATE_KEY", get("REQUEST_STATE_KEY")),
            request_state_previous_keys=tuple(
                k.strip()
                for k in _list(get("REQUEST_STATE_PREVIOUS_KEYS"))
                if _sealing_key("REQUEST_STATE_PREVIOUS_KEYS", k)
            ),
            jwt_secret=get("JWT_SECRET"),
            jwt_issuer=get("JWT_ISSUER"),
            jwt_audience=get("JWT_AUDIENCE"),
            jwks_url=get("JWKS_URL"),
            host=get("HOST") or "127.0.0.1",
            port=_port(get("PORT")),
            public_url=(get("PUBLIC_URL") or "").rstrip("/") or None,
            auth_server_url=get("AUTH_SERVER_URL"),
            builtin_auth_server=_switch("BUILTIN_AUTH_SERVER", get("BUILTIN_AUTH_SERVER"), True),
            access_token_ttl_seconds=_whole_number(
                "ACCESS_TOKEN_TTL_SECONDS", get("ACCESS_TOKEN_TTL_SECONDS"), 3600, 60, 86_400
            ),
            refresh_token_ttl_days=_whole_number("REFRESH_TOKEN_TTL_DAYS", get("REFRESH_TOKEN_TTL_DAYS"), 30, 1, 365),
            allowed_hosts=_list(get("ALLOWED_HOSTS")),
            allowed_origins=_list(get("ALLOWED_ORIGINS")),
            read_only=_flag(get("READ_ONLY")),
            toolsets=parse_toolsets(get("TOOLSETS")),
            # PostgreSQL reads a statement timeout of 0 as "none"; here every call has a deadline.
            statement_timeout_ms=_whole_number(
                "STATEMENT_TIMEOUT_MS", get("STATEMENT_TIMEOUT_MS"), 15_000, 1, 86_400_000
            ),
            pool_max_size=_whole_number("POOL_MAX_SIZE", get("POOL_MAX_SIZE"), 10, 1, 1000),
            pool_idle_seconds=_whole_number("POOL_IDLE_SECONDS", get("POOL_IDLE_SECONDS"), 300, 1, 86_400),
            log_level=_log_level(get("LOG_LEVEL")),
        )

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def base_url(self) -> str:
        """The URL clients use to reach the HTTP server (RENUBU_PUBLIC_URL, else http://host:port)."""
        return self.public_url or f"http://{self.host}:{self.port}"
