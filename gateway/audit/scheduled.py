"""The audit log's periodic job: a signed tree head whenever the log has grown."""

from __future__ import annotations

from gateway.audit.tree_heads import issue_tree_head
from gateway.core.db import unit_of_work
from gateway.core.settings import Settings
from gateway.runtime.context import GatewayContext


def tree_head_interval(settings: Settings) -> float:
    """Seconds between tree heads."""
    return settings.audit_tree_head_interval_seconds


async def issue_tree_heads(context: GatewayContext) -> None:
    """Sign a tree head for the log as it stands, unless one of that size exists."""
    async with unit_of_work(context.sessionmaker) as session:
        await issue_tree_head(session, context.keys)


JOBS = (("audit.tree_head", tree_head_interval, issue_tree_heads),)
