"""The Pii wrapper and the structlog processor keep raw values out of logs."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import structlog

from gateway.privacy.pii import Pii, redact_pii

SANDBOX_ID = "11010519491231002X"
PHONE = "13800138000"


def test_every_way_of_printing_shows_only_the_masked_form() -> None:
    pii = Pii(SANDBOX_ID, "CN_RESIDENT_ID")
    shown = [
        str(pii),
        repr(pii),
        f"{pii}",
        f"{pii!r}",
        f"{pii:>30}",
        "%s" % pii,  # noqa: UP031 - the %-operator is a way logs get formatted too
        "{}".format(pii),  # noqa: UP032 - so is str.format
        repr({"id": pii}),
        str([pii]),
        repr((pii,)),
    ]
    for text in shown:
        assert SANDBOX_ID not in text
        assert "110***********002X" in text


def test_repr_names_the_entity() -> None:
    assert repr(Pii(PHONE, "CN_MOBILE")) == "Pii(CN_MOBILE, '138****8000')"


def test_reveal_returns_the_raw_value() -> None:
    assert Pii(PHONE, "CN_MOBILE").reveal() == PHONE


def test_compound_surname_masking_through_the_wrapper() -> None:
    assert str(Pii("欧阳明远", "CN_NAME")) == "欧阳**"


def test_wrappers_compare_by_value_without_showing_it() -> None:
    assert Pii(PHONE, "CN_MOBILE") == Pii(PHONE, "CN_MOBILE")
    assert Pii(PHONE, "CN_MOBILE") != Pii("13900139000", "CN_MOBILE")
    assert len({Pii(PHONE, "CN_MOBILE"), Pii(PHONE, "CN_MOBILE")}) == 1


def test_the_wrapper_has_no_instance_dict_to_dump() -> None:
    with pytest.raises(TypeError):
        vars(Pii(PHONE, "CN_MOBILE"))


def test_the_wrapper_refuses_to_be_serialized_as_json() -> None:
    with pytest.raises(TypeError):
        json.dumps({"phone": Pii(PHONE, "CN_MOBILE")})


# --- redact_pii --------------------------------------------------------------


def run(event: dict[str, Any]) -> dict[str, Any]:
    """The event dict as the processor leaves it."""
    return dict(redact_pii(None, "info", event))


def test_processor_masks_wrapped_values() -> None:
    out = run({"event": "borrower.login", "phone": Pii(PHONE, "CN_MOBILE")})
    assert out == {"event": "borrower.login", "phone": "138****8000"}


def test_processor_masks_a_raw_id_logged_by_mistake() -> None:
    out = run({"event": f"lookup failed for {SANDBOX_ID}", "id_number": SANDBOX_ID})
    assert out == {
        "event": "lookup failed for 110***********002X",
        "id_number": "110***********002X",
    }


def test_processor_masks_numbers_and_nested_values() -> None:
    out = run(
        {
            "event": "x",
            "phone": 13800138000,
            "borrower": {"name": "张三", "phones": [PHONE, "n/a"]},
            "pair": ("a", Pii("王小明", "CN_NAME")),
        }
    )
    assert out["phone"] == "138****8000"
    assert out["borrower"] == {"name": "张*", "phones": ["138****8000", "n/a"]}
    assert out["pair"] == ("a", "王**")


def test_processor_uses_the_key_as_context_for_names() -> None:
    assert run({"borrower_name": "张三", "purpose": "张三"}) == {
        "borrower_name": "张*",
        "purpose": "张三",
    }


def test_processor_leaves_clean_values_alone() -> None:
    consent_id = "5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
    event = {
        "event": "release.granted",
        "consent_id": consent_id,
        "features": ["si_active", "income_proxy_band"],
        "count": 3,
        "ratio": 0.3,
        "ok": True,
        "none": None,
    }
    out = run(dict(event))
    assert out == event
    assert out["consent_id"] is consent_id


def test_processor_masks_objects_whose_repr_would_leak() -> None:
    class Borrower:
        def __repr__(self) -> str:
            return f"Borrower(id={SANDBOX_ID})"

    assert run({"borrower": Borrower()}) == {"borrower": "Borrower(id=110***********002X)"}


def test_processor_leaves_exc_info_for_the_exception_formatter() -> None:
    error = ValueError("boom")
    assert run({"event": "x", "exc_info": error})["exc_info"] is error


def test_a_real_structlog_pipeline_never_writes_the_raw_value() -> None:
    out = io.StringIO()
    log = structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=[
            structlog.processors.format_exc_info,
            redact_pii,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )
    log.info("consent.requested", phone=Pii(PHONE, "CN_MOBILE"), note=f"证件{SANDBOX_ID}")
    try:
        raise ValueError(f"no borrower with id {SANDBOX_ID}")
    except ValueError:
        log.exception("lookup.failed")

    written = out.getvalue()
    assert SANDBOX_ID not in written
    assert PHONE not in written
    first, second = (json.loads(line) for line in written.splitlines())
    assert first["phone"] == "138****8000"
    assert first["note"] == "证件110***********002X"
    assert "no borrower with id 110***********002X" in second["exception"]
