"""The 水电燃气缴费 source: its connector, field schema and simulator record, and its defaults."""

from __future__ import annotations

from connectors.definition import SourceDefinition
from connectors.sources.utility.connector import UtilityConnector
from connectors.sources.utility.records import utility_record

SOURCE = SourceDefinition(
    connector=UtilityConnector,
    title_zh="水电燃气缴费",
    title_en="Utility payments",
    record_builder=utility_record,
    default_port=8104,
    development_credential="dev-utility-key",
    # Utilities answer three years of bills (UTILITY_HISTORY_MONTHS in the simulator).
    retention_months=36,
)
