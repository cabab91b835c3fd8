"""What lenders and borrowers are shown of a consent: its status now, its terms, its notice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from consent.models import Consent
from consent.notice import NoticeTerms, summary, withdrawal
from consent.schemas import (
    ConsentTerms,
    Frequency,
    FundingInstitutionView,
    LenderConsentView,
    Notice,
)
from consent.states import ConsentStatus, effective_status
from gateway.clients import repository as clients_repository
from gateway.runtime.context import GatewayContext
from policies import evaluation
from policies.catalog import Feature


def status_now(consent: Consent, now: datetime) -> ConsentStatus:
    """The consent's status with the clock applied."""
    return effective_status(
        consent.status,
        now,
        valid_until=consent.valid_until,
        request_expires_at=consent.request_expires_at,
    )


def terms_of(consent: Consent) -> ConsentTerms:
    """The consent's immutable terms."""
    return ConsentTerms(
        purpose=consent.purpose,
        product=consent.product,
        features=list(consent.features),
        fetch_type=consent.fetch_type,
        frequency=Frequency.model_validate(
            {"unit": consent.frequency_unit, "value": consent.frequency_value}
        ),
        valid_from=consent.valid_from,
        valid_until=consent.valid_until,
        data_range_months=consent.data_range_months,
        data_life_days=consent.data_life_days,
        on_behalf_of=(
            FundingInstitutionView(
                name=consent.on_behalf_of, credit_code=consent.on_behalf_of_credit_code
            )
            if consent.on_behalf_of
            else None
        ),
        callback_url=consent.callback_url,
    )


def stored_terms(consent: Consent) -> evaluation.ConsentTerms:
    """The consent's terms as stored, in the form the policy checks and the notice take."""
    return evaluation.ConsentTerms(
        purpose=consent.purpose,
        features=tuple(consent.features),
        fetch_type=consent.fetch_type,
        frequency_unit=consent.frequency_unit,
        frequency_value=consent.frequency_value,
        valid_from=consent.valid_from,
        valid_until=consent.valid_until,
        data_range_months=consent.data_range_months,
        data_life_days=consent.data_life_days,
    )


def portal_base(context: GatewayContext) -> str:
    """The base URL of the borrower portal."""
    return (context.settings.portal_url or context.settings.issuer).rstrip("/")


def approval_url(context: GatewayContext, consent_id: str) -> str:
    """Where the borrower reads and decides on the consent."""
    return f"{portal_base(context)}/portal/consents/{consent_id}"


def lender_view(context: GatewayContext, consent: Consent) -> LenderConsentView:
    """What the requesting lender may see of a consent."""
    return LenderConsentView(
        consent_id=consent.id,
        status=status_now(consent, context.clock.now()),
        terms=terms_of(consent),
        borrower_ref=consent.borrower_ref,
        borrower_display=consent.borrower_display,
        approval_url=approval_url(context, consent.id),
        artefact=consent.artefact,
        use_count=consent.release_count,
        policy_version=consent.policy_version,
        created_at=consent.created_at,
        request_expires_at=consent.request_expires_at,
    )


async def lender_name(session: AsyncSession, lender_id: str) -> str:
    """The lender's display name (its id, once it is no longer registered)."""
    lender = await clients_repository.get(session, lender_id)
    return lender.name if lender else lender_id


def notice_of(context: GatewayContext, consent: Consent, lender_name: str) -> Notice:
    """The plain-language notice: why, the consent's own features and sources, and a summary
    of its terms (the purpose's generic ceilings are never restated)."""
    catalog = context.catalog
    purpose = catalog.purposes.get(consent.purpose)
    features = [catalog.features[name] for name in consent.features if name in catalog.features]
    sources = sources_read(context, features)
    title = purpose.title.as_dict() if purpose else {}
    text = purpose.notice.as_dict() if purpose else {}
    product = consent.product_terms
    if product is not None:
        # The product's own name and notice, as the lender had them when it asked.
        title, text = dict(product["title"]), dict(product["notice"])
    return Notice(
        title=title,
        text=text,
        why=purpose.why.as_dict() if purpose else {},
        features=[_notice_feature(feature) for feature in features],
        sources=sources,
        source_titles={source: dict(context.sources[source].title) for source in sources},
        summary=summary(
            NoticeTerms(
                lender_name=lender_name,
                on_behalf_of=consent.on_behalf_of,
                purpose_title=purpose.title.as_dict() if purpose else {},
                product_title=dict(product["title"]) if product is not None else None,
                source_titles=[context.sources[source].title for source in sources],
                feature_count=len(features),
                terms=stored_terms(consent),
            )
        ),
        withdrawal=withdrawal(consent.id),
    )


def sources_read(context: GatewayContext, features: Sequence[Feature]) -> list[str]:
    """Every source the features read, in the order the sources are declared (社保, 公积金,
    征信, …), the order borrowers know them in."""
    read = {source for feature in features for source in feature.sources}
    return [source for source in context.sources if source in read]


# What the borrower's pages need of an output to show its values in words.
_SHOWN_OUTPUT = ("type", "nullable", "unit", "value_labels")


def _notice_feature(feature: Feature) -> dict[str, Any]:
    """A feature as the borrower reads it: its plain label and explanation, its sources,
    and the words and unit its values are shown with."""
    output = feature.output.public_view()
    return {
        "name": feature.name,
        "label": feature.label.as_dict(),
        "explanation": feature.explanation.as_dict(),
        "description": feature.description.as_dict(),
        "sources": list(feature.sources),
        "output": {key: output[key] for key in _SHOWN_OUTPUT if key in output},
    }
