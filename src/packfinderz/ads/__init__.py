"""Ad attribution tokens (money-ads-analytics.md §2)."""
