"""The utility-payments (水电燃气缴费) source: the fourth source, added as a plug-in.

Everything a new source needs is here and in `connectors.schemas`: the release
pipeline reaches it only through the `SourceConnector` interface and the registry.
"""

from __future__ import annotations

from connectors import schemas
from connectors.http import HttpSourceConnector
from connectors.registry import register_connector


@register_connector
class UtilityConnector(HttpSourceConnector):
    """水电燃气: the household's utility accounts, monthly bills and current arrears."""

    source = "utility"
    schema = schemas.UTILITY
