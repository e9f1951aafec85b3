"""`packfinderz migrate ...` run as a real command against scratch databases and migration folders."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from packfinderz.kit import migrations
from tests.fixtures.processes import ROOT, child_env, run

R1, R2, R3 = "20250101000000", "20250102000000", "20250103000000"
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nowhere"

REVISION_FILE = '''"""create {table}"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("{table}")
'''


def write_revision(
    folder: Path, revision: str, down: str | None, table: str, name: str | None = None
) -> Path:
    path = folder / "migrations" / "versions" / (name or f"{revision}_create_{table}.py")
    path.write_text(REVISION_FILE.format(revision=revision, down=down, table=table))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder holding a migrations/ copy (real env.py) with three revisions creating plat_a/b/c."""
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(ROOT / "migrations" / name, tmp_path / "migrations" / name)
    write_revision(tmp_path, R1, None, "plat_a")
    write_revision(tmp_path, R2, R1, "plat_b")
    write_revision(tmp_path, R3, R2, "plat_c")
    return tmp_path


def migrate(args: list[str], url: str | None = None, cwd: Path = ROOT) -> tuple[int, str, str]:
    env = child_env(PACKFINDERZ_DB_DSN=url) if url else child_env()
    result = run(["migrate", *args], env, cwd)
    return result.returncode, result.stdout, result.stderr


async def fetch(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(text(sql))]
    finally:
        await engine.dispose()


async def tables(url: str) -> list[str]:
    rows = await fetch(
        url,
        "SELECT tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
        "AND tablename <> 'alembic_version' ORDER BY 1",
    )
    return [str(row[0]) for row in rows]


async def schema(url: str) -> list[tuple[object, ...]]:
    """Every column (with type, nullability, default) and index outside the system schemas."""
    columns = await fetch(
        url,
        "SELECT table_schema, table_name, column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
        "AND table_name <> 'alembic_version' ORDER BY 1, 2, 3",
    )
    indexes = await fetch(
        url,
        "SELECT schemaname, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
        "AND tablename <> 'alembic_version' ORDER BY 1, 2",
    )
    return columns + indexes


# --- against the real migrations -----------------------------------------------------------------


async def test_up_down_up_restores_the_schema(scratch_db: str) -> None:
    chain = migrations.revision_chain()
    code, out, err = migrate(["up"], scratch_db)
    assert code == 0, err
    assert [line for line in out.splitlines() if line.startswith("applied ")] == [
        f"applied {r}" for r in chain
    ]
    migrated = await schema(scratch_db)
    assert "outbox_events" in await tables(scratch_db)

    code, out, err = migrate(["status"], scratch_db)
    assert code == 0, err
    assert f"head:    {chain[-1]}" in out
    assert "state:   at_head" in out

    code, out, err = migrate(["down", "--steps", str(len(chain))], scratch_db)
    assert code == 0, err
    assert "now at base (empty schema)" in out
    assert await schema(scratch_db) == []
    code, out, _ = migrate(["down"], scratch_db)
    assert (code, out.strip()) == (0, "nothing to roll back")

    code, out, err = migrate(["up"], scratch_db)
    assert code == 0, err
    assert await schema(scratch_db) == migrated
    code, out, _ = migrate(["up"], scratch_db)
    assert (code, out.strip()) == (0, f"nothing to apply: at head {chain[-1]}")


def test_validate_passes_on_the_real_folder() -> None:
    code, out, err = migrate(["validate"])
    assert (code, out.strip(), err) == (0, "migration validation passed", "")


# --- status, down, version on a controlled chain -----------------------------------------------------


async def test_status_and_version_move_both_directions(project: Path, scratch_db: str) -> None:
    code, out, _ = migrate(["status"], scratch_db, project)
    assert code == 0
    assert out.splitlines() == [
        "current: base",
        f"head:    {R3}",
        "state:   pending",
        f"  {R1}  pending",
        f"  {R2}  pending",
        f"  {R3}  pending   (head)",
        f"pending: 3 ({R1}, {R2}, {R3})",
    ]
    assert migrate(["version"], scratch_db, project)[:2] == (0, f"current: base\nhead:    {R3}\n")

    code, out, _ = migrate(["version", R2], scratch_db, project)  # newer: up to it, inclusive
    assert (code, out.splitlines()) == (0, [f"applied {R1}", f"applied {R2}", f"now at {R2}"])
    assert await tables(scratch_db) == ["plat_a", "plat_b"]
    code, out, _ = migrate(["status"], scratch_db, project)
    assert code == 0  # pending revisions are not an error
    assert out.splitlines() == [
        f"current: {R2}",
        f"head:    {R3}",
        "state:   pending",
        f"  {R1}  applied",
        f"  {R2}  applied   (current)",
        f"  {R3}  pending   (head)",
        f"pending: 1 ({R3})",
    ]

    code, out, _ = migrate(["version", R1], scratch_db, project)  # older: down until it is current
    assert (code, out.splitlines()) == (0, [f"rolled back {R2}", f"now at {R1}"])
    assert await tables(scratch_db) == ["plat_a"]
    code, out, _ = migrate(["version", R1], scratch_db, project)  # equal: nothing to do
    assert (code, out.splitlines()) == (0, [f"already at {R1}", f"now at {R1}"])
    assert await tables(scratch_db) == ["plat_a"]


async def test_down_n_and_steps(project: Path, scratch_db: str) -> None:
    assert migrate(["up"], scratch_db, project)[0] == 0
    code, out, _ = migrate(["down", "2"], scratch_db, project)
    assert (code, out.splitlines()) == (0, [f"rolled back {R3}", f"rolled back {R2}", f"now at {R1}"])
    assert await tables(scratch_db) == ["plat_a"]
    code, out, _ = migrate(["down", "--steps", "1"], scratch_db, project)
    assert (code, out.splitlines()) == (0, [f"rolled back {R1}", "now at base (empty schema)"])
    assert await tables(scratch_db) == []
    assert migrate(["down"], scratch_db, project)[:2] == (0, "nothing to roll back\n")
    code, _, err = migrate(["down", "0"], scratch_db, project)
    assert (code, err.strip()) == (1, "migrate down: N must be >= 1")


@pytest.mark.parametrize("target", ["20990101000000", "head"])
async def test_version_with_an_unknown_revision_exits_1_and_changes_nothing(
    project: Path, scratch_db: str, target: str
) -> None:
    code, out, err = migrate(["version", target], scratch_db, project)
    assert (code, out, err.strip()) == (1, "", f"migrate version: unknown revision {target}")
    assert await tables(scratch_db) == []


# --- create --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("add users", "add_users"),
        ("  Add Users Table!!  ", "add_users_table"),
        ("orders:  index -- created_at", "orders_index_created_at"),
        ("keep_under_scores", "keep_under_scores"),
        ("__trim__me__", "trim__me"),
        ("v2\tcatalog\nsearch", "v2_catalog_search"),
    ],
)
def test_slug_rules(name: str, slug: str) -> None:
    assert migrations.slugify(name) == slug


@pytest.mark.parametrize("name", ["", "   ", "!!!", "___", "-_- "])
def test_slug_without_letters_or_digits_is_refused(name: str) -> None:
    with pytest.raises(migrations.MigrationError, match="must contain a letter or digit"):
        migrations.slugify(name)


def test_create_refuses_a_name_without_letters_or_digits(project: Path) -> None:
    before = sorted((project / "migrations" / "versions").iterdir())
    code, out, err = migrate(["create", " !!! "], cwd=project)
    assert (code, out) == (1, "")
    assert err.strip() == "migrate create: migration name must contain a letter or digit"
    assert sorted((project / "migrations" / "versions").iterdir()) == before


def test_create_writes_an_empty_revision_after_head(project: Path) -> None:
    code, out, err = migrate(["create", "  Add Plat D!  "], cwd=project)
    assert code == 0, err
    match = re.fullmatch(r"created migration: (.+/(\d{14})_add_plat_d\.py)\n", out)
    assert match is not None, out
    path, revision = Path(match.group(1)), match.group(2)
    assert path.parent == project / "migrations" / "versions"
    assert datetime.strptime(revision, "%Y%m%d%H%M%S").replace(tzinfo=UTC) <= datetime.now(UTC)
    source = path.read_text()
    assert f'revision = "{revision}"' in source
    assert f"down_revision = '{R3}'" in source
    assert "def upgrade() -> None:\n    pass" in source
    assert "def downgrade() -> None:\n    pass" in source
    assert migrate(["validate"], cwd=project)[:2] == (0, "migration validation passed\n")


def test_create_never_overwrites(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    moment = datetime(2025, 2, 1, 12, 0, 0, tzinfo=UTC)
    first = migrations.create("same name", now=moment)
    first.write_text(first.read_text() + "# edited by hand\n")
    with pytest.raises(migrations.MigrationError, match="not newer than head"):
        migrations.create("same name", now=moment)
    assert first.read_text().endswith("# edited by hand\n")


def test_create_refuses_a_timestamp_not_after_head(project: Path) -> None:
    write_revision(project, "29991231235959", R3, "plat_future")
    before = sorted((project / "migrations" / "versions").iterdir())
    code, _, err = migrate(["create", "too late"], cwd=project)
    assert code == 1
    assert "is not newer than head 29991231235959" in err
    assert sorted((project / "migrations" / "versions").iterdir()) == before


# --- validate ------------------------------------------------------------------------------------


def test_validate_passes_on_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    shutil.copy(ROOT / "migrations" / "env.py", tmp_path / "migrations" / "env.py")
    assert migrate(["validate"], cwd=tmp_path)[:2] == (0, "migration validation passed\n")


def _bad_name(project: Path) -> str:
    write_revision(project, "20250104000000", R3, "plat_d", name="20250104000000_Add-D.py")
    return "20250104000000_Add-D.py: name must match <YYYYMMDDHHMMSS>_<slug>.py"


def _not_a_date(project: Path) -> str:
    write_revision(project, "20251399000000", R3, "plat_d")
    return "20251399000000_create_plat_d.py: 20251399000000 is not a real UTC date-time"


def _two_heads(project: Path) -> str:
    write_revision(project, "20250104000000", R2, "plat_d")
    return f"expected exactly one head, found 2: {R3}, 20250104000000"


def _missing_down_revision(project: Path) -> str:
    path = write_revision(project, "20250104000000", R3, "plat_d")
    path.write_text(path.read_text().replace(f"down_revision = '{R3}'\n", ""))
    return "20250104000000_create_plat_d.py: down_revision is missing"


def _unknown_down_revision(project: Path) -> str:
    write_revision(project, "20250104000000", "20240101000000", "plat_d")
    return "20250104000000: down_revision 20240101000000 does not exist"


def _revision_not_prefix(project: Path) -> str:
    path = write_revision(project, "20250104000000", R3, "plat_d")
    path.write_text(path.read_text().replace('revision = "20250104000000"', 'revision = "20250105000000"'))
    return "revision '20250105000000' must equal the file prefix 20250104000000"


def _no_downgrade(project: Path) -> str:
    path = write_revision(project, "20250104000000", R3, "plat_d")
    path.write_text(path.read_text().split("def downgrade")[0])
    return "upgrade() and downgrade() are both required"


@pytest.mark.parametrize(
    "breakage",
    [
        _bad_name,
        _not_a_date,
        _two_heads,
        _missing_down_revision,
        _unknown_down_revision,
        _revision_not_prefix,
        _no_downgrade,
    ],
)
def test_validate_names_the_problem(project: Path, breakage: Callable[[Path], str]) -> None:
    expected = breakage(project)
    assert migrations.validate(project / "migrations") != []
    assert any(expected in problem for problem in migrations.validate(project / "migrations"))


@pytest.mark.parametrize("breakage", [_bad_name, _two_heads, _missing_down_revision])
def test_validate_command_fails_with_exit_1(project: Path, breakage: Callable[[Path], str]) -> None:
    expected = breakage(project)
    code, out, err = migrate(["validate"], cwd=project)
    assert (code, out) == (1, "")
    assert expected in err
    assert all(line.startswith("invalid: ") for line in err.splitlines())


# --- failures ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["up"], ["status"], ["version", R1]])
def test_unreachable_database_exits_2_with_one_line(project: Path, args: list[str]) -> None:
    code, out, err = migrate(args, UNREACHABLE, project)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert "database unreachable" in err
    assert "Traceback" not in err


def test_missing_database_configuration_exits_1(project: Path) -> None:
    code, _, err = migrate(["status"], cwd=project)
    assert code == 1
    assert "PACKFINDERZ_DB_DSN is required" in err


def test_unknown_command_prints_usage() -> None:
    code, out, err = migrate(["frobnicate"])
    assert code == 2
    assert "Usage: packfinderz migrate" in out + err
    assert "No such command 'frobnicate'" in out + err


@pytest.fixture
def server_without_tls() -> Iterator[int]:
    """A TCP listener answering PostgreSQL's SSLRequest with 'N' (no TLS here), as a plain server does."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                with contextlib.suppress(OSError):
                    connection.recv(8)  # the 8-byte SSLRequest
                    connection.sendall(b"N")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_prod_url_without_sslmode_against_a_server_without_tls_names_cause_and_fix(
    project: Path, server_without_tls: int
) -> None:
    env = child_env(
        PACKFINDERZ_APP_ENV="prod", DATABASE_URL=f"postgres://pf@127.0.0.1:{server_without_tls}/pf"
    )
    done = run(["migrate", "up"], env, cwd=project)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("migrate up: database unreachable: the server does not accept TLS")
    assert "sslmode=require" in line  # the cause
    assert "?sslmode=disable" in line  # the fix
    assert "Traceback" not in done.stderr
