"""Checkout: one order per vendor from a quote, reserving stock atomically (commerce.md §7)."""
