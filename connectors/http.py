"""A connector for source systems that speak the gateway's query protocol over HTTP.

The connector asks for exactly the fields a release needs and trusts nothing the
source sends back: fields nobody asked for, keys of list items nobody asked for and
list items outside the consented months are dropped before anyone sees them, and
their names are reported in `SourceRecord.overshared`. Values are never logged.

Failures are bounded three ways: each attempt by the source's timeout; transient
failures (connection errors, 429 and 5xx answers) by a few retries with jittered
waits — a query is a read, so asking again is safe; and a run of failed fetches by
the source's circuit breaker, which then fails fetches at once without asking.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any, ClassVar

import httpx
import structlog

from connectors.base import Month, MonthRange, SourceConnector, SourceRecord
from connectors.protocol import AuthScheme, auth_headers
from connectors.resilience import RETRYABLE_STATUSES, CircuitBreaker, RetryPolicy
from connectors.schemas import NESTED_MONTHLY_LISTS
from gateway.core.errors import SourceUnavailable
from gateway.core.metrics import SOURCE_ERRORS, SOURCE_FETCH_SECONDS

log = structlog.get_logger()


class MalformedAnswer(Exception):
    """The source answered 200 with a body that does not follow the protocol."""


class _Transient(SourceUnavailable):
    """A failure that asking again may cure (the caller only ever sees `SourceUnavailable`)."""


class HttpSourceConnector(SourceConnector):
    """Queries one source's `POST /v1/query`, presenting the gateway's credential there.

    Subclasses set `source` and `schema`; the credential is presented the way the
    source wants it (`connectors.protocol`). The connector owns `client` and closes
    it in `aclose`. Each attempt is bounded by `timeout_seconds` as a whole, which
    also covers transports without socket timeouts (tests, in-process apps).
    """

    query_path: ClassVar[str] = "/v1/query"
    health_path: ClassVar[str] = "/healthz"
    auth_scheme: ClassVar[AuthScheme] = "api_key"
    """How this source wants the credential presented; a source that signs requests says so."""

    def __init__(
        self,
        base_url: str,
        credential: str,
        *,
        timeout_seconds: float = 5.0,
        client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker(self.source)
        self._credential = credential
        self._client = client or httpx.AsyncClient(timeout=timeout_seconds)
        # Parsed once: httpx parses a URL given as text on every request.
        self._query_url = httpx.URL(self.base_url + self.query_path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(source={self.source!r}, base_url={self.base_url!r})"

    @property
    def circuit(self) -> str:
        """The breaker's state: `closed`, `open` or `half_open`."""
        return self.breaker.state.value

    async def fetch(
        self, id_number: str, fields: Collection[str], months: MonthRange
    ) -> SourceRecord:
        """Fetch exactly `fields` for the person, restricted to `months`."""
        requested = frozenset(fields)
        unknown = requested - self.schema
        if unknown:
            raise ValueError(f"{self.source} has no field(s) {sorted(unknown)}")
        body = {
            "id_number": id_number,
            "fields": sorted(requested),
            "from_month": str(months.first),
            "to_month": str(months.last),
        }
        try:
            self.breaker.before_call()
        except SourceUnavailable:
            SOURCE_ERRORS.labels(self.source, "circuit_open").inc()
            raise
        started = time.perf_counter()
        try:
            answer = await self._post_query(body)
            record = self._read_answer(answer, requested, months)
        except MalformedAnswer:
            self._failed("malformed body", started, reason_label="malformed")
            raise SourceUnavailable(
                f"Source {self.source} answered with a malformed body."
            ) from None
        except SourceUnavailable as failure:
            self._failed(failure.detail, started)
            raise SourceUnavailable(failure.detail) from None
        except BaseException:
            # Cancelled (another source failed first): no verdict on this one.
            self.breaker.abandon()
            raise
        self.breaker.record_success()
        SOURCE_FETCH_SECONDS.labels(self.source, "ok").observe(time.perf_counter() - started)
        return record

    async def health(self) -> bool:
        """Whether the source answers its health check now."""
        try:
            async with asyncio.timeout(self.timeout_seconds):
                response = await self._client.get(
                    self.base_url + self.health_path, timeout=self.timeout_seconds
                )
        except (TimeoutError, httpx.HTTPError):
            return False
        return response.status_code == 200

    async def aclose(self) -> None:
        """Close the connector's HTTP client."""
        await self._client.aclose()

    def _failed(self, reason: str, started: float, *, reason_label: str | None = None) -> None:
        SOURCE_FETCH_SECONDS.labels(self.source, "error").observe(time.perf_counter() - started)
        if reason_label is not None:
            SOURCE_ERRORS.labels(self.source, reason_label).inc()
        before = self.breaker.state
        self.breaker.record_failure()
        after = self.breaker.state
        log.warning("source.failed", source=self.source, reason=reason, circuit=after.value)
        if after is not before:
            log.warning("source.circuit_opened", source=self.source)

    async def _post_query(self, body: Mapping[str, Any]) -> Any:
        """Send one query and return the decoded JSON body of a 200 answer.

        The single place that talks to the network: transient failures are retried
        here, with jittered waits, at most `retry.retries` times.
        """
        content = json.dumps(body, separators=(",", ":")).encode()
        retry = 0
        while True:
            try:
                return await self._attempt(content)
            except _Transient as failure:
                if retry >= self.retry.retries:
                    raise SourceUnavailable(failure.detail) from None
                log.info("source.retry", source=self.source, retry=retry + 1)
                await asyncio.sleep(self.retry.wait_before(retry))
                retry += 1

    async def _attempt(self, content: bytes) -> Any:
        """One query, bounded by the timeout; transient failures raise `_Transient`."""
        headers = {
            "Content-Type": "application/json",
            **auth_headers(self.auth_scheme, self._credential, "POST", self.query_path, content),
        }
        try:
            async with asyncio.timeout(self.timeout_seconds):
                response = await self._client.post(
                    self._query_url,
                    content=content,
                    headers=headers,
                    timeout=self.timeout_seconds,
                )
        except (TimeoutError, httpx.TimeoutException):
            # Not retried: a source that used its whole time budget is struggling, and
            # asking again would double the borrower's wait and the source's load.
            SOURCE_ERRORS.labels(self.source, "timeout").inc()
            raise SourceUnavailable(f"Source {self.source} did not answer in time.") from None
        except httpx.HTTPError:
            SOURCE_ERRORS.labels(self.source, "unreachable").inc()
            raise _Transient(f"Source {self.source} could not be reached.") from None
        if response.status_code != 200:
            status = response.status_code
            SOURCE_ERRORS.labels(self.source, "http_status").inc()
            failure = _Transient if status in RETRYABLE_STATUSES else SourceUnavailable
            raise failure(f"Source {self.source} answered with HTTP status {status}.")
        try:
            return response.json()
        except ValueError:
            SOURCE_ERRORS.labels(self.source, "malformed").inc()
            raise SourceUnavailable(
                f"Source {self.source} answered with a malformed body."
            ) from None

    def _read_answer(
        self, answer: Any, requested: frozenset[str], months: MonthRange
    ) -> SourceRecord:
        """Check the answer's shape and keep only what was asked for."""
        if not isinstance(answer, dict):
            raise MalformedAnswer
        as_of, found, record = answer.get("as_of"), answer.get("found"), answer.get("record")
        if answer.get("source", self.source) != self.source:
            raise MalformedAnswer
        if (
            not isinstance(as_of, str)
            or not isinstance(found, bool)
            or not isinstance(record, dict)
        ):
            raise MalformedAnswer
        try:
            as_of_month = Month.parse(as_of)
        except ValueError:
            raise MalformedAnswer from None
        if not found:
            return SourceRecord(self.source, as_of_month, False, {}, tuple(sorted(record)))
        fields, overshared = self._minimise(record, requested, months)
        return SourceRecord(self.source, as_of_month, True, fields, tuple(sorted(overshared)))

    def _minimise(
        self, record: Mapping[str, Any], requested: frozenset[str], months: MonthRange
    ) -> tuple[dict[str, Any], set[str]]:
        """The requested part of `record`, and the paths of everything dropped."""
        whole = {path for path in requested if "." not in path}
        keys: dict[str, set[str]] = {}
        for path in requested:
            name, _, key = path.partition(".")
            if key:
                keys.setdefault(name, set()).add(key)
        fields: dict[str, Any] = {}
        overshared: set[str] = set()
        for name, value in record.items():
            if name not in whole and name not in keys:
                overshared.add(name)
                continue
            item_keys = self._item_keys(name)
            if not item_keys:
                fields[name] = value
                continue
            range_key = self._range_key(name)
            if name in whole:
                allowed = item_keys
            else:
                allowed = keys[name] | ({range_key} if range_key else set())
            fields[name] = self._minimise_items(name, value, allowed, range_key, months, overshared)
        return fields, overshared

    def _minimise_items(
        self,
        name: str,
        items: Any,
        allowed: Collection[str],
        range_key: str | None,
        months: MonthRange,
        overshared: set[str],
    ) -> list[dict[str, Any]]:
        if not isinstance(items, list):
            raise MalformedAnswer
        kept_items = []
        for item in items:
            if not isinstance(item, dict):
                raise MalformedAnswer
            if range_key is not None and _month_of(item.get(range_key)) not in months:
                overshared.add(name)
                continue
            kept: dict[str, Any] = {}
            for key, value in item.items():
                if key not in allowed:
                    overshared.add(f"{name}.{key}")
                elif key in NESTED_MONTHLY_LISTS:
                    kept[key] = _entries_in(value, months, f"{name}.{key}", overshared)
                else:
                    kept[key] = value
            kept_items.append(kept)
        return kept_items

    def _item_keys(self, name: str) -> set[str]:
        """The keys the schema knows for items of list field `name` (empty for other fields)."""
        prefix = name + "."
        return {path[len(prefix) :] for path in self.schema if path.startswith(prefix)}

    def _range_key(self, name: str) -> str | None:
        """The item key a list is kept by (`month` or `date`), if it is kept by one."""
        for key in ("month", "date"):
            if f"{name}.{key}" in self.schema:
                return key
        return None


def _month_of(value: Any) -> Month:
    """The month of a `YYYY-MM` or `YYYY-MM-DD` text; anything else is malformed."""
    if not isinstance(value, str):
        raise MalformedAnswer
    try:
        if len(value) == 7:
            return Month.parse(value)
        return Month.of(date.fromisoformat(value))
    except ValueError:
        raise MalformedAnswer from None


def _entries_in(entries: Any, months: MonthRange, path: str, overshared: set[str]) -> list[Any]:
    """The month-kept entries inside `months`; any outside are reported under `path`."""
    if not isinstance(entries, list):
        raise MalformedAnswer
    kept = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise MalformedAnswer
        if _month_of(entry.get("month")) in months:
            kept.append(entry)
        else:
            overshared.add(path)
    return kept
