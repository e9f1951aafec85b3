"""Wishlist (identity.md §13): products a store keeps, shown through the viewer's visibility gate."""
