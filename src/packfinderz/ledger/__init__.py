"""The append-only money ledger and vendor payouts (commerce.md §10)."""
