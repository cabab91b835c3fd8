"""The 公积金 connector."""

from __future__ import annotations

from connectors.http import HttpSourceConnector
from connectors.sources.housing_fund.schema import FIELDS


class HousingFundConnector(HttpSourceConnector):
    """公积金: account status, deposit records, balance and any 公积金 loan."""

    source = "housing_fund"
    schema = FIELDS
