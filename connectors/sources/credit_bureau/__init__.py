"""The 征信 source: its connector, field schema and simulator record, and its defaults."""

from __future__ import annotations

from connectors.definition import SourceDefinition
from connectors.sources.credit_bureau.connector import CreditBureauConnector
from connectors.sources.credit_bureau.records import credit_bureau_record

SOURCE = SourceDefinition(
    connector=CreditBureauConnector,
    title_zh="征信",
    title_en="Credit report",
    record_builder=credit_bureau_record,
    default_port=8103,
    development_credential="dev-credit-bureau-key",
    # Negative records are kept five years (征信业管理条例 Art. 16) and the
    # second-generation report shows five years of repayment history.
    retention_months=60,
)
