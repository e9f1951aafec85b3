"""Stores and their members (identity.md §8)."""
