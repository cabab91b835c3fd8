"""What the gateway may ask the 征信 source for (field paths: `connectors.schemas`).

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
"""

from __future__ import annotations

FIELDS = frozenset(
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
