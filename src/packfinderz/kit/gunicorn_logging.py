"""Gunicorn's own lines (master boot, worker signals) written through the JSON log pipeline."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from packfinderz.config import load_settings
from packfinderz.kit.logging import setup_logging


class JsonLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's logger class, but its records go to the root JSON handler on stdout."""

    def setup(self, cfg: Any) -> None:
        """Let gunicorn set levels and handlers, then replace its plain-text handlers with ours."""
        super().setup(cfg)
        # The master is a fresh process (`packfinderz api` exec'd it), so logging starts unconfigured;
        # the environment was validated before the exec.
        setup_logging(load_settings(), "api")
