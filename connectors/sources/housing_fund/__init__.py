"""The 公积金 source: its connector, field schema and simulator record, and its defaults."""

from __future__ import annotations

from connectors.definition import SourceDefinition
from connectors.sources.housing_fund.connector import HousingFundConnector
from connectors.sources.housing_fund.records import housing_fund_record

SOURCE = SourceDefinition(
    connector=HousingFundConnector,
    title_zh="公积金",
    title_en="Housing provident fund",
    record_builder=housing_fund_record,
    default_port=8102,
    development_credential="dev-housing-fund-key",
    # 公积金 data-sharing interfaces answer the last ten years of records.
    retention_months=120,
)
