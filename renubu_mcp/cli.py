"""The `renubu-mcp` command: `serve` (the default) and the `db` maintenance commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from . import __version__
from .config import ConfigError, Settings

if TYPE_CHECKING:
    from .migrate import MigrationStatus

log = logging.getLogger("renubu_mcp")


# --- serve ---------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    """Run the MCP server (stdio, or streamable HTTP); flags override RENUBU_* settings."""
    from dataclasses import replace

    from .config import parse_toolsets
    from .server import build_server

    settings = Settings.from_env()
    if getattr(args, "read_only", False):
        settings = replace(settings, read_only=True)
    if getattr(args, "toolsets", None):
        settings = replace(settings, toolsets=parse_toolsets(args.toolsets))
    if getattr(args, "transport", "stdio") != "http":
        from .runtime import exit_on_signals

        server = build_server(settings, oauth_callback_listener=True)
        if sys.stdin.isatty():
            _print_terminal_notice(settings)
        tune_garbage_collector()
        exit_on_signals()
        server.run("stdio")
        return 0

    import uvicorn

    from .http_app import build_http_app

    settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port)
    server = build_server(settings, transport="http")
    if settings.embedded:
        _print_local_welcome(settings)
    config = uvicorn.Config(
        build_http_app(server, settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    tune_garbage_collector()
    _draining_server(config).run()
    return 0


def tune_garbage_collector() -> None:
    """Set up the cyclic garbage collector for a long-running server, once everything is imported and built.

    With the defaults, full collections keep re-scanning the hundreds of thousands of objects that imports
    create (the SDK, pydantic's schemas, the tool registry): about 0.2 ms of CPU per tool call, a quarter of an
    echo call's cost. Freezing moves them out of the collector's view for good, and collecting young objects
    less often suits a server that allocates a few hundred objects per call (docs/performance.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


GRACEFUL_SHUTDOWN_SECONDS = 25  # in-flight calls get this long to finish after SIGTERM
# After SIGTERM, how long open keep-alive connections may still bring requests before idle ones are closed.
KEEP_ALIVE_GRACE_SECONDS = 0.5


def _draining_server(config):
    """A uvicorn server that drains in-flight calls on SIGTERM and then exits 0.

    Plain uvicorn re-raises the captured signal after draining, so a clean stop reports
    status 143; a supervisor should see a normal exit. And plain uvicorn closes every connection it
    sees idle the moment it starts shutting down, which drops a request a client had already sent on
    a keep-alive connection but the server had not read yet: the client gets a closed connection and
    no answer. So new connections are refused at once, but open ones are served for a short grace first.
    """
    import uvicorn

    class DrainingServer(uvicorn.Server):
        async def shutdown(self, sockets=None) -> None:
            from .live.subscriptions import end_all_streams

            for listener in self.servers:
                listener.close()  # refuse new connections now (uvicorn's own shutdown closes them again: a no-op)
            end_all_streams()  # a listen stream is a call that never finishes by itself: close it, gracefully
            await asyncio.sleep(KEEP_ALIVE_GRACE_SECONDS)
            await super().shutdown(sockets)

        @contextlib.contextmanager
        def capture_signals(self):
            with super().capture_signals():
                try:
                    yield
                finally:
                    self._captured_signals.clear()

    return DrainingServer(config)


def _print_terminal_notice(settings: Settings) -> None:
    """stdio started by hand in a terminal: say what the server is waiting for and how to connect a client, on
    stderr (stdout is the wire). A client's piped start never sees this."""
    import os
    import shlex

    from .demo import ALICE

    command = os.path.abspath(sys.argv[0]) if os.path.basename(sys.argv[0]) == "renubu-mcp" else "renubu-mcp"
    if settings.access_token:
        who = "the user in RENUBU_ACCESS_TOKEN"
    elif settings.user_email:
        who = settings.user_email
    else:
        who = f"{ALICE.email} (the demo user; RENUBU_USER_EMAIL picks another)"
    if settings.embedded:
        new = not (settings.data_dir / "pgdata" / "PG_VERSION").is_file()
        database = f"the embedded PostgreSQL in {settings.data_dir}" + (" (created now, with demo data)" if new else "")
    else:
        database = "the database in RENUBU_DATABASE_URL"
    print(
        f"renubu-mcp: serving MCP over stdio as {who}, on {database}.\n"
        f"It is waiting for an MCP client on stdin; this terminal is not one. Connect a client to this command:\n"
        f"  claude mcp add renubu -- {shlex.quote(command)}\n"
        f'  (Claude Desktop, VS Code and others: README.md, "Connecting a client"), or call a tool from a shell:\n'
        f'  {shlex.quote(command)} call search_customers \'{{"query": "acme"}}\'\n'
        f"Ctrl-C stops it.",
        file=sys.stderr,
        flush=True,
    )


def _print_local_welcome(settings: Settings) -> None:
    """On the embedded default: where the server is, a dev token per demo user, and a client config to paste."""
    import json

    from .auth import TokenRules, mint_token
    from .authserver import policy
    from .demo import DEMO_USERS
    from .embedded import EmbeddedCluster

    cluster = EmbeddedCluster(settings.data_dir)
    rules = TokenRules(settings.jwt_secret or cluster.jwt_secret(), settings.jwt_issuer, settings.jwt_audience)
    url = f"{settings.base_url}/mcp"
    tokens = {user.email: mint_token(rules, user.id, user.email, ttl_seconds=12 * 3600) for user in DEMO_USERS}
    print(f"renubu-mcp is serving MCP at {url} (demo data)\n")
    if policy.enabled(settings):
        print(f"Clients sign in by themselves: as any demo user, with the password {cluster.demo_password()}\n")
    print("Or send a token (valid 12 hours):")
    for email, token in tokens.items():
        print(f"  {email:<20} {token}")
    entry: dict = {"type": "http", "url": url}
    if not policy.enabled(settings):
        entry["headers"] = {"Authorization": f"Bearer {tokens['alice@example.com']}"}
    config = {"mcpServers": {"renubu": entry}}
    who = " (the client signs in)" if "headers" not in entry else " (as alice)"
    print(f"\nClient configuration{who}:\n" + json.dumps(config, indent=2), flush=True)


def _tools(args: argparse.Namespace) -> int:
    """List the tools this configuration offers, who is shown them, and what each costs the model (the bytes of its
    definition in tools/list, compact JSON; bytes / 4 is about tokens), with totals per toolset and role."""
    import json

    from .server import build_server, selected_tools
    from .tools.registry import audiences_of

    del args
    settings = Settings.from_env()
    server = build_server(settings)  # validates the configuration the same way serving does
    specs = list(selected_tools(settings))
    cost = {
        t.name: len(json.dumps(t.model_dump(by_alias=True, exclude_none=True, mode="json"), separators=(",", ":")))
        for t in asyncio.run(server.list_tools())
    }
    for spec in specs:
        kind = "read " if spec.read_only else "write"
        print(f"{spec.name:<26} {kind}  {spec.toolset:<13} {spec.audience:<15} {cost[spec.name]:>5} B  {spec.title}")
    print()
    for toolset in dict.fromkeys(spec.toolset for spec in specs):
        of_set = [cost[s.name] for s in specs if s.toolset == toolset]
        print(f"toolset {toolset:<13} {len(of_set):>3} tools {sum(of_set):>7} B")
    for role in ("admin", "pm", "csm"):
        shown = [cost[s.name] for s in specs if s.audience in audiences_of(role)]
        per_tool = sum(shown) // max(len(shown), 1)
        print(f"shown to {role:<12} {len(shown):>3} tools {sum(shown):>7} B  ({per_tool} B per tool)")
    return 0


def _call(args: argparse.Namespace) -> int:
    """Call one tool as the configured user and print its structured result as JSON."""
    import json

    try:
        arguments = json.loads(args.arguments)
    except json.JSONDecodeError as exc:
        raise ConfigError(f'ARGUMENTS must be a JSON object, e.g. \'{{"query": "acme"}}\' ({exc.msg})') from None
    if not isinstance(arguments, dict):
        raise ConfigError('ARGUMENTS must be a JSON object, e.g. \'{"query": "acme"}\'')
    result = asyncio.run(_call_tool(args.tool, arguments))
    if result.is_error:
        print(f"renubu-mcp: {result.content[0].text if result.content else 'the tool failed'}", file=sys.stderr)
        return 1
    print(json.dumps(result.structured_content, indent=2, default=str))
    return 0


async def _call_tool(tool: str, arguments: dict):
    from mcp import Client

    from .server import build_server

    async with Client(build_server(Settings.from_env())) as client:
        return await client.call_tool(tool, arguments)


def _token(args: argparse.Namespace) -> int:
    """Mint a signed access token for a user, with RENUBU_JWT_SECRET or the embedded default's secret."""
    from .auth import TokenRules, mint_token
    from .embedded import EmbeddedCluster

    settings = Settings.from_env()
    ttl = _parse_ttl(args.ttl)
    with _owner_dsn(settings) as dsn:
        user = asyncio.run(_find_user(dsn, args.email))
    if user is None:
        raise ConfigError(f"no Renubu user has the email {args.email!r}")
    secret = settings.jwt_secret or EmbeddedCluster(settings.data_dir).jwt_secret()
    print(mint_token(TokenRules(secret, settings.jwt_issuer, settings.jwt_audience), user[0], user[1], ttl))
    return 0


async def _find_user(dsn: str, email: str):
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow("SELECT id, email FROM public.find_user($1, NULL)", email)
    finally:
        await conn.close()
    return (row["id"], row["email"]) if row else None


def _parse_ttl(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
    except (ValueError, IndexError):
        raise ConfigError(f"--ttl takes a number with an optional unit s, m, h or d (e.g. 1h), not {text!r}") from None
    if not 0 < seconds <= 30 * 86400:
        raise ConfigError("--ttl must be between 1 second and 30 days")
    return seconds


# --- db ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _owner_dsn(settings: Settings) -> Iterator[str]:
    """The DSN migrations run as: the configured one, or the embedded cluster's owner (started for the command)."""
    configured = settings.migration_database_url or settings.database_url
    if configured:
        yield configured
        return
    from .embedded import EmbeddedCluster

    with EmbeddedCluster(settings.data_dir) as cluster:
        yield cluster.owner_dsn()


def _print_status_table(rows: Sequence[MigrationStatus]) -> None:
    header = ("VERSION", "NAME", "STATE", "APPLIED AT")
    table = [header] + [
        (r.version, r.name, r.state, r.applied_at.isoformat(timespec="seconds") if r.applied_at else "") for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        print("(no migrations)")


def _db(args: argparse.Namespace) -> int:
    from . import migrate as runner

    settings = Settings.from_env()
    with _owner_dsn(settings) as dsn:
        if args.db_command == "migrate":
            applied = asyncio.run(runner.migrate(dsn))
            print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))
        elif args.db_command == "rollback":
            undone = asyncio.run(runner.rollback(dsn, to=args.to))
            print(f"rolled back {len(undone)} migration(s)" + (f": {', '.join(undone)}" if undone else ""))
        elif args.db_command == "status":
            _print_status_table(asyncio.run(runner.status(dsn)))
        elif args.db_command == "seed":
            if not args.demo:
                raise ConfigError("say which seed to load: renubu-mcp db seed --demo")
            if args.remove:
                asyncio.run(runner.remove_demo(dsn))
                print("demo data removed")
                return 0
            password = _demo_password(settings)
            if asyncio.run(runner.seed_demo(dsn, demo_password=password)):
                print(f"demo data loaded; the demo users sign in with the password {password}")
            else:
                print("the demo data is loaded already; nothing changed")
    return 0


def _demo_password(settings: Settings) -> str:
    """The embedded cluster's demo password, or a new random one for another database (printed once)."""
    if settings.embedded:
        from .embedded import EmbeddedCluster

        return EmbeddedCluster(settings.data_dir).demo_password()
    import secrets

    return secrets.token_urlsafe(12)


def _users(args: argparse.Namespace) -> int:
    """Set the password a user signs in with (read from a prompt or stdin), as the schema owner."""
    from . import users

    settings = Settings.from_env()
    password = users.read_new_password()
    with _owner_dsn(settings) as dsn:
        user_id = asyncio.run(users.set_password(dsn, args.email, password))
    if user_id is None:
        raise ConfigError(f"no user has the email {args.email!r}; nothing was changed")
    print(f"password set for {args.email}")
    return 0


def _tokens(args: argparse.Namespace) -> int:
    """Re-encrypt every stored integration secret with the current key, as the schema owner, in batches."""
    import time
    from pathlib import Path

    from .oauth import rotation

    settings = Settings.from_env()
    plan = rotation.plan(settings, Path(args.new_key_file) if args.new_key_file else None)
    print(f"rotating integration secrets {rotation.fingerprints(plan.keys)}", flush=True)
    started = time.monotonic()
    with _owner_dsn(settings) as dsn:
        reports = asyncio.run(rotation.rotate(dsn, plan.keys, batch_size=args.batch_size))
    lines, complete = rotation.summary(reports, plan.keys, time.monotonic() - started)
    print("\n".join(lines))
    if complete:
        rotation.finish(plan)
    return 0 if complete else 1


# --- wiring --------------------------------------------------------------------------------------


def _first_leaf(exc: BaseException) -> BaseException:
    """The error that matters inside the task groups the server runs in (a start-up failure, say)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="renubu-mcp",
        description="MCP server for Renubu. Without a command it serves MCP over stdio.",
    )
    parser.add_argument("--version", action="version", version=f"renubu-mcp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the MCP server (the default)")
    serve.add_argument(
        "--transport", choices=["stdio", "http"], default="stdio", help="stdio (default), or streamable HTTP at /mcp"
    )
    serve.add_argument("--host", help="HTTP: address to bind (default 127.0.0.1, or RENUBU_HOST)")
    serve.add_argument("--port", type=int, help="HTTP: port (default 8000, or RENUBU_PORT)")
    serve.add_argument("--read-only", action="store_true", help="offer no write tool; run every transaction READ ONLY")
    serve.add_argument("--toolsets", metavar="LIST", help="comma-separated toolsets to offer, e.g. customers,docs")
    serve.set_defaults(handler=_serve)

    tools = commands.add_parser("tools", help="list the tools this configuration offers")
    tools.set_defaults(handler=_tools)
    call = commands.add_parser("call", help="call one tool as the configured user and print the result")
    call.add_argument("tool", help="the tool's name, e.g. search_customers")
    call.add_argument("arguments", nargs="?", default="{}", help="its arguments as a JSON object (default {})")
    call.set_defaults(handler=_call)

    token = commands.add_parser("token", help="mint a signed access token for a user (local use)")
    token.add_argument("--email", required=True, help="the user's email")
    token.add_argument("--ttl", default="1h", help="lifetime, e.g. 30m, 1h, 7d (default 1h)")
    token.set_defaults(handler=_token)

    db = commands.add_parser("db", help="database maintenance (runs as the schema owner)")
    db.set_defaults(handler=_db)
    db_commands = db.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)
    db_commands.add_parser("migrate", help="apply pending migrations")
    rollback = db_commands.add_parser("rollback", help="undo the latest migration, or all newer than --to")
    rollback.add_argument("--to", metavar="VERSION", help="roll back every migration newer than VERSION (0: all)")
    db_commands.add_parser("status", help="list migrations and whether each is applied")
    seed = db_commands.add_parser("seed", help="load seed data")
    seed.add_argument("--demo", action="store_true", help="load the demo data set")
    seed.add_argument("--remove", action="store_true", help="remove exactly what the demo seed inserted")

    users = commands.add_parser("users", help="users' sign-in passwords (runs as the schema owner)")
    users.set_defaults(handler=_users)
    users_commands = users.add_subparsers(dest="users_command", metavar="USERS_COMMAND", required=True)
    set_password = users_commands.add_parser(
        "set-password", help="set a user's password, read from a prompt or stdin (never the command line)"
    )
    set_password.add_argument("--email", required=True, help="the user's email")

    tokens = commands.add_parser("tokens", help="integration secrets at rest (runs as the schema owner)")
    tokens.set_defaults(handler=_tokens)
    tokens_commands = tokens.add_subparsers(dest="tokens_command", metavar="TOKENS_COMMAND", required=True)
    rotate = tokens_commands.add_parser(
        "rotate-key",
        help="re-encrypt every stored secret from RENUBU_TOKEN_ENCRYPTION_PREVIOUS_KEYS to "
        "RENUBU_TOKEN_ENCRYPTION_KEY (embedded default: to a new token.key)",
    )
    rotate.add_argument("--batch-size", type=int, default=500, help="rows per transaction (default 500)")
    rotate.add_argument("--new-key-file", metavar="PATH", help="embedded default: the new key (else one is made)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .environment import hold

    hold()  # a checkout's .venv: scripts/bootstrap must not reinstall it under this process
    args = build_parser().parse_args(argv)
    handler = getattr(args, "handler", _serve)  # bare `renubu-mcp` means serve
    try:
        settings_level = Settings.from_env().log_level
    except ConfigError as exc:
        print(f"renubu-mcp: {exc}", file=sys.stderr)
        return 1
    # stderr only: stdout is the MCP wire when serving.
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, settings_level, logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except Exception as raised:  # one line for people, no traceback; RENUBU_LOG_LEVEL=DEBUG shows it
        log.debug("command failed", exc_info=True)
        leaf = _first_leaf(raised)
        # PostgreSQL errors carry DETAIL/HINT lines worth keeping: fold them into the one line.
        message = " ".join(line.strip() for line in str(leaf).splitlines() if line.strip()) or type(leaf).__name__
        print(f"renubu-mcp: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
