"""Offline verification of an exported audit bundle (`lendgate audit verify`).

Needs nothing but the bundle (and, better, a JWKS of the gateway obtained
elsewhere, and a tree head kept from an earlier visit): every leaf is re-hashed
from its content, every root recomputed from those hashes, every signature
checked. Trust in the gateway's operator is not required — only in its public key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from lendgate_sdk.claims import COSIGNATURE_TYPE, STH_TYPE, TREE_HEAD_CLAIMS

from gateway.audit import merkle
from gateway.audit.merkle import Frontier
from gateway.core.errors import InvalidToken
from gateway.crypto import jose

BUNDLE_FORMAT = "lendgate-audit-bundle/1"


class BundleError(ValueError):
    """The bundle (or an input beside it) is not something that can be checked at all."""


@dataclass(frozen=True)
class Problem:
    """Something that does not verify; `leaf` names the leaf when one is to blame."""

    message: str
    leaf: int | None = None


@dataclass
class Verification:
    """The outcome: what was checked, and every problem found."""

    checked: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether everything verified."""
        return not self.problems

    @property
    def first_bad_leaf(self) -> int | None:
        """The lowest leaf index any problem names."""
        leaves = [problem.leaf for problem in self.problems if problem.leaf is not None]
        return min(leaves) if leaves else None

    def lines(self) -> list[str]:
        """A human-readable account, verdict first."""
        if self.ok:
            return ["verified", *(f"  ok  {line}" for line in self.checked)]
        first = self.first_bad_leaf
        verdict = f"FAILED: first bad leaf {first}" if first is not None else "FAILED"
        return [
            verdict,
            *(f"  bad {problem.message}" for problem in self.problems[:50]),
            *([f"  ... and {len(self.problems) - 50} more"] if len(self.problems) > 50 else []),
            *(f"  ok  {line}" for line in self.checked),
        ]


def parse_tree_head(value: Any) -> str:
    """The compact JWS of a tree head given as a JWS string or as the `/v1/audit/sth` answer."""
    if isinstance(value, str) and value.count(".") == 2:
        return value.strip()
    if isinstance(value, Mapping) and isinstance(value.get("sth"), str):
        return str(value["sth"])
    raise BundleError("an earlier tree head is its JWS, or the JSON `GET /v1/audit/sth` answers")


