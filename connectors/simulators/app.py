"""A stand-in for one source system (社保, 公积金 or 征信): a small FastAPI app.

It speaks the protocol the gateway's connectors expect and nothing more:

* `GET /healthz` answers `{"status": "ok"}`.
* `POST /v1/query` with header `X-Api-Key` and body
  `{"id_number", "fields", "from_month", "to_month"}` answers
  `{"source", "as_of", "found", "record"}` where `record` holds only the fields
  asked for, and lists kept by month or date only the items in the range.

Errors are `{"error": CODE, "detail": ...}`: 401 `Unauthorized`, 400 `UnknownField`
for a field path outside the source's schema, 400 `BadRequest` for a malformed body.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Collection, Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator

from connectors.base import Month
from connectors.schemas import SOURCE_SCHEMAS
from connectors.simulators.population import Population

RANGE_KEYS: Mapping[str, str] = {
    "contribution_records": "month",
    "deposit_records": "month",
    "inquiries": "date",
    "public_records": "date",
}
"""Top-level lists kept by month or date, and the item key that says when."""

ACCOUNT_LISTS = frozenset({"loan_accounts", "card_accounts"})
"""Lists whose items carry a `repayment_history` kept by month."""


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


def _cut(name: str, value: Any, first: str, last: str) -> Any:
    """The field limited to the month range, where the source keeps it by month or date."""
    if name in RANGE_KEYS:
        key = RANGE_KEYS[name]
        return [item for item in value if _in_range(item[key], first, last)]
    if name in ACCOUNT_LISTS:
        return [
            {
                **account,
                "repayment_history": [
                    entry
                    for entry in account["repayment_history"]
                    if _in_range(entry["month"], first, last)
                ],
            }
            for account in value
        ]
    return value


def project(
    record: Mapping[str, Any], fields: Collection[str], first: str, last: str
) -> dict[str, Any]:
    """Only the asked-for fields of `record`, with lists cut to the months `first`..`last`.

    `a` gives the whole field; `a.b` gives list `a` with only key `b` in each item,
    plus the item's month or date key when the list is kept by one.
    """
    whole = {path for path in fields if "." not in path}
    keys: dict[str, set[str]] = {}
    for path in fields:
        name, _, key = path.partition(".")
        if key and name not in whole:
            keys.setdefault(name, set()).add(key)
    projected: dict[str, Any] = {}
    for name in sorted(whole):
        projected[name] = _cut(name, record[name], first, last)
    for name, wanted in sorted(keys.items()):
        if name in RANGE_KEYS:
            wanted = wanted | {RANGE_KEYS[name]}
        projected[name] = [
            {key: item[key] for key in item if key in wanted}
            for item in _cut(name, record[name], first, last)
        ]
    return projected


def create_simulator_app(
    source: str, *, credential: str, population: Population, today: date | None = None
) -> FastAPI:
    """The simulator of `source`, answering from `population` as of the month before `today`."""
    if source not in SOURCE_SCHEMAS:
        raise ValueError(f"unknown source: {source}")
    schema = SOURCE_SCHEMAS[source]
    as_of = Month.of(today).shift(-1) if today else population.as_of
    expected_key = credential.encode()
    app = FastAPI(title=f"Lendgate {source} simulator", version="1")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness of the simulator."""
        return {"status": "ok"}

    @app.post("/v1/query")
    async def query(request: Request) -> JSONResponse:
        """Answer the asked-for fields about one person, cut to the month range."""
        presented = request.headers.get("x-api-key", "").encode()
        if not hmac.compare_digest(presented, expected_key):
            return _error(401, "Unauthorized", "missing or wrong X-Api-Key")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "BadRequest", "body is not JSON")
        try:
            ask = QueryRequest.model_validate(body)
        except ValidationError as error:
            return _error(400, "BadRequest", _validation_detail(error))
        for path in ask.fields:
            if path not in schema:
                return _error(400, "UnknownField", f"unknown field: {path}")
        record = population.record(source, ask.id_number, as_of)
        answer = {
            "source": source,
            "as_of": str(as_of),
            "found": record is not None,
            "record": project(record, ask.fields, ask.from_month, ask.to_month) if record else {},
        }
        return JSONResponse(answer)

    return app
