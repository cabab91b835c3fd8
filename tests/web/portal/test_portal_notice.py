"""The consent page speaks of the consent's own terms: every number and every source in
the rendered notice is the consent's, for every shipped purpose, in both languages; and
no page shows a code."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lendgate_sdk import LendgateClient

from connectors.registry import load_sources
from consent.notice import beijing_time
from policies.loading import load_catalog
from tests.support.browser import (
    LiveGateway,
    clickable,
    codes_shown,
    in_thread,
    visible,
)

if TYPE_CHECKING:
    from selenium.webdriver import Chrome as WebDriver

# A Beijing date and time as the page writes it (the summary, the Chinese and the English
# date formats), and any other number.
MOMENT = re.compile(
    r"(?P<y>\d{4})[-/](?P<m>\d{2})[-/](?P<d>\d{2}) (?P<hh>\d{2}):(?P<mm>\d{2})"
    r"|(?P<d2>\d{2})/(?P<m2>\d{2})/(?P<y2>\d{4}), (?P<hh2>\d{2}):(?P<mm2>\d{2})"
)
NUMBER = re.compile(r"\d+")


def _moments(text: str) -> set[str]:
    """Every date and time in `text`, written as `beijing_time` writes them."""
    found = set()
    for moment in MOMENT.finditer(text):
        if moment["y"]:
            found.add(f"{moment['y']}-{moment['m']}-{moment['d']} {moment['hh']}:{moment['mm']}")
        else:
            found.add(
                f"{moment['y2']}-{moment['m2']}-{moment['d2']} {moment['hh2']}:{moment['mm2']}"
            )
    return found


def _narrow_terms(purpose: Any) -> dict[str, Any]:
    """Terms for `purpose` below each of its ceilings where a term can be, reading one source."""
    catalog = load_catalog()
    first_source = catalog.features[purpose.features[0]].sources
    features = [
        name for name in purpose.features if catalog.features[name].sources == first_source
    ][:2]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    periodic = "PERIODIC" in purpose.fetch_types
    return {
        "purpose": purpose.code,
        "features": features,
        "fetch_type": "PERIODIC" if periodic else "ONETIME",
        "frequency": {"unit": "MONTH", "value": 1},
        "valid_from": (now - timedelta(minutes=1)).isoformat(),
        "valid_until": (now + timedelta(days=min(5, purpose.max_validity_days - 1))).isoformat(),
        "data_range_months": max(1, purpose.max_data_range_months - 7),
        "data_life_days": purpose.max_data_life_days - 3,
    }


def _log_in(browser: WebDriver, live: LiveGateway, url: str, phone: str) -> None:
    browser.get(url)
    visible(browser, "#phone").send_keys(phone)
    clickable(browser, "#phone-form button[type=submit]").click()
    # The outbox holds the login code once the form has moved on to ask for it.
    visible(browser, "#login-code").send_keys(live.stack.last_code(phone))
    clickable(browser, "#code-form button[type=submit]").click()
    visible(browser, "#consent-status")


async def test_the_notice_states_only_the_consents_own_numbers_and_sources(
    live_gateway: LiveGateway, browser: WebDriver
) -> None:
    live = live_gateway
    catalog = load_catalog()
    sources = load_sources()
    registered = await live.stack.register("lender", name="示例银行")
    person = live.stack.person()
    consents: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    async with LendgateClient(
        live.base_url, registered.client_id, registered.private_jwks
    ) as lender:
        for purpose in catalog.purposes.values():
            terms = _narrow_terms(purpose)
            body = {**live.stack.consent_body(person), **terms}
            consents.append((purpose.code, terms, await lender.request_consent(body)))

    def read_every_notice() -> list[str]:
        problems: list[str] = []
        _log_in(browser, live, consents[0][2]["approval_url"], person.phone)
        for code, terms, requested in consents:
            consent_sources = {
                source for name in terms["features"] for source in catalog.features[name].sources
            }
            start = datetime.fromisoformat(terms["valid_from"])
            end = datetime.fromisoformat(terms["valid_until"])
            for language, query in (("zh", ""), ("en", "?lang=en")):
                browser.get(requested["approval_url"] + query)
                visible(browser, '#consent-status[data-status="PENDING"]')
                # The notice, without the masked identity the lender gave (not a term).
                identity = visible(browser, "#identity-given").text
                notice = visible(browser, "article.consent").text.replace(identity, "")
                moments = _moments(notice)
                validity = {beijing_time(start), beijing_time(end)}
                if not validity <= moments:
                    problems.append(f"{code} {language}: validity not stated")
                # Besides the validity, only the request time, which lies within it.
                extra = moments - validity
                if len(extra) > 1 or any(not min(validity) <= e <= max(validity) for e in extra):
                    problems.append(f"{code} {language}: times {sorted(extra)}")
                numbers = set(NUMBER.findall(MOMENT.sub(" ", notice)))
                allowed = {
                    str(terms["data_range_months"]),
                    str(terms["data_life_days"]),
                    str(len(terms["features"])),
                }
                if terms["fetch_type"] == "PERIODIC":
                    allowed.add(str(terms["frequency"]["value"]))
                if stray := numbers - allowed:
                    problems.append(f"{code} {language}: numbers {sorted(stray)} not in terms")
                for must in (str(terms["data_range_months"]), str(terms["data_life_days"])):
                    if must not in numbers:
                        problems.append(f"{code} {language}: term {must} not stated")
                for source, definition in sources.items():
                    shown = definition.title[language] in notice
                    if shown != (source in consent_sources):
                        problems.append(f"{code} {language}: source {source} shown={shown}")
                if codes := codes_shown(browser):
                    problems.append(f"{code} {language}: codes {codes}")
        return problems

    assert await in_thread(read_every_notice) == []
