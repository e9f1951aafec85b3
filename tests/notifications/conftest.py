"""Fixtures of the event tests (defined in tests/fixtures/events.py)."""

from tests.fixtures.events import fast_settings, pubsub_emulator, transport, transport_settings

__all__ = ["fast_settings", "pubsub_emulator", "transport", "transport_settings"]
