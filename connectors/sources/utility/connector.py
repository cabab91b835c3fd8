"""The 水电燃气缴费 connector."""

from __future__ import annotations

from connectors.http import HttpSourceConnector
from connectors.sources.utility.schema import FIELDS


class UtilityConnector(HttpSourceConnector):
    """水电燃气: the household's utility accounts, monthly bills and current arrears."""

    source = "utility"
    schema = FIELDS
