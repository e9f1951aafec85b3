"""Vendor CRM (identity.md §18 planned, issue #16): the buyer stores a vendor sells to, from its orders."""
