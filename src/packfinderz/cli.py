"""The `packfinderz` command: api, worker, migrate, dev, version (bin/* are thin shims over it)."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError

from packfinderz import __version__
from packfinderz.analytics.cli import analytics_app
from packfinderz.auth.cli import users_app
from packfinderz.catalog.cli import seed as seed_command
from packfinderz.config import ConfigError, Settings, load_settings
from packfinderz.cron.cli import cron_app
from packfinderz.events.cli import outbox_app
from packfinderz.kit import migrations
from packfinderz.kit.boot import process_settings
from packfinderz.kit.logging import get_logger
from packfinderz.smoke import smoke as smoke_command

app = typer.Typer(no_args_is_help=True, add_completion=False, help="PackFinderz backend.")
migrate_app = typer.Typer(no_args_is_help=True, help="Schema migrations (platform.md §4).")
app.add_typer(migrate_app, name="migrate")
app.add_typer(outbox_app, name="outbox")
app.add_typer(cron_app, name="cron")
app.add_typer(users_app, name="users")
app.add_typer(analytics_app, name="analytics")
app.command("seed")(seed_command)
app.command("smoke")(smoke_command)

EXIT_UNREACHABLE = 2


# --- api / worker ---------------------------------------------------------------------------------


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "0.0.0.0",
    reload: Annotated[bool, typer.Option(help="Reload on code changes (dev).")] = False,
) -> None:
    """Serve HTTP on $PORT: uvicorn in dev/test, gunicorn with uvicorn workers in prod."""
    settings = process_settings({"db", "app"}, "api")
    if settings.is_prod:
        _exec_gunicorn(settings, host)
    import uvicorn

    try:
        uvicorn.run(
            "packfinderz.app:app_factory",
            factory=True,
            host=host,
            port=settings.app_port,
            reload=reload,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=25,
        )
    except SystemExit as exc:
        # uvicorn exits 3 when the lifespan fails (startup.failed is already logged); ours is exit 1.
        if exc.code:
            raise typer.Exit(1) from None
        raise


def _exec_gunicorn(settings: Settings, host: str) -> NoReturn:
    workers = max(settings.web_concurrency, 1)
    if workers > 1:
        folder = Path(settings.prometheus_multiproc_dir)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        # The workers share one listening socket, and a uvloop worker otherwise accepts every pending
        # connection at once: a burst of keep-alive clients (a router's pool) lands on one worker and
        # leaves the others idle (measured with 32 clients and 2 workers: 32/0, 31/1, 32/0; with this,
        # between 28/4 and 15/17 over 6 runs).
        # libuv then pauses after each accept so that the other workers get their turn.
        os.environ.setdefault("UV_TCP_SINGLE_ACCEPT", "1")
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{settings.app_port}",
        "--workers",
        str(workers),
        "--worker-class",
        "packfinderz.kit.gunicorn_worker.DrainingUvicornWorker",
        "--graceful-timeout",
        "25",
        "--timeout",
        "30",
        "--keep-alive",
        "5",
        "--access-logfile",
        "-" if settings.log_level == "debug" else "/dev/null",
        "--logger-class",
        "packfinderz.kit.gunicorn_logging.JsonLogger",
        "--no-control-socket",  # unused, and it needs a writable home directory
        "packfinderz.app:app_factory()",
    ]
    os.execv(sys.executable, args)


@app.command()
def worker(
    roles: Annotated[str | None, typer.Option(help="Comma list of roles: consumers,relay,cron.")] = None,
) -> None:
    """Run the worker: consumers, outbox relay and cron scheduler (PACKFINDERZ_WORKER_ROLES)."""
    settings = process_settings({"db", "app"}, "worker")
    from packfinderz.worker.runner import UnknownRole, parse_roles, run_worker

    try:
        role_list = parse_roles(roles or settings.worker_roles)
    except UnknownRole as exc:
        get_logger("startup").error(
            "startup.config_invalid", variables=["PACKFINDERZ_WORKER_ROLES"], problems=[str(exc)]
        )
        raise typer.Exit(1) from None
    raise typer.Exit(asyncio.run(run_worker(settings, role_list)))


# --- migrate --------------------------------------------------------------------------------------


def _db_url() -> str:
    try:
        settings = load_settings({"db"})
    except ConfigError as exc:
        typer.echo(f"migrate: {exc}", err=True)
        raise typer.Exit(1) from None
    assert settings.database_url is not None
    return settings.database_url


def _run_db_command(action: str, fn: object) -> None:
    """Run a migration step, mapping an unreachable database to exit 2 and other failures to 1."""
    assert callable(fn)
    try:
        fn()
    except (OSError, TimeoutError) as exc:
        typer.echo(f"migrate {action}: {_unreachable(exc)}", err=True)
        raise typer.Exit(EXIT_UNREACHABLE) from None
    except migrations.MigrationError as exc:
        typer.echo(f"migrate {action}: {exc}", err=True)
        raise typer.Exit(1) from None
    except Exception as exc:
        if _is_connection_error(exc):
            typer.echo(f"migrate {action}: {_unreachable(exc)}", err=True)
            raise typer.Exit(EXIT_UNREACHABLE) from None
        typer.echo(
            f"migrate {action}: failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}", err=True
        )
        raise typer.Exit(1) from None


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in found):
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _unreachable(exc: BaseException) -> str:
    """The one line for a database that cannot be reached, naming the cause and fix when it is TLS."""
    if any("rejected SSL upgrade" in str(link) for link in _chain(exc)):
        # asyncpg's words when the URL requires TLS (prod adds sslmode=require to a URL without one)
        # and the server does not offer it.
        return (
            "database unreachable: the server does not accept TLS but the URL requires it "
            "(APP_ENV=prod adds sslmode=require when DATABASE_URL names no sslmode); "
            "for a server without TLS add ?sslmode=disable to DATABASE_URL"
        )
    return f"database unreachable ({type(exc).__name__})"


def _is_connection_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError | TimeoutError | ConnectionError):
            return True
        name = type(current).__name__
        if name in ("CannotConnectNowError", "ConnectionDoesNotExistError", "InvalidCatalogNameError"):
            return True
        current = current.__cause__ or current.__context__
    return False


def _current(url: str) -> str | None:
    async def read() -> str | None:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url, connect_args={"timeout": 5})
        try:
            async with engine.connect() as connection:
                return await migrations.current_revision(connection)
        finally:
            await engine.dispose()

    return asyncio.run(read())


@migrate_app.command("up")
def migrate_up() -> None:
    """Apply every pending migration, one transaction each."""
    url = _db_url()

    def run() -> None:
        before = migrations.status_for(_current(url))
        if not before.pending:
            typer.echo(f"nothing to apply: at head {before.head}")
            return
        migrations.upgrade(url, "head", typer.echo)
        typer.echo(f"at head {before.head} ({len(before.pending)} applied)")

    _run_db_command("up", run)


@migrate_app.command("down")
def migrate_down(
    n: Annotated[int | None, typer.Argument(help="How many revisions to roll back.")] = None,
    steps: Annotated[int, typer.Option("--steps", help="How many revisions to roll back.")] = 1,
) -> None:
    """Roll back the newest N revisions (default 1)."""
    count = n if n is not None else steps
    if count < 1:
        typer.echo("migrate down: N must be >= 1", err=True)
        raise typer.Exit(1)
    url = _db_url()

    def run() -> None:
        status = migrations.status_for(_current(url))
        if status.current is None:
            typer.echo("nothing to roll back")
            return
        if status.state == "ahead":
            raise migrations.MigrationError(f"database revision {status.current} is unknown to this code")
        count_applied = len(status.applied)
        target = "base" if count >= count_applied else status.applied[count_applied - count - 1]
        migrations.downgrade(url, target, typer.echo)
        typer.echo(f"now at {target if target != 'base' else 'base (empty schema)'}")

    _run_db_command("down", run)


@migrate_app.command("status")
def migrate_status() -> None:
    """List every revision as applied or pending, marking current and head."""
    url = _db_url()

    def run() -> None:
        status = migrations.status_for(_current(url))
        typer.echo(f"current: {status.current or 'base'}")
        typer.echo(f"head:    {status.head or '-'}")
        typer.echo(f"state:   {status.state}")
        for revision in migrations.revision_chain():
            mark = "applied" if revision in status.applied else "pending"
            tags = [
                t
                for t, on in (("current", revision == status.current), ("head", revision == status.head))
                if on
            ]
            typer.echo(f"  {revision}  {mark:8}{'  (' + ', '.join(tags) + ')' if tags else ''}".rstrip())
        if status.pending:
            typer.echo(f"pending: {len(status.pending)} ({', '.join(status.pending)})")

    _run_db_command("status", run)


@migrate_app.command("version")
def migrate_version(
    target: Annotated[str | None, typer.Argument(help="14-digit revision to move to.")] = None,
) -> None:
    """Without TARGET print current and head; with TARGET migrate up or down to it."""
    if target is not None and (
        not migrations.REVISION_RE.match(target) or target not in migrations.revision_chain()
    ):
        typer.echo(f"migrate version: unknown revision {target}", err=True)
        raise typer.Exit(1)
    url = _db_url()

    def run() -> None:
        status = migrations.status_for(_current(url))
        if target is None:
            typer.echo(f"current: {status.current or 'base'}")
            typer.echo(f"head:    {status.head or '-'}")
            return
        if status.current == target:
            typer.echo(f"already at {target}")
        elif target in status.pending:
            migrations.upgrade(url, target, typer.echo)
        else:
            migrations.downgrade(url, target, typer.echo)
        typer.echo(f"now at {target}")

    _run_db_command("version", run)


@migrate_app.command("create")
def migrate_create(name: Annotated[str, typer.Argument(help="What the migration does.")]) -> None:
    """Write a new empty revision after the current head."""
    try:
        path = migrations.create(name)
    except migrations.MigrationError as exc:
        typer.echo(f"migrate create: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created migration: {path}")


@migrate_app.command("validate")
def migrate_validate() -> None:
    """Check file names, revision ids and that the chain is linear with one head."""
    try:
        problems = migrations.validate()
    except migrations.MigrationError as exc:
        typer.echo(f"migrate validate: {exc}", err=True)
        raise typer.Exit(1) from None
    if problems:
        for problem in problems:
            typer.echo(f"invalid: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo("migration validation passed")


# --- version / dev --------------------------------------------------------------------------------


def git_revision() -> str | None:
    """The deployed commit: Heroku's SOURCE_VERSION / HEROKU_SLUG_COMMIT, else `git rev-parse`."""
    for name in ("SOURCE_VERSION", "HEROKU_SLUG_COMMIT", "GIT_REV"):
        if os.environ.get(name):
            return os.environ[name][:12]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@app.command()
