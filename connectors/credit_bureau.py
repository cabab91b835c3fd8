"""The credit-bureau (征信) source."""

from __future__ import annotations

from connectors import schemas
from connectors.http import HttpSourceConnector


class CreditBureauConnector(HttpSourceConnector):
    """征信: loan and card accounts with repayment histories, inquiries, public records."""

    source = "credit_bureau"
    schema = schemas.CREDIT_BUREAU
