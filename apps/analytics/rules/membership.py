"""Segment membership for the loyalty engine's ``CONDITIONS["segment"]`` (registered in
``AnalyticsConfig.ready``): an earn rule limited to a segment applies only to its members."""

from ..models import Segment
from .compiler import segment_customers


def segment_member(*, segment_id: int, customer_id: int | None) -> bool:
    if customer_id is None:
        return False
    rules = Segment.objects.filter(pk=segment_id).values_list("rules", flat=True).first()
    if rules is None:
        return False
    return segment_customers(rules).filter(pk=customer_id).exists()


def segment_condition(rule, facts) -> bool:
    """True for rules without a segment; else whether the order's member is in it now."""
    segment_id = getattr(rule, "segment_id", None)
    if not segment_id:
        return True
    return segment_member(segment_id=segment_id, customer_id=facts.customer_id)
