"""The README's configuration table, generated from `Settings` so the two cannot drift apart."""

from __future__ import annotations

import socket
from typing import Any

from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from packfinderz.config import ENV_PREFIX, Settings, parse_duration

START_MARKER = "<!-- config-table:start -->"
END_MARKER = "<!-- config-table:end -->"

# Groups of platform.md §5, each named by its first field; fields keep their declaration order.
GROUPS = {
    "app_env": "App",
    "db_dsn": "Database",
    "redis_url": "Redis",
    "jwt_secret": "Auth",
    "events_transport": "Events / outbox",
    "gcp_project_id": "Google Cloud",
    "storage_adapter": "Storage",
    "warehouse_adapter": "Warehouse / analytics",
    "billing_provider": "Billing",
    "maps_provider": "Maps / ads / worker",
}
_FACTORY_DEFAULTS = {socket.gethostname: "hostname"}
_DURATION_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def variable_names(field_name: str, info: FieldInfo) -> list[str]:
    """The environment variables of a field, in precedence order (the first one set wins)."""
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [ENV_PREFIX + field_name.upper()]


def format_duration(seconds: float) -> str:
    """Seconds in the largest whole unit of the duration syntax (1800 -> 30m)."""
    for unit, size in _DURATION_UNITS:
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{round(seconds * 1000)}ms"


def _is_duration(info: FieldInfo) -> bool:
    return any(getattr(item, "func", None) is parse_duration for item in info.metadata)


def format_default(info: FieldInfo) -> str:
    """A field's default as an operator would type it; `—` when it has none."""
    if info.default_factory is not None:
        factory: Any = info.default_factory
        return _FACTORY_DEFAULTS.get(factory, f"{getattr(factory, '__name__', 'computed')}()")
    value = info.default
    if value is None or value is PydanticUndefined:
        return "—"
    if isinstance(value, bool):
        shown = str(value).lower()
    elif _is_duration(info):
        shown = format_duration(float(value))
    elif value == "":
        return "empty"
    else:
        shown = str(value)
    return f"`{shown}`"


def _cell(text: str) -> str:
    # `|` would end the cell and `<port>` would render as an HTML tag.
    return text.replace("|", "\\|").replace("<", "\\<")


def render_config_table() -> str:
    """The Markdown table of every setting: variable(s), default and description, grouped."""
    lines = ["| Variable | Default | Description |", "|---|---|---|"]
    for field_name, info in Settings.model_fields.items():
        if field_name in GROUPS:
            lines.append(f"| **{GROUPS[field_name]}** | | |")
        names = " → ".join(f"`{name}`" for name in variable_names(field_name, info))
        lines.append(f"| {names} | {format_default(info)} | {_cell(info.description or '')} |")
    return "\n".join(lines) + "\n"


def table_in(document: str) -> str:
    """The text between the config-table markers of a document."""
    start, end = document.find(START_MARKER), document.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(f"markers {START_MARKER} / {END_MARKER} not found")
    return document[start + len(START_MARKER) : end].removeprefix("\n")


def with_table(document: str, table: str) -> str:
    """The document with `table` placed between its config-table markers."""
    table_in(document)  # raises when the markers are missing
    head, _, rest = document.partition(START_MARKER)
    _, _, tail = rest.partition(END_MARKER)
    return f"{head}{START_MARKER}\n{table}{END_MARKER}{tail}"
