"""Tampering with the stored log, as a database superuser could, is caught offline.

Each test gets a database of its own (on SQLite and on PostgreSQL), tells a short
story, changes the log behind the gateway's back (getting around the append-only
triggers), exports a bundle over the API as a regulator would, and runs
`lendgate audit verify` on it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from gateway.audit.merkle import Frontier, canonical_json, leaf_hash
from gateway.audit.models import AuditEntry
from tests.support.audit import (
    Statement,
    Story,
    behind_the_gateways_back,
    export_to,
    stored_leaf,
    tell_a_story,
    verify,
)
from tests.support.stack import Stack


async def save(path: Path, document: object) -> Path:
    await asyncio.to_thread(path.write_text, json.dumps(document, ensure_ascii=False))
    return path


async def exported(stack: Stack, story: Story, path: Path) -> Path:
    async with stack.regulator_client(story.regulator) as regulator:
        await export_to(regulator, path)
    return path


async def test_an_untouched_log_verifies(fresh_stack: Stack, tmp_path: Path) -> None:
    story = await tell_a_story(fresh_stack)
    result = verify(await exported(fresh_stack, story, tmp_path / "bundle.json"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("verified")


async def test_a_changed_leaf_is_named(fresh_stack: Stack, tmp_path: Path) -> None:
    story = await tell_a_story(fresh_stack)
    target = story.denied_leaf
    original = await stored_leaf(fresh_stack, target)
    assert '"outcome":"denied"' in original
    # Hide the refusal: the release after revocation now reads as granted.
    await behind_the_gateways_back(
        fresh_stack,
        "audit_entries",
        'UPDATE audit_entries SET leaf = replace(leaf, \'"outcome":"denied"\', '
        f'\'"outcome":"ok"\') WHERE seq = {target}',
    )
    assert await stored_leaf(fresh_stack, target) != original

    result = verify(await exported(fresh_stack, story, tmp_path / "bundle.json"))
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[0] == f"FAILED: first bad leaf {target}"
    assert f"leaf {target}: its content does not hash to the leaf hash" in result.output


async def test_a_deleted_leaf_is_named(fresh_stack: Stack, tmp_path: Path) -> None:
    story = await tell_a_story(fresh_stack)
    target = story.granted_leaf
    await behind_the_gateways_back(
        fresh_stack, "audit_entries", f"DELETE FROM audit_entries WHERE seq = {target}"
    )
    result = verify(await exported(fresh_stack, story, tmp_path / "bundle.json"))
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[0] == f"FAILED: first bad leaf {target}"
    assert f"leaf {target} is missing" in result.output


async def test_a_deleted_leaf_with_the_rest_renumbered_is_named(
    fresh_stack: Stack, tmp_path: Path
) -> None:
    story = await tell_a_story(fresh_stack)
    target = story.granted_leaf
    await behind_the_gateways_back(
        fresh_stack,
        "audit_entries",
        f"DELETE FROM audit_entries WHERE seq = {target}",
        # Close the gap from the top down so the primary key never collides.
        *(
            f"UPDATE audit_entries SET seq = seq - 1 WHERE seq = {seq}"
            for seq in range(target + 1, target + 40)
        ),
    )
    result = verify(await exported(fresh_stack, story, tmp_path / "bundle.json"))
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[0] == f"FAILED: first bad leaf {target}"
    assert f"leaf {target} records itself as leaf {target + 1}" in result.output


async def test_two_swapped_leaves_are_named(fresh_stack: Stack, tmp_path: Path) -> None:
    story = await tell_a_story(fresh_stack)
    first, second = story.granted_leaf, story.denied_leaf
    await behind_the_gateways_back(
        fresh_stack,
        "audit_entries",
        f"UPDATE audit_entries SET seq = -1 WHERE seq = {first}",
        f"UPDATE audit_entries SET seq = {first} WHERE seq = {second}",
        f"UPDATE audit_entries SET seq = {second} WHERE seq = -1",
    )
    result = verify(await exported(fresh_stack, story, tmp_path / "bundle.json"))
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[0] == f"FAILED: first bad leaf {first}"
    assert f"leaf {first} records itself as leaf {second}" in result.output
    assert f"leaf {second} records itself as leaf {first}" in result.output


async def rewrite_history(stack: Stack, target: int) -> None:
    """A thorough forger: change a leaf, re-hash the whole tree, drop every signed head."""
    async with stack.context.sessionmaker() as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all()
        rows = [(entry.seq, entry.leaf) for entry in entries]
    frontier, nodes = Frontier(), []
    forged_leaf: Statement = ""
    for seq, leaf in rows:
        if seq == target:
            forged = json.loads(leaf)
            forged["outcome"] = "ok"
            leaf = canonical_json(forged).decode()
            forged_leaf = (
                "UPDATE audit_entries SET leaf = :leaf, leaf_hash = :digest WHERE seq = :seq",
                {"leaf": leaf, "digest": leaf_hash(leaf.encode()).hex(), "seq": seq},
            )
        nodes.extend(frontier.append(leaf_hash(leaf.encode())))
    await behind_the_gateways_back(stack, "audit_entries", forged_leaf)
    await behind_the_gateways_back(
        stack,
        "audit_nodes",
        "DELETE FROM audit_nodes",
        *(
            (
                "INSERT INTO audit_nodes (level, position, hash) VALUES (:level, :index, :hash)",
                {"level": level, "index": index, "hash": digest},
            )
            for level, index, digest in nodes
        ),
        ("UPDATE audit_head SET frontier = :frontier", {"frontier": frontier.to_bytes()}),
    )
    await behind_the_gateways_back(stack, "audit_cosignatures", "DELETE FROM audit_cosignatures")
    await behind_the_gateways_back(stack, "audit_tree_heads", "DELETE FROM audit_tree_heads")


async def test_a_rewritten_history_is_caught_by_an_earlier_tree_head(
    fresh_stack: Stack, tmp_path: Path
) -> None:
    story = await tell_a_story(fresh_stack)
    async with fresh_stack.regulator_client(story.regulator) as regulator:
        kept = await save(tmp_path / "kept-sth.json", await regulator.tree_head())
        old_bundle = await export_to(regulator, tmp_path / "old.json")
    await rewrite_history(fresh_stack, story.denied_leaf)

    bundle = await exported(fresh_stack, story, tmp_path / "bundle.json")
    # Alone, a perfect forgery re-signed by the gateway's own key looks whole ...
    alone = verify(bundle)
    assert alone.exit_code == 0, alone.output
    # ... but not next to the tree head the regulator kept from before.
    result = verify(bundle, "--previous", str(kept))
    assert result.exit_code == 1, result.output
    assert "history was rewritten" in result.output
    assert "the earlier tree head of size" in result.output
    # The JWS alone works as well as the saved answer.
    sth = json.loads(kept.read_text())["sth"]
    assert verify(bundle, "--previous", sth).exit_code == 1
    # An earlier bundle still holds the leaf as it was written.
    leaf = next(item for item in old_bundle["leaves"] if item["index"] == story.denied_leaf)
    assert leaf["leaf"]["outcome"] == "denied"


async def test_signed_heads_left_behind_betray_a_rewrite(
    fresh_stack: Stack, tmp_path: Path
) -> None:
    story = await tell_a_story(fresh_stack)
    async with fresh_stack.regulator_client(story.regulator) as regulator:
        old_head = await regulator.tree_head()
    await rewrite_history(fresh_stack, story.denied_leaf)
    # Put the old signed head back, as a forger who forgot it would have left it.
    await behind_the_gateways_back(
        fresh_stack,
        "audit_tree_heads",
        (
            "INSERT INTO audit_tree_heads (tree_size, root_hash, timestamp, signature, kid, "
            "created_at) VALUES (:size, :root, :timestamp, :sth, 'old', :at)",
            {
                "size": old_head["tree_size"],
                "root": old_head["root_hash"],
                "timestamp": old_head["timestamp"],
                "sth": old_head["sth"],
                "at": datetime.now(UTC),
            },
        ),
    )
    result = verify(await exported(fresh_stack, story, tmp_path / "bundle.json"))
    assert result.exit_code == 1, result.output
    assert f"tree head {old_head['tree_size']}: the gateway signed root" in result.output


async def test_a_log_cut_short_is_caught(fresh_stack: Stack, tmp_path: Path) -> None:
    story = await tell_a_story(fresh_stack)
    async with fresh_stack.regulator_client(story.regulator) as regulator:
        kept = await save(tmp_path / "kept-sth.json", await regulator.tree_head())
        old = json.loads(kept.read_text())
        bundle = await export_to(regulator, tmp_path / "bundle.json", start=0, end=5)
    assert bundle["to"] == 5
    # A bundle of the first 5 leaves holds too little to judge a later head by (exit 2) ...
    result = verify(tmp_path / "bundle.json", "--previous", str(kept))
    assert result.exit_code == 2, result.output
    assert "export a range with from ≤" in result.output
    # ... whereas a bundle whose whole tree is smaller than the kept head is a rollback.
    shrunk = json.loads((tmp_path / "bundle.json").read_text())
    shrunk["suffix"] = []
    shrunk["tree_heads"] = [h for h in shrunk["tree_heads"] if h["tree_size"] <= 5]
    await save(tmp_path / "shrunk.json", shrunk)
    result = verify(tmp_path / "shrunk.json", "--previous", str(kept))
    assert result.exit_code == 1
    assert f"the log shrank: an earlier tree head had {old['tree_size']} leaves" in result.output
