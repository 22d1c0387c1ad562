"""Customer services, split by concept; import them from this package."""

from .orders import order_record, refund_record
from .profile import (
    PROFILE_FIELDS,
    consent_record,
    customer_create,
    customer_search_text,
    customer_tag_add,
    customer_tag_remove,
    customer_update,
    interaction_log,
)

__all__ = [
    "PROFILE_FIELDS",
    "consent_record",
    "customer_create",
    "customer_search_text",
    "customer_tag_add",
    "customer_tag_remove",
    "customer_update",
    "interaction_log",
    "order_record",
    "refund_record",
]
