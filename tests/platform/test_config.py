"""Configuration: fallbacks and precedence, value parsing, prod fail-fast, and the README table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from packfinderz.cli import app as cli
from packfinderz.config import ConfigError, Settings, load_settings
from packfinderz.config_table import END_MARKER, GROUPS, START_MARKER, render_config_table, table_in
from tests.fixtures.processes import ROOT, child_env, run


def load(monkeypatch: pytest.MonkeyPatch, groups: set[str] | None = None, **env: str) -> Settings:
    """load_settings() with exactly these variables set (and no .env file)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings(groups, _env_file=None)


def problems(monkeypatch: pytest.MonkeyPatch, **env: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(monkeypatch, {"db", "app"}, **env)
    return caught.value


# --- fallbacks and precedence ----------------------------------------------------------------------


def test_database_url_is_the_fallback_and_postgres_scheme_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load(monkeypatch, DATABASE_URL="postgres://app:pw@db.example:5433/main")
    assert settings.database_url == "postgresql+asyncpg://app:pw@db.example:5433/main"


def test_db_dsn_wins_over_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(
        monkeypatch,
        DATABASE_URL="postgres://heroku@fallback/db",
        PACKFINDERZ_DB_DSN="postgresql://own@primary/db",
    )
    assert settings.database_url == "postgresql+asyncpg://own@primary/db"


def test_db_parts_build_the_url_when_no_url_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(
        monkeypatch,
        PACKFINDERZ_DB_HOST="pg.internal",
        PACKFINDERZ_DB_USER="app",
        PACKFINDERZ_DB_PASSWORD="p@ss/word",
        PACKFINDERZ_DB_NAME="pf",
    )
    assert settings.database_url == "postgresql+asyncpg://app:p%40ss%2Fword@pg.internal:5432/pf"


def test_prod_database_url_without_sslmode_requires_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, PACKFINDERZ_APP_ENV="prod", DATABASE_URL="postgres://u@h/db")
    assert settings.database_url == "postgresql+asyncpg://u@h/db?ssl=require"
    explicit = load(monkeypatch, DATABASE_URL="postgres://u@h/db?sslmode=disable")
    assert explicit.database_url == "postgresql+asyncpg://u@h/db?ssl=disable"


def test_redis_url_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        load(monkeypatch, REDIS_URL="redis://fallback:6379").redis_connection_url == "redis://fallback:6379"
    )
    both = load(monkeypatch, PACKFINDERZ_REDIS_URL="redis://own:6380")
    assert both.redis_connection_url == "redis://own:6380"


def test_redis_addr_is_used_without_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, PACKFINDERZ_REDIS_ADDR="cache:6390", PACKFINDERZ_REDIS_DB="3")
    assert settings.redis_connection_url == "redis://cache:6390/3"


def test_port_wins_over_app_port(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(monkeypatch).app_port == 8080
    assert load(monkeypatch, PACKFINDERZ_APP_PORT="9000").app_port == 9000
    assert load(monkeypatch, PORT="5000").app_port == 5000


def test_app_env_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(monkeypatch, PACKFINDERZ_APP_ENV="DeV").app_env == "dev"


# --- value parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("45", 45.0), ("500ms", 0.5), ("10s", 10.0), ("15m", 900.0), ("24h", 86400.0), ("7d", 604800.0)],
)
def test_durations(monkeypatch: pytest.MonkeyPatch, raw: str, seconds: float) -> None:
    assert load(monkeypatch, PACKFINDERZ_DB_POOL_RECYCLE=raw).db_pool_recycle == seconds


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("TRUE", True), ("1", True), ("False", False), ("0", False)]
)
def test_booleans(monkeypatch: pytest.MonkeyPatch, raw: str, value: bool) -> None:
    assert load(monkeypatch, PACKFINDERZ_AUTO_MIGRATE=raw).auto_migrate is value


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("PACKFINDERZ_DB_POOL_RECYCLE", "ten-minutes-zq"),
        ("PACKFINDERZ_WORKER_HEARTBEAT_SECONDS", "-5s"),
        ("PACKFINDERZ_AUTO_MIGRATE", "yes-zq"),
        ("PACKFINDERZ_REDIS_TLS_VERIFY", "on-zq"),
        ("PACKFINDERZ_APP_ENV", "staging-zq"),
        ("PACKFINDERZ_APP_PORT", "eighty-zq"),
        ("PORT", "http-zq"),
        ("DATABASE_URL", "mysql://u:pw-zq@h/db"),
        ("PACKFINDERZ_DB_DSN", "no-scheme-zq"),
    ],
)
def test_bad_values_name_the_variable_never_the_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str
) -> None:
    if variable not in ("DATABASE_URL", "PACKFINDERZ_DB_DSN"):
        monkeypatch.setenv("PACKFINDERZ_DB_DSN", "postgresql://u@h/db")
    error = problems(monkeypatch, **{variable: raw})
    assert error.variables == [variable]
    assert raw not in str(error)
    assert raw not in " ".join(error.problems)


