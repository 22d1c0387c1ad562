"""Signed digests of the ledger's chain heads, meant to be kept outside the database.

The HMAC chain (``ledger.tx_hash``) stops someone who can write to the database but does not
hold ``LEDGER_KEY``. Someone who holds it can change a row and rebuild the chain and the account
counters consistently, and ``verify_ledger`` alone then passes. A digest taken earlier and kept
elsewhere (e-mailed to the Managers every night, or written with ``ledger_digest --out`` to
wherever operations keep evidence) still records each chain's head as it was, so
``verify_ledger --digest FILE`` catches that rewrite: recomputed from the start, the chain no
longer ends in the recorded head.

Format (JSON, version 1)::

    {"format": "clientele-ledger-digest", "version": 1,
     "generated_at": "2026-05-01T18:15:00Z",
     "algorithm": {"chain": "HMAC-SHA-256", "merkle": "SHA-256 (RFC 6962)",
                   "signature": "HMAC-SHA-256"},
     "key_id": "<16 hex: fingerprint of LEDGER_KEY>",
     "accounts": 2, "rows": 17, "last_transaction": 917,
     "heads": [{"account": 4, "last_transaction": 880, "count": 9,
                "head": "<64 hex>", "balance": 120}, ...],
     "merkle_root": "<64 hex>",
     "signature": "<64 hex>"}

``heads`` holds every account with at least one ledger row, by account id (an account without
rows has nothing recorded to protect). The Merkle root is RFC 6962's tree hash over the heads'
leaves ``"account:last_transaction:count:head:balance"`` in that order, so one account's head can
be proven against a published root. The signature is HMAC-SHA-256, under a key derived from
``LEDGER_KEY`` for this purpose only, of the canonical JSON (sorted keys, no spaces, ASCII) of
everything but ``signature``. It proves the digest came from a holder of the key and was not
edited since; it cannot prove that against the key's holder, which is why the copies must live
where the database's writers cannot reach them.
"""

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .exceptions import LedgerDigestInvalid
from .ledger import CHAIN_ALGORITHM, ledger_key_id, ledger_subkey

FORMAT = "clientele-ledger-digest"
VERSION = 1
ALGORITHM = {"chain": CHAIN_ALGORITHM, "merkle": "SHA-256 (RFC 6962)", "signature": "HMAC-SHA-256"}
SIGNING_LABEL = "clientele/ledger-digest-signature/v1"


@dataclass(frozen=True, slots=True)
class ChainHead:
    """One account's chain as a digest records it: its newest row and how many rows lead to it."""

    account_id: int
    last_transaction: int
    count: int
    hash: str
    balance: int

    def leaf(self) -> bytes:
        return (
            f"{self.account_id}:{self.last_transaction}:{self.count}:{self.hash}:{self.balance}"
        ).encode()

    def as_json(self) -> dict:
        return {
            "account": self.account_id,
            "last_transaction": self.last_transaction,
            "count": self.count,
            "head": self.hash,
            "balance": self.balance,
        }


def merkle_root(leaves: Sequence[bytes]) -> str:
    """RFC 6962 Merkle tree hash: SHA-256, leaves prefixed 0x00, nodes 0x01. Pairing left to
    right and carrying an odd last node up unchanged builds exactly RFC 6962's tree."""
    if not leaves:
        return hashlib.sha256(b"").hexdigest()
    level = [hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves]
    while len(level) > 1:
        paired = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0].hex()


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _signature(body: dict) -> str:
    unsigned = {k: v for k, v in body.items() if k != "signature"}
    return hmac.new(ledger_subkey(SIGNING_LABEL), _canonical(unsigned), hashlib.sha256).hexdigest()


def digest_build(*, heads: Iterable[ChainHead], generated_at: dt.datetime) -> dict:
    """The signed digest of these chain heads (any order; kept by account id)."""
    ordered = sorted(heads, key=lambda h: h.account_id)
    body = {
        "format": FORMAT,
        "version": VERSION,
        "generated_at": generated_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "algorithm": ALGORITHM,
        "key_id": ledger_key_id(),
        "accounts": len(ordered),
        "rows": sum(h.count for h in ordered),
        "last_transaction": max((h.last_transaction for h in ordered), default=0),
        "heads": [h.as_json() for h in ordered],
        "merkle_root": merkle_root([h.leaf() for h in ordered]),
    }
    body["signature"] = _signature(body)
    return body


def digest_dumps(digest: dict) -> str:
    """The file text: the canonical JSON and a newline."""
    return _canonical(digest).decode() + "\n"


def digest_heads(digest: dict) -> list[ChainHead]:
    return [
        ChainHead(
            account_id=h["account"],
            last_transaction=h["last_transaction"],
            count=h["count"],
            hash=h["head"],
            balance=h["balance"],
        )
        for h in digest["heads"]
    ]


_HEAD_FIELDS = {"account": int, "last_transaction": int, "count": int, "head": str, "balance": int}


def digest_loads(text: str) -> dict:
    """Parse a digest file; ``LedgerDigestInvalid`` when it is not one (its signature is checked
    separately, by ``digest_problems``)."""
    try:
        digest = json.loads(text)
    except ValueError as exc:
        raise LedgerDigestInvalid(f"not JSON: {exc}") from exc
    if not isinstance(digest, dict) or digest.get("format") != FORMAT:
        raise LedgerDigestInvalid(f"not a {FORMAT} file")
    if digest.get("version") != VERSION:
        raise LedgerDigestInvalid(f"unsupported digest version {digest.get('version')!r}")
    heads = digest.get("heads")
    if not isinstance(heads, list) or not all(
        isinstance(h, dict)
        and all(type(h.get(name)) is kind for name, kind in _HEAD_FIELDS.items())
        for h in heads
    ):
        raise LedgerDigestInvalid("the heads are malformed")
    for name in ("signature", "merkle_root", "key_id", "generated_at"):
        if not isinstance(digest.get(name), str):
            raise LedgerDigestInvalid(f"{name} is missing")
    return digest


def digest_problems(digest: dict) -> list[str]:
    """Why this digest cannot be trusted under the current key (empty when it can): a signature
    that does not match (edited, or signed under another key) or a Merkle root that does not
    match its heads."""
    if not hmac.compare_digest(digest["signature"], _signature(digest)):
        if digest["key_id"] != ledger_key_id():
            return [
                f"digest: signed under another key (key id {digest['key_id']}, this server's "
                f"LEDGER_KEY is {ledger_key_id()}); it cannot be checked with this key"
            ]
        return ["digest: the signature does not match: the file was changed after it was signed"]
    if digest["merkle_root"] != merkle_root([h.leaf() for h in digest_heads(digest)]):
        return ["digest: the Merkle root does not match its heads"]
    return []
