"""What lenders and borrowers are shown of a consent: its status now, its terms, its notice."""

from __future__ import annotations

from datetime import datetime

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
    """The plain-language notice: the purpose's text, the features, and a summary of the terms."""
    catalog = context.catalog
    purpose = catalog.purposes.get(consent.purpose)
    features = [catalog.features[name] for name in consent.features if name in catalog.features]
    sources = sorted({source for feature in features for source in feature.sources})
    title = purpose.title.as_dict() if purpose else {}
    text = purpose.notice.as_dict() if purpose else {}
    product = consent.product_terms
    if product is not None:
        # The product's own name and notice, as the lender had them when it asked.
        title, text = dict(product["title"]), dict(product["notice"])
    return Notice(
        title=title,
        text=text,
        features=[
            {
                "name": feature.name,
                "description": feature.description.as_dict(),
                "sources": list(feature.sources),
            }
            for feature in features
        ],
        sources=sources,
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
