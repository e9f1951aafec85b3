"""Cart quote: the server-authoritative, persisted price of a buyer's cart (commerce.md §6)."""
