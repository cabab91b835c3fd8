"""How the 社保 simulator derives its record from a person's history."""

from __future__ import annotations

from typing import Any

from connectors.base import Month
from connectors.people.histories import Person, month_index, month_text

INSURANCE_TYPES = ("PENSION", "MEDICAL", "UNEMPLOYMENT", "WORK_INJURY", "MATERNITY")

PERSONAL_CONTRIBUTION_RATE = 0.105
"""The employee's share of the base: pension 8%, medical 2%, unemployment 0.5%."""

UNIT_CONTRIBUTION_RATE = 0.245
"""The employer's share: pension 16%, medical and maternity 7.5%, unemployment and work injury."""


def social_insurance_record(person: Person, as_of: Month) -> dict[str, Any] | None:
    """The 社保 record: status and one contribution record per month since first insured."""
    if not person.spells or person.spells[0].first > as_of:
        return None
    first = person.spells[0].first
    current = person.spell_in(as_of)
    if current is not None:
        status, last = "NORMAL", as_of
    elif person.social_insurance_terminated:
        status, last = "TERMINATED", min(as_of, person.spells[-1].last or as_of)
    else:
        status, last = "SUSPENDED", as_of
    records = []
    for index, spell in enumerate(person.employment(first, last), start=month_index(first)):
        base = spell.base_at(index) if spell else None
        records.append(
            {
                "month": month_text(index),
                "base": base,
                "paid": spell is not None,
                "employer_code": spell.employer.code if spell else None,
                "personal_amount": round(base * PERSONAL_CONTRIBUTION_RATE, 2) if base else None,
                "unit_amount": round(base * UNIT_CONTRIBUTION_RATE, 2) if base else None,
            }
        )
    ended = None
    if status != "NORMAL":
        ended = next((item["month"] for item in reversed(records) if item["paid"]), None)
    return {
        "name": person.name,
        "insured_status": status,
        "first_insured_month": str(first),
        "insurance_types": list(INSURANCE_TYPES),
        "insurance_enrolments": [
            {
                "insurance_type": insurance_type,
                "status": status,
                "enrolled_month": str(first),
                "ended_month": ended,
            }
            for insurance_type in INSURANCE_TYPES
        ],
        "current_employer_code": current.employer.code if current else None,
        "current_employer_name": current.employer.name if current else None,
        "contribution_records": records,
        "remarks": person.remark("social_insurance"),
    }
