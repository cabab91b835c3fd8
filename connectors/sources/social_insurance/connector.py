"""The 社保 connector."""

from __future__ import annotations

from connectors.http import HttpSourceConnector
from connectors.sources.social_insurance.schema import FIELDS


class SocialInsuranceConnector(HttpSourceConnector):
    """社保: insured status, contribution records and the current employer."""

    source = "social_insurance"
    schema = FIELDS
