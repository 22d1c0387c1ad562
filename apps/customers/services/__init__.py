"""Customer services, split by concept; import them from this package."""

from .orders import order_lines_problem, order_placed_at_problem, order_record, refund_record
from .profile import (
    PERSONAL_FIELDS,
    PREFERENCE_FIELDS,
    PROFILE_FIELDS,
    consent_record,
    customer_contact_unique_check,
    customer_create,
    customer_profile_clean,
    customer_profile_problems,
    customer_search_text,
    customer_tag_add,
    customer_tag_remove,
    customer_tags_set,
    customer_update,
    interaction_log,
)

__all__ = [
    "PERSONAL_FIELDS",
    "PREFERENCE_FIELDS",
    "PROFILE_FIELDS",
    "consent_record",
    "customer_contact_unique_check",
    "customer_create",
    "customer_profile_clean",
    "customer_profile_problems",
    "customer_search_text",
    "customer_tag_add",
    "customer_tag_remove",
    "customer_tags_set",
    "customer_update",
    "interaction_log",
    "order_lines_problem",
    "order_placed_at_problem",
    "order_record",
    "refund_record",
]

# Portal membership (claim / enrol) and privacy (consent centre, unsubscribe, export, erasure).
from .consent import (
    consent_preferences_save,
    unsubscribe_apply,
    unsubscribe_token_make,
    unsubscribe_token_read,
)
from .erasure import customer_erase
from .export import customer_export
from .membership import (
    membership_claim_by_phone,
    membership_claim_verified,
    membership_enrol,
    membership_options,
    phone_code_send,
)
from .merge import customer_merge, customer_merge_check

__all__ += [
    "consent_preferences_save",
    "customer_erase",
    "customer_export",
    "customer_merge",
    "customer_merge_check",
    "membership_claim_by_phone",
    "membership_claim_verified",
    "membership_enrol",
    "membership_options",
    "phone_code_send",
    "unsubscribe_apply",
    "unsubscribe_token_make",
    "unsubscribe_token_read",
]
