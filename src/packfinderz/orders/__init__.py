"""Vendor orders: the lifecycle after checkout, the TTL job, transport manifests (commerce.md §8, §9.7)."""
