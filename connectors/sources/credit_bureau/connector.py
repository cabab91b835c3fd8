"""The 征信 connector."""

from __future__ import annotations

from typing import ClassVar

from connectors.http import HttpSourceConnector
from connectors.protocol import AuthScheme
from connectors.sources.credit_bureau.schema import FIELDS


class CreditBureauConnector(HttpSourceConnector):
    """征信: loan and card accounts with repayment histories, inquiries, public records.

    The bureau takes signed requests, not an API key (`connectors.protocol`).
    """

    source = "credit_bureau"
    schema = FIELDS
    auth_scheme: ClassVar[AuthScheme] = "signed"