def test_every_bad_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    error = problems(monkeypatch, PACKFINDERZ_AUTO_MIGRATE="maybe", PACKFINDERZ_DB_POOL_TIMEOUT="soon")
    assert sorted(error.variables) == ["PACKFINDERZ_AUTO_MIGRATE", "PACKFINDERZ_DB_POOL_TIMEOUT"]


# --- prod fail-fast ----------------------------------------------------------------------------------

PROD_SECRETS_MISSING = [
    "PACKFINDERZ_JWT_SECRET",
    "PACKFINDERZ_ADS_TOKEN_SECRET",
    "PACKFINDERZ_STORAGE_SIGNING_SECRET",
    "PACKFINDERZ_PUBLIC_BASE_URL",
    "PACKFINDERZ_REDIS_URL",
    "PACKFINDERZ_METRICS_TOKEN",  # required in prod (issue #17)
    "PACKFINDERZ_SQUARE_ACCESS_TOKEN",
    "PACKFINDERZ_SQUARE_LOCATION_ID",
    "PACKFINDERZ_SQUARE_WEBHOOK_SIGNATURE_KEY",
    "PACKFINDERZ_SQUARE_WEBHOOK_URL",
]


@pytest.mark.parametrize("command", ["api", "worker"])
def test_prod_with_missing_secrets_exits_1_with_one_message_and_no_values(command: str) -> None:
    db_password = "Db-Pass-7f3c9a"
    short_jwt = "jwt-too-short-55e1b2"  # set, but under 32 bytes
    env = child_env(
        PACKFINDERZ_APP_ENV="prod",
        DATABASE_URL=f"postgres://app:{db_password}@127.0.0.1:1/pf",
        PACKFINDERZ_JWT_SECRET=short_jwt,
    )
    result = run([command], env)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert db_password not in output
    assert short_jwt not in output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    invalid = [line for line in lines if line["event"] == "startup.config_invalid"]
    assert len(invalid) == 1, output
    assert invalid[0]["level"] == "error"
    assert invalid[0]["variables"] == PROD_SECRETS_MISSING
    assert "PACKFINDERZ_JWT_SECRET must be at least 32 bytes" in invalid[0]["problems"]
    # nothing else happened: no resource was touched, nothing was served
    assert [line["event"] for line in lines] == ["startup.config_invalid"]
    assert result.stderr == ""


# --- README configuration table ----------------------------------------------------------------------


def test_readme_configuration_table_matches_config_py() -> None:
    readme = (ROOT / "README.md").read_text()
    assert table_in(readme) == render_config_table(), "run: packfinderz config-table --write README.md"


def test_every_setting_is_documented_and_grouped() -> None:
    assert set(GROUPS) <= set(Settings.model_fields)
    undocumented = [name for name, info in Settings.model_fields.items() if not info.description]
    assert undocumented == []
    table = render_config_table()
    assert "| `PORT` → `PACKFINDERZ_APP_PORT` | `8080` |" in table
    assert "| `PACKFINDERZ_DB_DSN` → `DATABASE_URL` | — |" in table
    assert "| `PACKFINDERZ_DB_POOL_RECYCLE` | `30m` |" in table
    assert "| `PACKFINDERZ_AUTO_MIGRATE` | `false` |" in table
    assert [line for line in table.splitlines() if line.startswith("| **")] == [
        f"| **{title}** | | |" for title in GROUPS.values()
    ]


def test_config_table_command_prints_and_writes(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(cli, ["config-table"])
    assert printed.exit_code == 0
    assert printed.stdout == render_config_table()

    document = tmp_path / "README.md"
    document.write_text(f"# Title\n\nintro\n\n{START_MARKER}\nstale\n{END_MARKER}\n\n## After\n")
    written = runner.invoke(cli, ["config-table", "--write", str(document)])
    assert written.exit_code == 0, written.output
    assert document.read_text() == (
        f"# Title\n\nintro\n\n{START_MARKER}\n{render_config_table()}{END_MARKER}\n\n## After\n"
    )

    unmarked = tmp_path / "OTHER.md"
    unmarked.write_text("# no markers\n")
    refused = runner.invoke(cli, ["config-table", "--write", str(unmarked)])
    assert refused.exit_code == 1
    assert unmarked.read_text() == "# no markers\n"
