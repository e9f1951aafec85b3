"""Store reviews (identity.md §14): verified-purchase reviews of vendors and the vendor's `ratings`."""
