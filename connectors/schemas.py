"""The field schema of each source system: what the gateway may ask each one for.

A field path is either a top-level field (`insured_status`) or a key of the items
of a list field (`contribution_records.base`). Asking for `a.b` returns the list
`a` with only key `b` in each item (and always the item's `month`/`date` key when
the list is kept by month or date, so the range can be applied). Lists kept by
month or date are cut to the consented data range by the source itself: a list is
kept by month (date) exactly when its schema names `a.month` (`a.date`).

Enumerations (values are stable codes, not display text). Amounts are CNY.

social_insurance (社保)
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

housing_fund (公积金)
    account_status       NORMAL | SEALED | CLOSED  (正常/封存/销户); no account -> found=false
    open_month           "YYYY-MM"
    employer_code        USCC of the depositing unit (缴存单位); null when none
    employer_name        its registered name
    deposit_base         current 缴存基数
    personal_rate        e.g. 0.12                                  个人缴存比例
    unit_rate            e.g. 0.12                                  单位缴存比例
    monthly_deposit      personal + unit amount of the latest paid month (月缴存额)
    deposit_records      [{month, amount (personal + unit), paid (bool),
                           personal_amount, unit_amount}]
    balance
    last_paid_month      "YYYY-MM"
    loan_status          NONE | REPAYING | SETTLED                 公积金贷款
    loan_amount, loan_opened ("YYYY-MM-DD"), loan_term_months     (0 / null without a loan)
    loan_outstanding
    loan_monthly_repayment
    remarks              free text (备注)
    name

credit_bureau (征信)
    loan_accounts        [{account_type, institution_type, opened, amount, term_months,
                           balance, status, five_class, monthly_repayment, repayment_history}]
        account_type     MORTGAGE | CONSUMER | BUSINESS | HOUSING_FUND | AUTO
        institution_type BANK | CONSUMER_FINANCE | MICROLOAN | AUTO_FINANCE | HOUSING_FUND_CENTER
        status           NORMAL | OVERDUE | SETTLED                 账户状态
        five_class       NORMAL | SPECIAL_MENTION | SUBSTANDARD | DOUBTFUL | LOSS   五级分类
        repayment_history [{month, status, overdue_months (0 = on time), overdue_amount}]
            status       the report's monthly code: N on time, 1..7 months overdue (7 = 7+)
    card_accounts        [{opened, credit_limit, used_amount, status, five_class,
                           repayment_history}]
        status           NORMAL | OVERDUE
    inquiries            [{date "YYYY-MM-DD", reason, querier_type}]   查询记录
        reason           LOAN_APPROVAL | CARD_APPROVAL | POST_LOAN | SELF | GUARANTEE_CHECK
        querier_type     BANK | CONSUMER_FINANCE | MICROLOAN | GUARANTEE_COMPANY | PERSON
    public_records       [{kind, date, amount}]                    公共记录
        kind             CIVIL_JUDGMENT | ENFORCEMENT | TAX_ARREARS | ADMINISTRATIVE_PENALTY
    remarks              free text: the person's statements, dispute notes (本人声明/异议标注)
    name, phone          identity matching only

utility (水电燃气缴费)
    accounts             [{utility_type, opened "YYYY-MM", status}]
        utility_type     ELECTRICITY | WATER | GAS
        status           ACTIVE | CLOSED
    bill_records         [{month, utility_type, amount, paid (bool), paid_on_time (bool)}]
    arrears_amount       unpaid past-due bills now (欠费金额)
    arrears_months       months with a past-due bill still unpaid now
    remarks              free text (备注)
    name
"""

from __future__ import annotations

SOCIAL_INSURANCE = frozenset(
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

HOUSING_FUND = frozenset(
    {
        "name",
        "account_status",
        "open_month",
        "employer_code",
        "employer_name",
        "deposit_base",
        "personal_rate",
        "unit_rate",
        "monthly_deposit",
        "deposit_records",
        "deposit_records.month",
        "deposit_records.amount",
        "deposit_records.paid",
        "deposit_records.personal_amount",
        "deposit_records.unit_amount",
        "balance",
        "last_paid_month",
        "loan_status",
        "loan_amount",
        "loan_opened",
        "loan_term_months",
        "loan_outstanding",
        "loan_monthly_repayment",
        "remarks",
    }
)

CREDIT_BUREAU = frozenset(
    {
        "name",
        "phone",
        "loan_accounts",
        "loan_accounts.account_type",
        "loan_accounts.institution_type",
        "loan_accounts.opened",
        "loan_accounts.amount",
        "loan_accounts.term_months",
        "loan_accounts.balance",
        "loan_accounts.status",
        "loan_accounts.five_class",
        "loan_accounts.monthly_repayment",
        "loan_accounts.repayment_history",
        "card_accounts",
        "card_accounts.opened",
        "card_accounts.credit_limit",
        "card_accounts.used_amount",
        "card_accounts.status",
        "card_accounts.five_class",
        "card_accounts.repayment_history",
        "inquiries",
        "inquiries.date",
        "inquiries.reason",
        "inquiries.querier_type",
        "public_records",
        "public_records.kind",
        "public_records.date",
        "public_records.amount",
        "remarks",
    }
)

UTILITY = frozenset(
    {
        "name",
        "accounts",
        "accounts.utility_type",
        "accounts.opened",
        "accounts.status",
        "bill_records",
        "bill_records.month",
        "bill_records.utility_type",
        "bill_records.amount",
        "bill_records.paid",
        "bill_records.paid_on_time",
        "arrears_amount",
        "arrears_months",
        "remarks",
    }
)

SOURCE_SCHEMAS: dict[str, frozenset[str]] = {
    "social_insurance": SOCIAL_INSURANCE,
    "housing_fund": HOUSING_FUND,
    "credit_bureau": CREDIT_BUREAU,
    "utility": UTILITY,
}

SOURCE_TITLES: dict[str, dict[str, str]] = {
    "social_insurance": {"zh": "社保", "en": "Social insurance"},
    "housing_fund": {"zh": "公积金", "en": "Housing provident fund"},
    "credit_bureau": {"zh": "征信", "en": "Credit report"},
    "utility": {"zh": "水电燃气缴费", "en": "Utility payments"},
}
"""What borrowers and lenders call each source."""

FREE_TEXT_FIELDS = frozenset({"remarks"})
"""Fields a source fills with free text: they may carry anything, personal data included,
so no feature reads them; they exist because real sources have them (and the fault
injection plants personal data there)."""

IDENTITY_FIELDS = frozenset({"name", "phone"})
"""Fields that are personal data themselves: no feature may output them.

Only a derivation registered as an identity comparison (`identity_match`) may read one,
to answer true/false against the borrower's claimed identity; the catalog checker refuses
every other feature that lists one.
"""

SOURCE_RETENTION_MONTHS: dict[str, int] = {
    # 社保 and 公积金 data-sharing interfaces answer the last ten years of records.
    "social_insurance": 120,
    "housing_fund": 120,
    # 征信: negative records are kept five years (征信业管理条例 Art. 16) and the
    # second-generation report shows five years of repayment history.
    "credit_bureau": 60,
    # 水电燃气: utilities answer three years of bills (UTILITY_HISTORY_MONTHS in the simulator).
    "utility": 36,
}
"""How many months back each source answers. Every source in SOURCE_SCHEMAS needs an entry:
`lendgate policy check` refuses a purpose or feature window reaching further back than
the sources it reads keep."""
