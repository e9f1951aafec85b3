"""Schema migrations: Alembic driven programmatically (platform.md §4).

All functions here are synchronous (Alembic's env runs its own event loop); async callers use
`asyncio.to_thread`.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

ADVISORY_LOCK_KEY = 7_420_150_001  # fixed key shared by every migrator
LOCK_WAIT_SECONDS = 60
FILE_RE = re.compile(r"^(\d{14})_([a-z0-9_]+)\.py$")
REVISION_RE = re.compile(r"^\d{14}$")


class MigrationError(Exception):
    """A migration command failed for a reason the operator can act on."""


def migrations_dir() -> Path:
    """The migrations folder: ./migrations when present (Docker, repo root), else the source tree's."""
    here = Path.cwd() / "migrations"
    if (here / "env.py").is_file():
        return here
    source = Path(__file__).resolve().parents[3] / "migrations"
    if (source / "env.py").is_file():
        return source
    raise MigrationError("migrations folder not found (run from the project root)")


def alembic_config(url: str | None = None, **attributes: Any) -> Config:
    """An Alembic Config pointing at the migrations folder, with the DB URL passed as an attribute."""
    folder = migrations_dir()
    cfg = Config()
    cfg.set_main_option("script_location", str(folder))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(folder / "versions"))
    cfg.attributes["url"] = url
    cfg.attributes.update(attributes)
    return cfg


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


@contextmanager
def _chain_errors() -> Iterator[None]:
    # Alembic reports a broken chain as a UserWarning followed by a bare KeyError (or a CommandError
    # for several heads); operators get one MigrationError instead of a traceback.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        try:
            yield
        except MigrationError:
            raise
        except Exception as exc:
            raise MigrationError(
                f"the migration files do not form one chain ({type(exc).__name__}: {exc}); "
                "run `packfinderz migrate validate`"
            ) from None


def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    with _chain_errors():
        return script_directory().get_current_head()


def revision_chain() -> list[str]:
    """Every shipped revision from oldest to newest."""
    with _chain_errors():
        return [s.revision for s in reversed(list(script_directory().walk_revisions()))]


@dataclass(frozen=True)
class Status:
    """Where a database stands against the shipped revisions."""

    current: str | None
    head: str | None
    applied: list[str]
    pending: list[str]

    @property
    def state(self) -> str:
        """at_head, pending (behind head) or ahead (a revision this code does not know)."""
        chain = self.applied + self.pending
        if self.current is not None and self.current not in chain:
            return "ahead"
        return "pending" if self.pending else "at_head"


def status_for(current: str | None, chain: list[str] | None = None) -> Status:
    """Classify a database revision against the shipped chain (read from disk unless given)."""
    chain = revision_chain() if chain is None else chain
    head = chain[-1] if chain else None
    if current is None:
        return Status(None, head, [], chain)
    if current not in chain:
        return Status(current, head, chain, [])
    index = chain.index(current)
    return Status(current, head, chain[: index + 1], chain[index + 1 :])


def upgrade(url: str, target: str = "head", on_apply: Callable[[str], None] | None = None) -> None:
    """Apply pending revisions up to target, one transaction each, under the advisory lock."""
    command.upgrade(alembic_config(url, on_version_apply=_reporter(on_apply, "applied")), target)


def downgrade(url: str, target: str, on_apply: Callable[[str], None] | None = None) -> None:
    """Roll back to target (a revision, `-N` or `base`)."""
    command.downgrade(alembic_config(url, on_version_apply=_reporter(on_apply, "rolled back")), target)


def _reporter(on_apply: Callable[[str], None] | None, verb: str) -> Any:
    if on_apply is None:
        return None

    def report(*, step: Any, **_: Any) -> None:
        on_apply(f"{verb} {step.up_revision_id}")

    return report


def slugify(name: str) -> str:
    """Lowercase, trim, runs of anything but [a-z0-9_] (whitespace included) -> `_`, trim `_`."""
    slug = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")
    if not slug:
        raise MigrationError("migration name must contain a letter or digit")
    return slug


