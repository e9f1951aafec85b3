"""PackFinderz: B2B wholesale marketplace backend for licensed cannabis businesses."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("packfinderz")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
