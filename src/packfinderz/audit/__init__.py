"""Audit log: append-only record of security- and money-relevant actions (identity.md §16)."""
