"""Coupon and referral codes.

Coupon codes are bearer secrets: 28 symbols drawn with ``secrets`` from a 31-symbol alphabet
(digits 2-9 and A-Z without I, L, O), i.e. 28 × log2(31) ≈ 138.7 bits of randomness, shown in
seven groups of four (``7KQ4-…``, 34 characters). The alphabet leaves out the symbols people
confuse (0/O, 1/I/L), so there is nothing to "correct": input is normalised by folding
full-width characters (Chinese input methods), upper-casing and dropping spaces, dashes and
other separators, then re-grouped before the lookup.

A voucher in a member's wallet (a coupon with an owner) is typed at a till, so its code is short:
10 symbols of the same alphabet, ``7KQ4-M9TD-X2`` (10 × log2(31) ≈ 49.5 bits). It is bound to its
owner (another member's check is ``not_owner``) and guessing is rate-limited per API key and
member (``API_COUPON_CHECK_RATE``, 30 a minute): finding one live voucher by chance would take
millions of years of guessing at that rate. Bearer codes without an owner (batches) keep 28.

Referral codes are not secrets (they are meant to be shared); they are short (8 symbols of the
same alphabet) and unique through a database constraint.
"""

import base64
import secrets
import unicodedata

from django.utils.crypto import salted_hmac

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
COUPON_CODE_LENGTH = 28
VOUCHER_CODE_LENGTH = 10
GROUP = 4
REFERRAL_CODE_LENGTH = 8
_SEPARATORS = str.maketrans("", "", " \t\r\n-_.‐‑‒–—―")
_BASE = len(ALPHABET)  # 31


def _random_symbols(length: int) -> str:
    value = secrets.randbits(5 * length + 16)  # extra bits keep the modulo bias negligible
    out = []
    for _ in range(length):
        value, digit = divmod(value, _BASE)
        out.append(ALPHABET[digit])
    return "".join(out)


def code_group(compact: str) -> str:
    """``ABCDEFGH`` → ``ABCD-EFGH``."""
    return "-".join(compact[i : i + GROUP] for i in range(0, len(compact), GROUP))


def code_compact(raw: str) -> str:
    """Canonical form of what a person typed: NFKC-folded, upper-case, no separators."""
    return unicodedata.normalize("NFKC", raw or "").upper().translate(_SEPARATORS)


def code_normalize(raw: str) -> str:
    """The stored form of a typed coupon code (grouped with dashes)."""
    return code_group(code_compact(raw))


def coupon_code_generate() -> str:
    """A new coupon code: ≥128 bits from ``secrets``, grouped ``XXXX-XXXX-…``."""
    return code_group(_random_symbols(COUPON_CODE_LENGTH))


def voucher_code_generate() -> str:
    """A new code for an owned voucher: 10 symbols, grouped ``XXXX-XXXX-XX``."""
    return code_group(_random_symbols(VOUCHER_CODE_LENGTH))


def referral_code_generate() -> str:
    return _random_symbols(REFERRAL_CODE_LENGTH)


def redemption_reference(redemption) -> str:
    """The public id of a redemption: ``RD-`` and 20 base-32 symbols of an HMAC (keyed by the
    project's secret) of its database id. Stable for the life of the secret key, reveals
    neither the id nor how many redemptions exist, and cannot be guessed into another one."""
    digest = salted_hmac("apps.api.redemption-reference", str(redemption.pk)).digest()
    return "RD-" + base64.b32encode(digest).decode()[:20]
