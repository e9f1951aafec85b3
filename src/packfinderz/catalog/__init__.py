"""Catalog: vendor products and inventory, buyer browse and search (commerce.md §2-§5)."""
