"""Address lookup (identity.md §15) behind the maps adapter: `none` (default) or `google` (Places API New)."""