def version() -> None:
    """Print the package version, the git revision when known, and the migration head."""
    try:
        head = migrations.head_revision()
    except migrations.MigrationError:
        head = None
    typer.echo(f"packfinderz {__version__}")
    typer.echo(f"revision:  {git_revision() or 'unknown'}")
    typer.echo(f"migration head: {head or 'unknown'}")


@app.command("config-table")
def config_table(
    write: Annotated[
        Path | None, typer.Option(help="Replace the table between the config-table markers of this file.")
    ] = None,
) -> None:
    """Print the configuration table (Markdown) generated from config.py, or write it into a file."""
    from packfinderz.config_table import render_config_table, with_table

    table = render_config_table()
    if write is None:
        typer.echo(table, nl=False)
        return
    try:
        write.write_text(with_table(write.read_text(), table))
    except (OSError, ValueError) as exc:
        typer.echo(f"config-table: {write}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"updated {write}")


DEV_SECRET_VARIABLES = (
    "PACKFINDERZ_JWT_SECRET",
    "PACKFINDERZ_STORAGE_SIGNING_SECRET",
    "PACKFINDERZ_ADS_TOKEN_SECRET",
)


def _dev_secrets(data: Path) -> dict[str, str]:
    """Random signing secrets of this data folder (made once, kept in `secrets.env`, mode 0600).

    Only APP_ENV=test may sign with the secrets published in config.py, so `dev` makes its own; keeping
    them in the data folder keeps sessions and signed URLs valid across restarts.
    """
    path = data / "secrets.env"
    found: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and name in DEV_SECRET_VARIABLES and value:
                found[name] = value
    missing = [name for name in DEV_SECRET_VARIABLES if name not in found]
    if missing:
        found |= {name: secrets.token_urlsafe(48) for name in missing}
        data.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.writelines(f"{name}={found[name]}\n" for name in DEV_SECRET_VARIABLES)
    return found


def _raise_keyboard_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def dev_port(option: int | None) -> int:
    """The api port of `dev`: --port, else the configured one (PORT wins over PACKFINDERZ_APP_PORT)."""
    if option is not None:
        return option
    try:
        return Settings().app_port
    except ValidationError:  # a bad PORT: the settings check below names it with the other variables
        return 8080


def port_in_use(port: int) -> str | None:
    """Why the api could not listen on the port (it binds every interface), or None when it can."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError as exc:
            return exc.strerror or type(exc).__name__
    return None


@app.command()
def dev(
    port: Annotated[
        int | None,
        typer.Option(help="API port [default: the configured port: PORT, else APP_PORT, else 8080]."),
    ] = None,
    seed: Annotated[bool, typer.Option(help="Seed the demo marketplace on first start.")] = True,
    host: Annotated[str, typer.Option(help="Interface the api binds (0.0.0.0 exposes it).")] = "127.0.0.1",
) -> None:
    """Run api + worker for development; start embedded Postgres and Redis when no URLs are set."""
    from packfinderz.kit import embedded

    os.environ.setdefault("PACKFINDERZ_APP_ENV", "dev")
    os.environ.setdefault("PACKFINDERZ_AUTO_MIGRATE", "true")
    os.environ.setdefault("PACKFINDERZ_LOG_FORMAT", "console")
    port = dev_port(port)
    busy = port_in_use(port)
    if busy is not None:
        typer.echo(
            f"dev: port {port} is already in use ({busy}); free it or run with PORT=<another port>", err=True
        )
        raise typer.Exit(1)
    os.environ["PORT"] = str(port)
    for name, value in _dev_secrets(Path(Settings().embedded_dir).resolve()).items():
        os.environ.setdefault(name, value)
    # Ctrl-C and SIGTERM (timeout, process managers) both end in the cleanup below, also when started
    # in the background, where SIGINT arrives ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    base = Settings()
    data = Path(base.embedded_dir).resolve()
    servers: list[embedded.EmbeddedPostgres | embedded.EmbeddedRedis] = []
    children: list[subprocess.Popen[bytes]] = []
    try:
        if base.database_url is None:
            pg = embedded.start_postgres(data / "pg")
            servers.append(pg)
            pg.create_database("packfinderz")
            os.environ["PACKFINDERZ_DB_DSN"] = pg.url("packfinderz")
        if base.redis_url is None and base.redis_addr is None:
            rd = embedded.start_redis(data / "redis")
            servers.append(rd)
            os.environ["PACKFINDERZ_REDIS_URL"] = rd.url()
        settings = process_settings({"db", "app"}, "dev")
        assert settings.database_url is not None
        log = get_logger("dev")
        migrations.upgrade(
            settings.database_url, "head", lambda line: log.info("migrate.revision", result=line)
        )
        if seed:
            from packfinderz.catalog.cli import run_demo

            run_demo(settings)
        cmd = [sys.executable, "-m", "packfinderz.cli"]
        children.append(subprocess.Popen([*cmd, "api", "--host", host]))
        children.append(subprocess.Popen([*cmd, "worker"]))
        typer.echo(
            f"\nPackFinderz is starting:\n  API      http://localhost:{port}\n  docs     http://localhost:{port}/docs\n"
            f"  ready    http://localhost:{port}/health/ready\n  data     {data}\nCtrl-C stops everything.\n"
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        typer.echo("a process exited; stopping the others", err=True)
    except KeyboardInterrupt:
        typer.echo("\nstopping...")
    finally:
        # a second Ctrl-C must not cut the cleanup short and leave servers behind
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=25)
            except subprocess.TimeoutExpired:
                child.kill()
        for server in reversed(servers):
            server.stop()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except migrations.MigrationError as exc:
        # e.g. a broken revision chain: one line for the operator, not a traceback
        print(f"packfinderz: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
