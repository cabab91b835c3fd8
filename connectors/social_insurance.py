"""The social-insurance (社保) source."""

from __future__ import annotations

from connectors import schemas
from connectors.http import HttpSourceConnector
from connectors.registry import register_connector


@register_connector
class SocialInsuranceConnector(HttpSourceConnector):
    """社保: insured status, contribution records and the current employer."""

    source = "social_insurance"
    schema = schemas.SOCIAL_INSURANCE
