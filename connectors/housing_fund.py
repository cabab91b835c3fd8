"""The housing-provident-fund (公积金) source."""

from __future__ import annotations

from connectors import schemas
from connectors.http import HttpSourceConnector
from connectors.registry import register_connector


@register_connector
class HousingFundConnector(HttpSourceConnector):
    """公积金: account status, deposit records, balance and any 公积金 loan."""

    source = "housing_fund"
    schema = schemas.HOUSING_FUND
