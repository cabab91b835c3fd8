"""What the gateway may ask the 公积金 source for (field paths: `connectors.schemas`).

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
"""

from __future__ import annotations

FIELDS = frozenset(
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
