"""Authentication, sessions and access control (identity.md §2, §3, §6, §7)."""
