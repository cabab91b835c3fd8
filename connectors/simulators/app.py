"""A stand-in for one source system (社保, 公积金, 征信, 水电燃气): a small FastAPI app.

It speaks the protocol the gateway's connectors expect and nothing more:

* `GET /healthz` answers `{"status": "ok"}`.
* `POST /v1/query` with the gateway's credential (`connectors.protocol`: an API key,
  or a signed request for 征信) and body `{"id_number", "fields", "from_month",
  "to_month"}` answers `{"source", "as_of", "found", "record"}` where `record` holds
  only the fields asked for, and lists kept by month or date only the items in the range.

Errors are `{"error": CODE, "detail": ...}`: 401 `Unauthorized`, 400 `UnknownField`
for a field path outside the source's schema, 400 `BadRequest` for a malformed body.

For tests, demos and drills it also has an admin side (header `X-Admin-Key`):
`GET|PUT|DELETE /admin/faults` reads, sets or clears the fault plan
(`connectors.simulators.faults`), and `GET /admin/queries` lists what was asked —
fields and months, never who — so a test can prove a source was not contacted.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator

from connectors.base import Month
from connectors.protocol import AuthScheme, RequestVerifier
from connectors.registry import load_sources
from connectors.schemas import NESTED_MONTHLY_LISTS
from connectors.simulators.faults import (
    UNKNOWN_FIELD,
    FaultInjector,
    FaultPlan,
    plant_pii,
    truncated,
)
from connectors.simulators.population import Population

ADMIN_KEY_HEADER = "X-Admin-Key"

QUERY_LOG_SIZE = 10_000
"""How many recent queries a simulator remembers (benchmarks send many more)."""


def range_keys(schema: Collection[str]) -> dict[str, str]:
    """Top-level lists kept by month or date, and the item key that says when.

    The schema says it: a list `a` is kept by month when it names `a.month`.
    """
    keys: dict[str, str] = {}
    for path in schema:
        name, _, key = path.partition(".")
        if key in ("month", "date"):
            keys[name] = key
    return keys


MonthText = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]


class QueryRequest(BaseModel):
    """The body of `POST /v1/query`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id_number: str
    fields: list[str]
    from_month: MonthText
    to_month: MonthText

    @model_validator(mode="after")
    def _range_is_ordered(self) -> QueryRequest:
        # Zero-padded `YYYY-MM` texts order like the months they name.
        if self.from_month > self.to_month:
            raise ValueError("from_month is after to_month")
        return self


@dataclass(frozen=True)
class LoggedQuery:
    """What one query asked for (never whom it was about) and how it was answered."""

    fields: tuple[str, ...]
    from_month: str
    to_month: str
    outcome: str


@dataclass
class SimulatorState:
    """One simulator's mutable side: its fault plan and the queries it received."""

    source: str
    faults: FaultInjector = field(default_factory=FaultInjector)
    queries: deque[LoggedQuery] = field(default_factory=lambda: deque(maxlen=QUERY_LOG_SIZE))
    query_count: int = 0
    """How many authenticated, well-formed queries reached the simulator."""

    def set_faults(self, plan: FaultPlan) -> None:
        """Replace the fault plan (its generator starts over from the plan's seed)."""
        self.faults = FaultInjector(plan)

    def log(self, query: LoggedQuery) -> None:
        """Remember one query."""
        self.queries.append(query)
        self.query_count += 1


def _error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


def _validation_detail(error: ValidationError) -> str:
    # Pydantic's own message quotes the input, which may hold a resident ID.
    problems = [
        (".".join(str(part) for part in problem["loc"]) or "body") + ": " + problem["msg"]
        for problem in error.errors(include_url=False, include_input=False)
    ]
    return "; ".join(problems) or "invalid body"


def _in_range(value: Any, first: str, last: str) -> bool:
    """Whether a `YYYY-MM` or `YYYY-MM-DD` text falls in the inclusive month range."""
    return isinstance(value, str) and first <= value[:7] <= last


def _cut(name: str, value: Any, first: str, last: str, kept_by: Mapping[str, str]) -> Any:
    """The field limited to the month range, where the source keeps it by month or date."""
    if not isinstance(value, list):
        return value
    if name in kept_by:
        key = kept_by[name]
        value = [item for item in value if _in_range(item[key], first, last)]
    return [
        {
            key: [entry for entry in item[key] if _in_range(entry["month"], first, last)]
            if key in NESTED_MONTHLY_LISTS
            else item[key]
            for key in item
        }
        if isinstance(item, dict) and NESTED_MONTHLY_LISTS & item.keys()
        else item
        for item in value
    ]


