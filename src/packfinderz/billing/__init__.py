"""Billing: plans, subscriptions, payment methods, charges and the provider adapter."""