def create(name: str, now: datetime | None = None) -> Path:
    """Write an empty revision `<UTC timestamp>_<slug>.py` whose down_revision is the current head."""
    slug = slugify(name)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    revision = moment.strftime("%Y%m%d%H%M%S")
    head = head_revision()
    if head is not None and revision <= head:
        raise MigrationError(f"revision {revision} is not newer than head {head}")
    path = migrations_dir() / "versions" / f"{revision}_{slug}.py"
    if path.exists():
        raise MigrationError(f"{path} already exists")
    path.write_text(
        f'"""{name.strip()}"""\n\n'
        "from alembic import op  # noqa: F401\n\n"
        f'revision = "{revision}"\n'
        f"down_revision = {head!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        "def upgrade() -> None:\n    pass\n\n\n"
        "def downgrade() -> None:\n    pass\n"
    )
    return path


def validate(folder: Path | None = None) -> list[str]:
    """Problems with the migration files: naming, dates, ids, a single linear chain in time order."""
    versions = (folder or migrations_dir()) / "versions"
    problems: list[str] = []
    revisions: dict[str, str | None] = {}
    for path in sorted(versions.glob("*.py")):
        if path.name == "__init__.py":
            continue
        match = FILE_RE.match(path.name)
        if not match:
            problems.append(f"{path.name}: name must match <YYYYMMDDHHMMSS>_<slug>.py")
            continue
        prefix = match.group(1)
        try:
            datetime.strptime(prefix, "%Y%m%d%H%M%S")
        except ValueError:
            problems.append(f"{path.name}: {prefix} is not a real UTC date-time")
        module = _read_module(path)
        revision, down = module.get("revision"), module.get("down_revision")
        if revision != prefix:
            problems.append(f"{path.name}: revision {revision!r} must equal the file prefix {prefix}")
        if "down_revision" not in module:
            problems.append(f"{path.name}: down_revision is missing (None only for the first revision)")
        if not {"upgrade", "downgrade"} <= module.get("__functions__", set()):
            problems.append(f"{path.name}: upgrade() and downgrade() are both required")
        if not isinstance(revision, str):
            continue
        if revision in revisions:
            problems.append(f"{path.name}: duplicate revision {revision}")
        revisions[revision] = down if isinstance(down, str) or down is None else str(down)
    if not revisions:
        return problems
    roots = [r for r, d in revisions.items() if d is None]
    if len(roots) != 1:
        problems.append(f"expected exactly one root revision, found {len(roots)}")
    for revision, down in revisions.items():
        if down is not None and down not in revisions:
            problems.append(f"{revision}: down_revision {down} does not exist")
        elif down is not None and down >= revision:
            problems.append(f"{revision}: down_revision {down} is not older (chain must follow time)")
    children: dict[str, int] = {}
    for down in revisions.values():
        if down is not None:
            children[down] = children.get(down, 0) + 1
    heads = [r for r in revisions if r not in children]
    if len(heads) != 1:
        problems.append(f"expected exactly one head, found {len(heads)}: {', '.join(sorted(heads))}")
    problems.extend(f"{d}: has {n} children (branch)" for d, n in children.items() if n > 1)
    return problems


def _read_module(path: Path) -> dict[str, Any]:
    """Top-level constant assignments and function names of a revision file, without importing it."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: dict[str, Any] = {"__functions__": set()}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found["__functions__"].add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and node.value is not None:
                    try:
                        found[target.id] = ast.literal_eval(node.value)
                    except ValueError:
                        found[target.id] = None
    return found


async def current_revision(connection: Any) -> str | None:
    """The database revision (None when alembic_version is absent or empty)."""
    from sqlalchemy import text

    exists = await connection.scalar(text("SELECT to_regclass('public.alembic_version') IS NOT NULL"))
    if not exists:
        return None
    result = await connection.scalar(text("SELECT version_num FROM alembic_version LIMIT 1"))
    return str(result) if result is not None else None
