"""Admin store management (identity.md §9.1)."""
