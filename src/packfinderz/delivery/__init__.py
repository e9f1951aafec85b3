"""Delivery: agent heartbeats, the dispatch queue and consumer, pickup, delivery and cash (commerce.md §9)."""
