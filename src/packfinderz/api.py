"""Mounts every domain router under its prefix."""

from __future__ import annotations

from fastapi import FastAPI

from packfinderz.admin.router import router as admin_stores_router
from packfinderz.ads.router import router as ads_router
from packfinderz.ads.router import vendor_router as vendor_ads_router
from packfinderz.analytics.router import router as analytics_router
from packfinderz.audit.router import router as audit_router
from packfinderz.auth.router import admin_auth_router, admin_users_router, dev_admin_router
from packfinderz.auth.router import router as auth_router
from packfinderz.billing.router import (
    admin_router as admin_billing_router,
)
from packfinderz.billing.router import (
    methods_router,
    plans_router,
    sandbox_router,
    subscriptions_router,
    webhook_router,
)
from packfinderz.cart.router import router as cart_router
from packfinderz.catalog.router import router as catalog_router
from packfinderz.checkout.router import router as checkout_router
from packfinderz.console.router import install_console
from packfinderz.customers.router import router as customers_router
from packfinderz.delivery.router import admin_router as admin_delivery_router
from packfinderz.delivery.router import router as delivery_router
from packfinderz.health.router import router as health_router
from packfinderz.kit.storage.router import router as storage_router
from packfinderz.kit.storage.uploads import install_upload_hook
from packfinderz.ledger.router import router as payouts_router
from packfinderz.licenses.router import admin_router as admin_licenses_router
from packfinderz.licenses.router import router as licenses_router
from packfinderz.maps.router import router as address_router
from packfinderz.media.router import router as media_router
from packfinderz.media.service import MediaUploadHook
from packfinderz.notifications.router import admin_router as admin_notifications_router
from packfinderz.notifications.router import router as notifications_router
from packfinderz.orders.router import router as orders_router
from packfinderz.reviews.router import router as reviews_router
from packfinderz.reviews.router import store_reviews_router
from packfinderz.stores.router import invitations_router
from packfinderz.stores.router import router as stores_router
from packfinderz.wishlist.router import router as wishlist_router


def include_routers(app: FastAPI) -> None:
    """Attach the routers of every capability."""
    app.include_router(health_router)
    app.include_router(auth_router)
    app.include_router(admin_auth_router)
    if not app.state.settings.is_prod:  # identity.md §6.5: the dev admin register is absent in prod
        app.include_router(dev_admin_router)
    app.include_router(admin_users_router)
    app.include_router(audit_router)
    app.include_router(stores_router)
    app.include_router(invitations_router)
    app.include_router(catalog_router)
    app.include_router(cart_router)
    app.include_router(checkout_router)
    app.include_router(orders_router)
    app.include_router(delivery_router)
    # Payout routes first: `/orders/payouts/...` must not be read as an order id.
    app.include_router(payouts_router)
    app.include_router(admin_delivery_router)
    app.include_router(storage_router)
    install_upload_hook(app, MediaUploadHook())
    app.include_router(media_router)
    app.include_router(licenses_router)
    app.include_router(admin_licenses_router)
    app.include_router(admin_stores_router)
    app.include_router(notifications_router)
    app.include_router(admin_notifications_router)
    app.include_router(analytics_router)
    app.include_router(vendor_ads_router)
    app.include_router(ads_router)
    app.include_router(plans_router)
    app.include_router(subscriptions_router)
    app.include_router(methods_router)
    app.include_router(admin_billing_router)
    settings = app.state.settings
    if not settings.is_prod:  # money-ads-analytics.md §1.1: sandbox time simulation, non-prod only
        app.include_router(sandbox_router)
    if settings.effective_billing_provider == "square":  # §1.7: the webhook exists only with Square
        app.include_router(webhook_router)
    app.include_router(wishlist_router)
    app.include_router(reviews_router)
    app.include_router(store_reviews_router)
    app.include_router(address_router)
    app.include_router(customers_router)
    install_console(app)
