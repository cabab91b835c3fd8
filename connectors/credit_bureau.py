"""The credit-bureau (征信) source."""

from __future__ import annotations

from connectors import schemas
from connectors.http import HttpSourceConnector
from connectors.registry import register_connector


@register_connector
class CreditBureauConnector(HttpSourceConnector):
    """征信: loan and card accounts with repayment histories, inquiries, public records.

    The bureau takes signed requests, not an API key (`connectors.protocol`).
    """

    source = "credit_bureau"
    schema = schemas.CREDIT_BUREAU
