"""The 社保 source: its connector, field schema and simulator record, and its defaults."""

from __future__ import annotations

from connectors.definition import SourceDefinition
from connectors.sources.social_insurance.connector import SocialInsuranceConnector
from connectors.sources.social_insurance.records import social_insurance_record

SOURCE = SourceDefinition(
    connector=SocialInsuranceConnector,
    title_zh="社保",
    title_en="Social insurance",
    record_builder=social_insurance_record,
    default_port=8101,
    development_credential="dev-social-insurance-key",
    # 社保 data-sharing interfaces answer the last ten years of records.
    retention_months=120,
)
