"""Row locks, always taken in primary-key order so two transactions never deadlock."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import LoyaltyAccount, Reward, Tier


def entry_tier() -> Tier | None:
    """The tier a new account starts in: the lowest one that needs nothing to qualify."""
    return Tier.objects.filter(threshold=0).order_by("rank").first()


def account_ensure(*, customer_id: int) -> LoyaltyAccount:
    """The customer's account, created on first use in the entry tier (race-safe through the
    unique key)."""
    account = LoyaltyAccount.objects.filter(customer_id=customer_id).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            entry = entry_tier()
            return LoyaltyAccount.objects.create(
                customer_id=customer_id, tier=entry, tier_since=timezone.now() if entry else None
            )
    except IntegrityError:
        return LoyaltyAccount.objects.get(customer_id=customer_id)


def lock_account(*, customer_id: int) -> LoyaltyAccount:
    """The customer's account, row-locked (created first if it does not exist yet): one query
    when it exists, the usual case."""
    locked = LoyaltyAccount.objects.select_for_update(of=("self",)).select_related("tier")
    account = locked.filter(customer_id=customer_id).first()
    if account is None:
        account_ensure(customer_id=customer_id)
        account = locked.get(customer_id=customer_id)
    return account


def lock_accounts(*, account_ids: list[int]) -> dict[int, LoyaltyAccount]:
    rows = LoyaltyAccount.objects.select_for_update().filter(pk__in=account_ids).order_by("pk")
    return {a.pk: a for a in rows}


def lock_reward(*, reward_id: int) -> Reward:
    return Reward.objects.select_for_update().get(pk=reward_id)
