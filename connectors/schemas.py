"""The field schema of each source system: what the gateway may ask each one for.

A field path is either a top-level field (`insured_status`) or a key of the items
of a list field (`contribution_records.base`). Asking for `a.b` returns the list
`a` with only key `b` in each item (and always the item's `month`/`date` key when
the list is kept by month or date, so the range can be applied). Lists kept by
month or date are cut to the consented data range by the source itself.

Enumerations (values are stable codes, not display text):

social_insurance (社保)
    insured_status       NORMAL | SUSPENDED | TERMINATED           参保状态
    first_insured_month  "YYYY-MM"                                 首次参保年月
    insurance_types      [PENSION, MEDICAL, UNEMPLOYMENT, WORK_INJURY, MATERNITY]
    current_employer_code   USCC of the current employer (an organisation, not a person)
    contribution_records [{month, base (CNY), paid (bool), employer_code}]   缴费记录
    name                 the insured person's name (identity matching only)

housing_fund (公积金)
    account_status       NORMAL | SEALED | CLOSED  (正常/封存/销户); no account -> found=false
    open_month           "YYYY-MM"
    deposit_base         CNY, current 缴存基数
    personal_rate        e.g. 0.12
    unit_rate            e.g. 0.12
    deposit_records      [{month, amount (CNY, personal + unit), paid (bool)}]
    balance              CNY
    last_paid_month      "YYYY-MM"
    loan_status          NONE | REPAYING | SETTLED                 公积金贷款
    loan_outstanding     CNY
    loan_monthly_repayment  CNY
    name

credit_bureau (征信)
    loan_accounts        [{account_type, opened, amount, balance, five_class,
                           monthly_repayment, repayment_history}]
        account_type     MORTGAGE | CONSUMER | BUSINESS | HOUSING_FUND | AUTO
        five_class       NORMAL | SPECIAL_MENTION | SUBSTANDARD | DOUBTFUL | LOSS
        repayment_history [{month, overdue_months (0 = on time), overdue_amount}]
    card_accounts        [{opened, credit_limit, used_amount, five_class, repayment_history}]
    inquiries            [{date "YYYY-MM-DD", reason}]
        reason           LOAN_APPROVAL | CARD_APPROVAL | POST_LOAN | SELF | GUARANTEE_CHECK
    public_records       [{kind, date}]
    name, phone          identity matching only
"""

from __future__ import annotations

SOCIAL_INSURANCE = frozenset(
    {
        "name",
        "insured_status",
        "first_insured_month",
        "insurance_types",
        "current_employer_code",
        "contribution_records",
        "contribution_records.month",
        "contribution_records.base",
        "contribution_records.paid",
        "contribution_records.employer_code",
    }
)

HOUSING_FUND = frozenset(
    {
        "name",
        "account_status",
        "open_month",
        "deposit_base",
        "personal_rate",
        "unit_rate",
        "deposit_records",
        "deposit_records.month",
        "deposit_records.amount",
        "deposit_records.paid",
        "balance",
        "last_paid_month",
        "loan_status",
        "loan_outstanding",
        "loan_monthly_repayment",
    }
)

CREDIT_BUREAU = frozenset(
    {
        "name",
        "phone",
        "loan_accounts",
        "loan_accounts.account_type",
        "loan_accounts.opened",
        "loan_accounts.amount",
        "loan_accounts.balance",
        "loan_accounts.five_class",
        "loan_accounts.monthly_repayment",
        "loan_accounts.repayment_history",
        "card_accounts",
        "card_accounts.opened",
        "card_accounts.credit_limit",
        "card_accounts.used_amount",
        "card_accounts.five_class",
        "card_accounts.repayment_history",
        "inquiries",
        "inquiries.date",
        "inquiries.reason",
        "public_records",
        "public_records.kind",
        "public_records.date",
    }
)

SOURCE_SCHEMAS: dict[str, frozenset[str]] = {
    "social_insurance": SOCIAL_INSURANCE,
    "housing_fund": HOUSING_FUND,
    "credit_bureau": CREDIT_BUREAU,
}

IDENTITY_FIELDS = frozenset({"name", "phone"})
"""Fields that are personal data themselves: no feature may output them."""