def tree_head_claims(sth: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The claims of a signed tree head whose signature verifies against `jwks`."""
    claims = jose.verify_jwt(sth, jwks, audience=None, issuer=None, required=(), typ=STH_TYPE)
    size, root, timestamp = (claims.get(name) for name in TREE_HEAD_CLAIMS)
    if not (_whole(size) and isinstance(root, str) and _whole(timestamp)):
        raise InvalidToken("The tree head lacks tree_size, root_hash or timestamp.")
    return claims


def verify_bundle(
    bundle: Mapping[str, Any],
    *,
    trusted_jwks: Mapping[str, Any] | None = None,
    previous: Any = None,
) -> Verification:
    """Check every leaf, root, tree head and co-signature of `bundle`.

    `trusted_jwks`: the gateway's keys as obtained elsewhere (else the bundle's own).
    `previous`: a tree head kept from before; the bundle must extend it unchanged.
    """
    result = Verification()
    start, end, leaves, prefix, suffix, heads = _shape(bundle)
    jwks = trusted_jwks if trusted_jwks is not None else bundle.get("jwks")
    if not isinstance(jwks, Mapping):
        raise BundleError("no JWKS to check signatures with (the bundle has none; pass --jwks)")
    earlier = _earlier_head(previous, jwks)

    # 1. Tree heads and co-signatures: signatures first, so nothing below trusts an unsigned root.
    signed: dict[int, dict[str, Any]] = {}
    cosigned = 0
    for item in heads:
        listed = item.get("tree_size")
        try:
            claims = tree_head_claims(str(item.get("sth", "")), jwks)
        except InvalidToken as error:
            result.problems.append(Problem(f"tree head {listed}: {error.detail}"))
            continue
        if any(item.get(name) != claims[name] for name in TREE_HEAD_CLAIMS):
            result.problems.append(Problem(f"tree head {listed}: its fields differ from its JWS"))
            continue
        signed[int(claims["tree_size"])] = claims
        cosigned += _check_cosignatures(item, claims, bundle.get("witnesses"), result)

    # 2. Leaves: each re-hashed from its content, in order, with no gap.
    checkpoints = {*signed, *([earlier["tree_size"]] if earlier else [])}
    roots: dict[int, bytes] = {}
    tree = _resume(prefix, start)
    if tree.size in checkpoints:
        roots[tree.size] = tree.root()
    expected = start
    for item in leaves:
        index = item.get("index")
        if not _whole(index):
            raise BundleError(f"a leaf after {expected - 1} has no index")
        if index > expected:
            result.problems.append(
                Problem(f"leaf {expected} is missing: the next leaf is {index}", leaf=expected)
            )
        elif index < expected:
            result.problems.append(
                Problem(f"leaf {index} appears again after leaf {expected - 1}", leaf=index)
            )
        content = item.get("leaf")
        digest = merkle.leaf_hash(_leaf_bytes(content))
        if not isinstance(content, Mapping):
            result.problems.append(Problem(f"leaf {index} is not a JSON object", leaf=index))
        elif content.get("seq") != index:
            result.problems.append(
                Problem(
                    f"leaf {index} records itself as leaf {content.get('seq')}: "
                    "leaves were removed, reordered or renumbered",
                    leaf=index,
                )
            )
        recorded = item.get("leaf_hash")
        if recorded is not None and recorded != digest.hex():
            result.problems.append(
                Problem(
                    f"leaf {index}: its content does not hash to the leaf hash the log "
                    "recorded (it was changed after it was written)",
                    leaf=index,
                )
            )
        tree.append(digest)
        expected = index + 1
        if tree.size in checkpoints:
            roots[tree.size] = tree.root()
    if expected < end:
        result.problems.append(
            Problem(
                f"leaf {expected} is missing: the bundle stops before leaf {end}", leaf=expected
            )
        )
    for node in suffix:
        _append_node(tree, node)
    roots[tree.size] = tree.root()
    result.checked.append(
        f"{len(leaves)} leaves ({start}..{end - 1}) re-hashed from their content"
        if leaves
        else f"no leaves in [{start}, {end})"
    )

    # 3. Every signed root against the recomputed one.
    matched = []
    for size, claims in sorted(signed.items()):
        computed = roots.get(size)
        if computed is None:
            result.problems.append(
                Problem(f"tree head {size} lies outside what this bundle covers")
            )
        elif computed.hex() != claims["root_hash"]:
            result.problems.append(
                Problem(
                    f"tree head {size}: the gateway signed root {claims['root_hash'][:16]}…, "
                    f"the leaves give {computed.hex()[:16]}…"
                )
            )
        else:
            matched.append(size)
    if tree.size not in signed:
        result.problems.append(
            Problem(f"no signed tree head of size {tree.size} closes the bundle")
        )
    if matched:
        result.checked.append(
            f"{len(matched)} signed tree heads match the recomputed roots "
            f"(largest: size {matched[-1]}, root {signed[matched[-1]]['root_hash']})"
        )
    if cosigned:
        result.checked.append(f"{cosigned} co-signatures by witnesses verify")

    # 4. The earlier head: the log may only have grown from it.
    if earlier is not None:
        _check_earlier(earlier, roots, tree.size, start, end, result)
    return result


def _shape(
    bundle: Mapping[str, Any],
) -> tuple[int, int, list[Any], list[Any], list[Any], list[Any]]:
    if not isinstance(bundle, Mapping) or bundle.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"not a {BUNDLE_FORMAT} bundle")
    start, end = bundle.get("from"), bundle.get("to")
    if not (_whole(start) and _whole(end) and 0 <= start <= end):
        raise BundleError("the bundle's from/to are not leaf positions")
    parts = []
    for name in ("leaves", "prefix", "suffix", "tree_heads"):
        value = bundle.get(name)
        if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
            raise BundleError(f"the bundle's `{name}` is not a list of objects")
        parts.append(value)
    leaves, prefix, suffix, heads = parts
    return start, end, leaves, prefix, suffix, heads


def _earlier_head(previous: Any, jwks: Mapping[str, Any]) -> dict[str, Any] | None:
    if previous is None:
        return None
    sth = parse_tree_head(previous)
    try:
        return tree_head_claims(sth, jwks)
    except InvalidToken as error:
        raise BundleError(f"the earlier tree head does not verify: {error.detail}") from None


def _check_cosignatures(
    item: Mapping[str, Any], claims: Mapping[str, Any], witnesses: Any, result: Verification
) -> int:
    verified = 0
    size = claims["tree_size"]
    for cosignature in item.get("cosignatures") or []:
        witness = cosignature.get("witness") if isinstance(cosignature, Mapping) else None
        known = witnesses.get(witness) if isinstance(witnesses, Mapping) else None
        if not isinstance(known, Mapping) or not isinstance(known.get("jwks"), Mapping):
            result.problems.append(
                Problem(f"tree head {size}: co-signer {witness} has no key here")
            )
            continue
        try:
            signed = jose.verify_jwt(
                str(cosignature.get("signature", "")),
                known["jwks"],
                audience=None,
                issuer=str(witness),
                required=("iat",),
                typ=COSIGNATURE_TYPE,
            )
        except InvalidToken as error:
            result.problems.append(
                Problem(f"tree head {size}: co-signature by {witness}: {error.detail}")
            )
            continue
        if any(signed.get(name) != claims[name] for name in TREE_HEAD_CLAIMS):
            result.problems.append(
                Problem(f"tree head {size}: {witness} co-signed a different tree head")
            )
            continue
        verified += 1
    return verified


def _check_earlier(
    earlier: Mapping[str, Any],
    roots: Mapping[int, bytes],
    size: int,
    start: int,
    end: int,
    result: Verification,
) -> None:
    old_size, old_root = int(earlier["tree_size"]), str(earlier["root_hash"])
    if old_size > size:
        result.problems.append(
            Problem(
                f"the log shrank: an earlier tree head had {old_size} leaves, this bundle's "
                f"tree has {size} (history was cut off)",
                leaf=size,
            )
        )
        return
    computed = roots.get(old_size)
    if computed is None:
        raise BundleError(
            f"the earlier tree head (size {old_size}) cannot be checked against leaves "
            f"{start}..{end - 1}; export a range with from ≤ {old_size} ≤ to"
        )
    if computed.hex() != old_root:
        result.problems.append(
            Problem(
                f"history was rewritten: the earlier tree head of size {old_size} has root "
                f"{old_root[:16]}…, the same {old_size} leaves now give {computed.hex()[:16]}…"
            )
        )
        return
    result.checked.append(
        f"consistent with the earlier tree head of size {old_size} (root {old_root})"
    )


def _resume(prefix: list[Any], start: int) -> Frontier:
    """The tree up to `start`, from the perfect-subtree hashes the bundle carries for it."""
    tree = Frontier()
    for node in prefix:
        _append_node(tree, node)
    if tree.size != start:
        raise BundleError(f"the bundle's prefix covers {tree.size} leaves, not {start}")
    return tree


def _append_node(tree: Frontier, node: Mapping[str, Any]) -> None:
    level, index, digest = node.get("level"), node.get("index"), node.get("hash")
    if not (_whole(level) and _whole(index) and isinstance(digest, str)):
        raise BundleError("a subtree hash in the bundle is malformed")
    if index << level != tree.size:
        raise BundleError(f"subtree {level}/{index} does not continue the tree at leaf {tree.size}")
    try:
        raw = bytes.fromhex(digest)
    except ValueError:
        raise BundleError(f"subtree {level}/{index} has no hex hash") from None
    if len(raw) != merkle.HASH_SIZE:
        raise BundleError(f"subtree {level}/{index} has no SHA-256 hash")
    tree.append(raw, level)


def _leaf_bytes(content: Any) -> bytes:
    if isinstance(content, Mapping):
        try:
            return merkle.canonical_json(content)
        except (TypeError, ValueError):
            return b""
    return str(content).encode()


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