def project(
    record: Mapping[str, Any],
    fields: Collection[str],
    first: str,
    last: str,
    kept_by: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Only the asked-for fields of `record`, with lists cut to the months `first`..`last`.

    `a` gives the whole field; `a.b` gives list `a` with only key `b` in each item,
    plus the item's month or date key when the list is kept by one (`kept_by`,
    default: every source's lists kept by month or date).
    """
    if kept_by is None:
        kept_by = {
            name: key
            for schema in load_sources().schemas.values()
            for name, key in range_keys(schema).items()
        }
    whole = {path for path in fields if "." not in path}
    keys: dict[str, set[str]] = {}
    for path in fields:
        name, _, key = path.partition(".")
        if key and name not in whole:
            keys.setdefault(name, set()).add(key)
    projected: dict[str, Any] = {}
    for name in sorted(whole):
        projected[name] = _cut(name, record[name], first, last, kept_by)
    for name, wanted in sorted(keys.items()):
        if name in kept_by:
            wanted = wanted | {kept_by[name]}
        projected[name] = [
            {key: item[key] for key in item if key in wanted}
            for item in _cut(name, record[name], first, last, kept_by)
        ]
    return projected


def create_simulator_app(
    source: str,
    *,
    credential: str,
    population: Population,
    today: date | None = None,
    auth_scheme: AuthScheme | None = None,
    faults: FaultPlan | None = None,
    admin_key: str | None = None,
) -> FastAPI:
    """The simulator of `source`, answering from `population` as of the month before `today`.

    The credential is checked the way the source wants it (`auth_scheme`, by default
    the source's own); without `admin_key` the admin endpoints answer 404.
    """
    sources = load_sources()
    if source not in sources:
        raise ValueError(f"unknown source: {source}")
    schema = sources[source].schema
    kept_by = range_keys(schema)
    as_of = Month.of(today).shift(-1) if today else population.as_of
    verifier = RequestVerifier(auth_scheme or sources[source].auth_scheme, credential)
    state = SimulatorState(source, FaultInjector(faults))
    app = FastAPI(title=f"Lendgate {source} simulator", version="1")
    app.state.simulator = state

    def admin_refused(request: Request) -> JSONResponse | None:
        presented = request.headers.get(ADMIN_KEY_HEADER.lower(), "").encode()
        if not admin_key:  # unset or empty: no admin side at all
            return _error(404, "NotFound", "no admin side on this simulator")
        if not hmac.compare_digest(presented, admin_key.encode()):
            return _error(401, "Unauthorized", f"missing or wrong {ADMIN_KEY_HEADER}")
        return None

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness of the simulator."""
        return {"status": "ok"}

    @app.post("/v1/query")
    async def query(request: Request) -> Response:
        """Answer the asked-for fields about one person, cut to the month range."""
        raw = await request.body()
        refused = verifier.verify(request.headers, "POST", request.url.path, raw)
        if refused is not None:
            return _error(401, "Unauthorized", refused)
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "BadRequest", "body is not JSON")
        try:
            ask = QueryRequest.model_validate(body)
        except ValidationError as error:
            return _error(400, "BadRequest", _validation_detail(error))
        for path in ask.fields:
            if path not in schema:
                return _error(400, "UnknownField", f"unknown field: {path}")
        return await answer(ask)

    async def answer(ask: QueryRequest) -> Response:
        faults = state.faults
        plan = faults.plan

        def logged(outcome: str) -> None:
            state.log(LoggedQuery(tuple(ask.fields), ask.from_month, ask.to_month, outcome))

        delay = faults.delay_seconds()
        if delay:
            await asyncio.sleep(delay)
        if faults.strikes(plan.timeout_rate):
            logged("timeout")
            await asyncio.sleep(plan.hang_seconds)
            return _error(504, "Timeout", "the back end did not answer")
        if faults.strikes(plan.error_rate):
            logged("error")
            return _error(plan.error_status, "ServiceUnavailable", "the back end is unavailable")
        person = population.get(ask.id_number)
        record = population.record(source, ask.id_number, as_of)
        outcome = "answered"
        if record is None:
            projected: dict[str, Any] = {}
        elif faults.strikes(plan.overshare_rate):
            projected, outcome = {**record, UNKNOWN_FIELD: "内部备注"}, "overshared"
        else:
            projected = project(record, ask.fields, ask.from_month, ask.to_month, kept_by)
        if person is not None and record is not None and faults.strikes(plan.plant_pii_rate):
            projected, outcome = plant_pii(projected, person, plan.plant_pii_into), "planted"
        content = json.dumps(
            {
                "source": source,
                "as_of": str(as_of),
                "found": record is not None,
                "record": projected,
            },
            ensure_ascii=False,
        ).encode()
        if faults.strikes(plan.malformed_rate):
            content, outcome = truncated(content), "malformed"
        logged(outcome)
        return Response(content, media_type="application/json")

    @app.get("/admin/faults")
    async def get_faults(request: Request) -> Response:
        """The fault plan in force."""
        refused = admin_refused(request)
        return refused or JSONResponse(state.faults.plan.model_dump())

    @app.put("/admin/faults")
    async def put_faults(request: Request) -> Response:
        """Replace the fault plan (fields left out take their healthy defaults)."""
        refused = admin_refused(request)
        if refused:
            return refused
        try:
            plan = FaultPlan.model_validate_json(await request.body())
        except ValidationError as error:
            return _error(400, "BadRequest", _validation_detail(error))
        state.set_faults(plan)
        return JSONResponse(plan.model_dump())

    @app.delete("/admin/faults")
    async def clear_faults(request: Request) -> Response:
        """Back to a healthy source."""
        refused = admin_refused(request)
        if refused:
            return refused
        state.set_faults(FaultPlan())
        return JSONResponse(FaultPlan().model_dump())

    @app.get("/admin/queries")
    async def queries(request: Request) -> Response:
        """Every query received so far: fields, months and outcome, never the person."""
        refused = admin_refused(request)
        return refused or JSONResponse(
            {
                "count": state.query_count,
                "queries": [
                    {
                        "fields": list(logged.fields),
                        "from_month": logged.from_month,
                        "to_month": logged.to_month,
                        "outcome": logged.outcome,
                    }
                    for logged in state.queries
                ],
            }
        )

    return app
