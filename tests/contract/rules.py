"""Rules the server enforces that JSON Schema cannot state (issue #18 point 1): each is written in the
operation's description and keeps its 400/422. The fuzzer accepts a schema-valid request refused by one
of these rules, and only by these: the error must carry the listed field (or message) and words.

(status, field of `details` or "message", words of the refusal, a word the description uses for the rule),
by operation label.
"""

from __future__ import annotations

Rule = tuple[int, str, str, str]

PASSWORD = (400, "password", "too easy to guess", "zxcvbn")
NOT_A_VENDOR = (400, "store_id", "is not a vendor", "vendor")
AD_TOKEN = (400, "message", "invalid ad token", "token")
RANGE = (400, "message", "give either preset or from and to", "preset")

DOCUMENTED_REFUSALS: dict[str, tuple[Rule, ...]] = {
    # account data: password strength (zxcvbn) is a judgement, not a pattern
    "POST /api/v1/auth/register": (PASSWORD,),
    "POST /api/admin/v1/auth/register": (PASSWORD,),
    # time: a license that has already expired
    "POST /api/v1/licenses": ((400, "expiration_date", "must be in the future", "future"),),
    # which user is an active agent, which store is a vendor: facts in the database
    "POST /api/admin/v1/orders/{order_id}/assign-agent": (
        (400, "agent_user_id", "must be an active agent", "agent"),
    ),
    "GET /api/v1/stores/{store_id}/orders": (NOT_A_VENDOR,),
    "GET /api/v1/stores/{store_id}/orders/totals": (NOT_A_VENDOR,),
    "GET /api/v1/stores/{store_id}/products": (NOT_A_VENDOR,),
    # rules that depend on the caller's store type or state
    "GET /api/v1/orders": ((400, "actionable_statuses", "is for vendor stores only", "actionable_statuses"),),
    "PATCH /api/v1/stores/me": (
        (400, "delivery_radius_meters", "only vendor stores", "delivery_radius_meters"),
    ),
    "GET /api/v1/products": ((422, "message", "requested state does not match", "state"),),
    # pairs of fields: one or the other, or both together
    "POST /api/v1/agent/heartbeat": (
        (400, "lng", "sent together", "together"),
        (400, "lat", "sent together", "together"),
    ),
    "GET /api/v1/analytics/marketplace": (RANGE,),
    "GET /api/v1/vendor/analytics": (RANGE,),
    "GET /api/v1/vendor/ads/{ad_id}": (RANGE,),
    # signed values only the server issues
    "GET /api/v1/ads/click": (AD_TOKEN,),
    "POST /api/v1/ads/impression": (AD_TOKEN,),
    # configuration: ACH is off unless enabled
    "POST /api/v1/checkout": ((400, "payment_method", "is not enabled", "ach"),),
}


# Rules about stored data the fuzzer cannot know (its ids are random or picked from earlier answers by
# the stateful phase): wherever they apply, the operation's description states them.
DATA_RULES: tuple[Rule, ...] = (
    (400, "expiration_date", "must be after issue_date", "issue_date"),
    (400, "media_id", "must be a license_doc media", "license_doc"),
    (400, "media_id", "must be a PDF or an image", "image"),
    (400, "logo_media_id", "must be media of kind store", "media"),
    (400, "banner_media_id", "must be media of kind store", "media"),
    (400, "vendor_store_id", "cannot review the active store", "review"),
    (400, "store_id", "must be a vendor store", "vendor"),
    (400, "is_default", "only an active plan can be the default", "default"),
    (400, "payment_method_id", "no payment method", "payment"),
    (400, "plan_id", "must be an active plan", "plan"),
    (400, "plan_id", "no plan: none given and no default plan", "plan"),
    (400, "target_id", "must be your own store", "target"),
    (400, "target_id", "must be an active product of your store", "target"),
    (400, "ends_at", "must not be before starts_at", "ends_at"),
    (400, "max_qty", "must be 0 (no cap) or at least moq", "max_qty"),
    (400, "reason", "is required to reject", "reason"),
)


def documented(label: str, status: int, body: object) -> bool:
    """Whether this refusal of a schema-valid request is one of the operation's documented rules."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return False
    details = error.get("details")
    if not isinstance(details, dict):
        details = {}
    for rule_status, field, words, _ in (*DOCUMENTED_REFUSALS.get(label, ()), *DATA_RULES):
        said = error.get("message") if field == "message" else details.get(field)
        if status == rule_status and isinstance(said, str) and words in said:
            return True
    return False
