"""Prometheus metrics the gateway exports at `/metrics`: every family, in one registry.

Counters and histograms are moved where their event happens (one `inc` or `observe`);
the gauges that describe stored state (tree size, outbox backlog, breaker states, the
database pool) are read when `/metrics` is scraped (`gateway/ops/metrics.py`). Labels
carry names, codes and routes only — never identifiers or personal data.
"""

from __future__ import annotations

import re

from prometheus_client import Counter, Gauge, Histogram

# Latencies from a cached read (~1 ms) to a source's whole time budget (5 s and more).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

# -- requests (rate, errors, duration) --------------------------------------------------------
HTTP_REQUESTS = Counter(
    "lendgate_http_requests_total",
    "Requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "lendgate_http_request_duration_seconds",
    "Time to answer a request, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)

# -- releases -----------------------------------------------------------------------------------
RELEASES = Counter(
    "lendgate_releases_total",
    "Release attempts by outcome: `granted` or the refusal's error code.",
    ["outcome"],
)
EGRESS_BLOCKS = Counter(
    "lendgate_egress_blocks_total",
    "Releases the egress guard stopped, by purpose and personal-data entity type found.",
    ["purpose", "entity_type"],
)

# -- sources ------------------------------------------------------------------------------------
SOURCE_FETCH_SECONDS = Histogram(
    "lendgate_source_fetch_duration_seconds",
    "Time one fetch from a source took, retries included, by source and outcome (ok, error).",
    ["source", "outcome"],
    buckets=LATENCY_BUCKETS,
)
SOURCE_ERRORS = Counter(
    "lendgate_source_errors_total",
    "Failed attempts at a source, by source and reason "
    "(timeout, unreachable, http_status, malformed, circuit_open).",
    ["source", "reason"],
)
SOURCE_CIRCUIT_STATE = Gauge(
    "lendgate_source_circuit_state",
    "1 for the state each source's circuit breaker is in (closed, open, half_open) in this "
    "process, 0 for the others.",
    ["source", "state"],
)

# -- audit log ----------------------------------------------------------------------------------
AUDIT_APPEND_SECONDS = Histogram(
    "lendgate_audit_append_duration_seconds",
    "Time to append a batch of leaves to the audit log (reservation, insert, tree update).",
    buckets=LATENCY_BUCKETS,
)
AUDIT_TREE_SIZE = Gauge("lendgate_audit_tree_size", "Leaves in the audit log.")
AUDIT_SIGNED_TREE_SIZE = Gauge(
    "lendgate_audit_signed_tree_size", "Leaves covered by the latest signed tree head."
)
AUDIT_SIGNED_HEAD_AGE = Gauge(
    "lendgate_audit_signed_tree_head_age_seconds",
    "Age of the latest signed tree head (0 before the first one).",
)

# -- lender notifications -----------------------------------------------------------------------
NOTIFICATION_BACKLOG = Gauge(
    "lendgate_notification_outbox_events",
    "Lender notifications in the outbox, by status (pending, failed).",
    ["status"],
)
NOTIFICATION_DELIVERIES = Counter(
    "lendgate_notification_deliveries_total",
    "Delivery attempts of lender notifications, by outcome (delivered, retrying, failed).",
    ["outcome"],
)

# -- borrowers and tokens -----------------------------------------------------------------------
OTP_SENT = Counter(
    "lendgate_otp_sent_total", "One-time codes sent, by purpose (login, approve).", ["purpose"]
)
OTP_LOCKOUTS = Counter(
    "lendgate_otp_lockouts_total",
    "Code requests and code checks refused because the phone is locked out.",
)
TOKEN_REFUSALS = Counter(
    "lendgate_token_refusals_total",
    "Requests refused with InvalidToken (client assertions, access tokens, DPoP proofs, "
    "borrower sessions), by reason.",
    ["reason"],
)

# -- database -----------------------------------------------------------------------------------
DB_POOL_CONNECTIONS = Gauge(
    "lendgate_db_pool_connections",
    "Connections of this process's request pool, by state (in_use, idle, overflow); "
    "`limit` is the pool size plus the overflow allowed.",
    ["state"],
)

_QUOTED = re.compile(r"'[^']*'|`[^`]*`")


def refusal_reason(detail: str) -> str:
    """A refusal's detail as a bounded label: quoted names replaced, at most 80 characters."""
    return _QUOTED.sub("…", detail)[:80]
