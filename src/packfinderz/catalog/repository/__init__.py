"""Catalog SQL, one module per concern: `search` (gate and list pages), `products`, `inventory`."""
