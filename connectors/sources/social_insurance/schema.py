"""What the gateway may ask the 社保 source for (field paths: `connectors.schemas`).

insured_status       NORMAL | SUSPENDED | TERMINATED           参保状态
first_insured_month  "YYYY-MM"                                 首次参保年月
insurance_types      [PENSION, MEDICAL, UNEMPLOYMENT, WORK_INJURY, MATERNITY]   险种
insurance_enrolments [{insurance_type, status, enrolled_month, ended_month}]   参保登记
    status           NORMAL | SUSPENDED | TERMINATED; ended_month null while NORMAL
current_employer_code   USCC of the current employer (an organisation, not a person)
current_employer_name   the current employer's registered name        单位名称
contribution_records [{month, base, paid (bool), employer_code,
                       personal_amount, unit_amount}]              缴费记录 (个人/单位缴纳)
remarks              free text kept by the agency (备注); may hold anything
name                 the insured person's name (identity matching only)
"""

from __future__ import annotations

FIELDS = frozenset(
    {
        "name",
        "insured_status",
        "first_insured_month",
        "insurance_types",
        "insurance_enrolments",
        "insurance_enrolments.insurance_type",
        "insurance_enrolments.status",
        "insurance_enrolments.enrolled_month",
        "insurance_enrolments.ended_month",
        "current_employer_code",
        "current_employer_name",
        "contribution_records",
        "contribution_records.month",
        "contribution_records.base",
        "contribution_records.paid",
        "contribution_records.employer_code",
        "contribution_records.personal_amount",
        "contribution_records.unit_amount",
        "remarks",
    }
)
