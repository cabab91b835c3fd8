"""Loading the shipped catalogs, and every problem the checker names by file and line."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from connectors.registry import load_sources
from connectors.schemas import IDENTITY_FIELDS
from gateway.core.errors import PurposeViolation
from policies.catalog import Catalog, Frequency
from policies.derivations.registry import shipped_derivations
from policies.loading import DEFAULT_DIRECTORY, CatalogError, check_catalog, load_catalog

REQUIRED_FEATURES = {
    # 社保
    "si_active",
    "si_paid_months",
    "si_continuous_months",
    "si_contribution_base_band",
    "si_employer_changes",
    # 公积金
    "hf_status",
    "hf_continuous_months",
    "hf_deposit_base_band",
    "hf_monthly_deposit_band",
    "hf_balance_band",
    "hf_has_loan",
    # 征信
    "cb_overdue_accounts_24m",
    "cb_max_overdue_months_24m",
    "cb_current_overdue_amount_band",
    "cb_hard_inquiries_1m",
    "cb_hard_inquiries_3m",
    "cb_hard_inquiries_6m",
    "cb_card_utilization",
    "cb_loan_balance_band",
    "cb_open_loan_count",
    "cb_abnormal_five_class",
    "cb_monthly_repayment_band",
    # cross-source
    "income_proxy_band",
    "debt_service_ratio",
    # identity match
    "identity_id_number_match",
    "identity_name_match",
    "identity_phone_match",
}
IDENTITY_FEATURES = ("identity_id_number_match", "identity_name_match", "identity_phone_match")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


# -- the shipped catalogs --------------------------------------------------------------


def test_shipped_catalogs_have_no_problems() -> None:
    assert check_catalog() == []


def test_shipped_features_include_the_public_names(catalog: Catalog) -> None:
    assert set(catalog.features) >= REQUIRED_FEATURES
    assert len(catalog.features) >= 20


def test_shipped_purposes(catalog: Catalog) -> None:
    assert set(catalog.purposes) >= {
        "consumer_installment_underwriting",
        "credit_line_assessment",
        "housing_fund_loan",
        "post_loan_monitoring",
        "identity_match",
    }


def test_every_shipped_feature_is_allowed_by_some_purpose(catalog: Catalog) -> None:
    allowed = {name for purpose in catalog.purposes.values() for name in purpose.features}
    assert set(catalog.features) == allowed


def test_identity_match_answers_yes_or_no_per_attribute(catalog: Catalog) -> None:
    purpose = catalog.purpose("identity_match")
    assert purpose.features == IDENTITY_FEATURES
    assert purpose.fetch_types == ("ONETIME",)
    assert purpose.sources == ("credit_bureau",)
    assert purpose.max_data_range_months == 1
    for name in IDENTITY_FEATURES:
        feature = catalog.features[name]
        assert feature.output.type == "boolean" and not feature.output.nullable
        assert feature.sources == ("credit_bureau",)
    assert dict(catalog.features["identity_id_number_match"].source_fields) == {"credit_bureau": ()}
    assert dict(catalog.features["identity_name_match"].source_fields) == {
        "credit_bureau": ("name",)
    }
    assert dict(catalog.features["identity_phone_match"].source_fields) == {
        "credit_bureau": ("phone",)
    }
    # Only the comparisons of name and phone are handed the claimed identity.
    assert {name for name, f in catalog.features.items() if f.compares_identity} == {
        "identity_name_match",
        "identity_phone_match",
    }


def test_identity_features_are_allowed_only_for_identity_match(catalog: Catalog) -> None:
    for purpose in catalog.purposes.values():
        if purpose.code != "identity_match":
            assert not set(purpose.features) & set(IDENTITY_FEATURES), purpose.code


def test_every_purpose_stays_within_its_sources_retention(catalog: Catalog) -> None:
    for purpose in catalog.purposes.values():
        assert purpose.sources, purpose.code
        for source in purpose.sources:
            assert purpose.max_data_range_months <= load_sources()[source].retention_months


def test_one_time_purposes_have_short_realistic_ceilings(catalog: Catalog) -> None:
    for purpose in catalog.purposes.values():
        if purpose.fetch_types == ("ONETIME",):
            assert purpose.max_validity_days <= 30, purpose.code
            assert purpose.max_data_range_months <= 24, purpose.code


def test_consumer_installment_underwriting_ceilings(catalog: Catalog) -> None:
    purpose = catalog.purpose("consumer_installment_underwriting")
    assert purpose.fetch_types == ("ONETIME",)
    assert purpose.max_validity_days == 30
    assert purpose.max_data_range_months == 24
    assert purpose.max_data_life_days == 30
    assert purpose.max_frequency == Frequency("MONTH", 1)
    # The example consent request of DESIGN.md.
    example = {"si_active", "hf_status", "income_proxy_band", "cb_overdue_accounts_24m"}
    assert example <= set(purpose.features)


def test_post_loan_monitoring_ceilings(catalog: Catalog) -> None:
    purpose = catalog.purpose("post_loan_monitoring")
    assert purpose.fetch_types == ("PERIODIC",)
    assert purpose.max_frequency == Frequency("MONTH", 1)
    assert purpose.max_validity_days >= 3 * 365
    assert purpose.max_data_range_months == 36


def test_every_purpose_tells_the_borrower_how_to_withdraw(catalog: Catalog) -> None:
    for purpose in catalog.purposes.values():
        assert "撤回" in purpose.notice.zh
        assert "withdraw" in purpose.notice.en
        assert purpose.title.zh and purpose.title.en and purpose.legal_basis


@pytest.mark.parametrize(
    ("feature", "fields"),
    [
        ("si_active", {"social_insurance": ("insured_status", "contribution_records.paid")}),
        ("si_paid_months", {"social_insurance": ("contribution_records.paid",)}),
        ("hf_status", {"housing_fund": ("account_status",)}),
        (
            "cb_overdue_accounts_24m",
            {
                "credit_bureau": (
                    "loan_accounts.repayment_history",
                    "card_accounts.repayment_history",
                )
            },
        ),
        ("cb_hard_inquiries_6m", {"credit_bureau": ("inquiries.reason",)}),
        (
            "cb_card_utilization",
            {"credit_bureau": ("card_accounts.credit_limit", "card_accounts.used_amount")},
        ),
        ("cb_open_loan_count", {"credit_bureau": ("loan_accounts.balance",)}),
        ("si_continuous_months", {"social_insurance": ("contribution_records.paid",)}),
        (
            "si_employer_changes",
            {
                "social_insurance": (
                    "contribution_records.employer_code",
                    "contribution_records.paid",
                )
            },
        ),
        (
            "hf_monthly_deposit_band",
            {"housing_fund": ("deposit_records.amount", "deposit_records.paid")},
        ),
        ("hf_balance_band", {"housing_fund": ("balance",)}),
        ("hf_has_loan", {"housing_fund": ("loan_status",)}),
        (
            "cb_current_overdue_amount_band",
            {
                "credit_bureau": (
                    "loan_accounts.repayment_history",
                    "card_accounts.repayment_history",
                )
            },
        ),
        ("cb_hard_inquiries_1m", {"credit_bureau": ("inquiries.reason",)}),
        ("cb_loan_balance_band", {"credit_bureau": ("loan_accounts.balance",)}),
        ("cb_monthly_repayment_band", {"credit_bureau": ("loan_accounts.monthly_repayment",)}),
        (
            "cb_abnormal_five_class",
            {"credit_bureau": ("loan_accounts.five_class", "card_accounts.five_class")},
        ),
        (
            "debt_service_ratio",
            {
                "social_insurance": ("contribution_records.base", "contribution_records.paid"),
                "housing_fund": ("account_status", "deposit_base"),
                "credit_bureau": ("loan_accounts.monthly_repayment",),
            },
        ),
        (
            "income_proxy_band",
            {
                "social_insurance": ("contribution_records.base", "contribution_records.paid"),
                "housing_fund": ("account_status", "deposit_base"),
            },
        ),
    ],
)
def test_features_read_the_minimum_fields(
    catalog: Catalog, feature: str, fields: dict[str, tuple[str, ...]]
) -> None:
    assert dict(catalog.features[feature].source_fields) == fields


def test_only_identity_comparisons_read_an_identifier(catalog: Catalog) -> None:
    for feature in catalog.features.values():
        reads_identity = any(
            path.split(".")[-1] in IDENTITY_FIELDS
            for paths in feature.source_fields.values()
            for path in paths
        )
        if reads_identity:
            assert feature.compares_identity, feature.name
            assert feature.output.type == "boolean", feature.name


def test_band_labels(catalog: Catalog) -> None:
    assert catalog.features["income_proxy_band"].output.labels == (
        "0-3000",
        "3000-5000",
        "5000-8000",
        "8000-12000",
        "12000-20000",
        "20000+",
    )


def test_public_view_is_json_ready_and_complete(catalog: Catalog) -> None:
    view = json.loads(json.dumps(catalog.public_view(), ensure_ascii=False))
    assert view["policy_version"] == catalog.version
    purposes = {purpose["code"]: purpose for purpose in view["purposes"]}
    installment = purposes["consumer_installment_underwriting"]
    assert installment["max_frequency"] == {"unit": "MONTH", "value": 1}
    assert installment["title"]["zh"] and installment["notice"]["en"]
    features = {feature["name"]: feature for feature in view["features"]}
    income = features["income_proxy_band"]
    assert income["sources"] == ["social_insurance", "housing_fund"]
    assert income["output"]["labels"][-1] == "20000+"
    assert income["output"]["edges"] == [0, 3000, 5000, 8000, 12000, 20000]
    assert features["cb_card_utilization"]["output"]["step"] == 0.1
    assert features["hf_status"]["output"]["values"] == ["NORMAL", "SEALED", "CLOSED", "NONE"]
    assert features["cb_overdue_accounts_24m"]["params"] == {"window_months": 24}
    assert {"description", "source_fields", "data_class"} <= set(income)
    assert installment["sources"] == [
        "social_insurance",
        "housing_fund",
        "credit_bureau",
        "utility",
    ]
    assert purposes["identity_match"]["sources"] == ["credit_bureau"]
    assert features["identity_name_match"]["compares_identity"] is True
    assert features["identity_id_number_match"]["source_fields"] == {"credit_bureau": []}
    assert features["debt_service_ratio"]["output"]["step"] == 0.05
    assert {source["name"]: source["retention_months"] for source in view["sources"]} == {
        source: load_sources()[source].retention_months for source in installment["sources"]
    }


def test_unknown_purpose_is_a_purpose_violation(catalog: Catalog) -> None:
    with pytest.raises(PurposeViolation) as raised:
        catalog.purpose("payday_loan")
    assert raised.value.code == "PurposeViolation"
    assert "payday_loan" in raised.value.detail


def test_an_unknown_purpose_that_is_not_a_name_is_not_echoed(catalog: Catalog) -> None:
    with pytest.raises(PurposeViolation) as raised:
        catalog.purpose("张三 13800138000")
    assert "13800138000" not in raised.value.detail


# -- version ---------------------------------------------------------------------------


def test_version_is_the_sha256_of_both_files(catalog: Catalog) -> None:
    data = (DEFAULT_DIRECTORY / "features.yaml").read_bytes()
    data += (DEFAULT_DIRECTORY / "purposes.yaml").read_bytes()
    assert catalog.version == "sha256:" + hashlib.sha256(data).hexdigest()
    assert load_catalog().version == catalog.version


@pytest.mark.parametrize("changed", ["features.yaml", "purposes.yaml"])
def test_version_changes_when_a_file_changes(tmp_path: Path, changed: str) -> None:
    for name in ("features.yaml", "purposes.yaml"):
        shutil.copy(DEFAULT_DIRECTORY / name, tmp_path / name)
    before = load_catalog(tmp_path).version
    with (tmp_path / changed).open("a", encoding="utf-8") as file:
        file.write("# reviewed\n")
    assert load_catalog(tmp_path).version != before


# -- the checker, on small catalogs ----------------------------------------------------

FEATURES = """\
features:
  - name: si_active
    description: {zh: 社保正常, en: Insured}
    label: {zh: 社保正常, en: Insured}
    explanation: {zh: 社保正常。, en: Insured.}
    sources: [social_insurance]
    source_fields:
      social_insurance: [insured_status, contribution_records.paid]
    derivation: si_active
    output: {type: boolean, value_labels: {'true': {zh: 是, en: Has}, 'false': {zh: 否, en: Lacks}}}
    data_class: C2
  - name: income_band
    description: {zh: 收入区间, en: Income band}
    label: {zh: 收入区间, en: Income band}
    explanation: {zh: 收入区间。, en: Income band.}
    sources: [social_insurance, housing_fund]
    source_fields:
      social_insurance: [contribution_records.base, contribution_records.paid]
      housing_fund: [account_status, deposit_base]
    derivation: income_proxy
    output: {type: band, edges: [0, 5000, 10000], nullable: true, unit: {zh: 元, en: yuan}}
    data_class: C2
  - name: overdue_12m
    description: {zh: 逾期账户数, en: Overdue accounts}
    label: {zh: 逾期账户数, en: Overdue accounts}
    explanation: {zh: 逾期账户数。, en: Overdue accounts.}
    sources: [credit_bureau]
    source_fields:
      credit_bureau: [loan_accounts.repayment_history, card_accounts.repayment_history]
    derivation: cb_overdue_accounts
    params: {window_months: 12}
    output: {type: integer, unit: {zh: 个, en: items}}
    data_class: C2
"""

PURPOSES = """\
purposes:
  - code: small_loan
    title: {zh: 小额贷款, en: Small loan}
    notice: {zh: 说明, en: Notice}
    why: {zh: 为审批您的申请。, en: To decide on your application.}
    legal_basis: PIPL Art. 13(1)(1)
    features: [si_active, income_band, overdue_12m]
    fetch_types: [ONETIME]
    max_validity_days: 30
    max_frequency: {unit: MONTH, value: 1}
    max_data_range_months: 24
    max_data_life_days: 30
"""


BOOLEAN_OUTPUT = (
    "output: {type: boolean, value_labels: "
    "{'true': {zh: 是, en: Has}, 'false': {zh: 否, en: Lacks}}}"
)


def write(directory: Path, features: str = FEATURES, purposes: str = PURPOSES) -> Path:
    (directory / "features.yaml").write_text(features, encoding="utf-8")
    (directory / "purposes.yaml").write_text(purposes, encoding="utf-8")
    return directory


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_a_small_catalog_loads(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path))
    assert set(catalog.features) == {"si_active", "income_band", "overdue_12m"}
    assert catalog.purpose("small_loan").features == ("si_active", "income_band", "overdue_12m")
    assert catalog.features["overdue_12m"].params == {"window_months": 12}


FEATURE_PROBLEMS = [
    pytest.param(
        "sources: [social_insurance]\n",
        "sources: [social_insurance, tax_bureau]\n",
        6,
        "unknown source `tax_bureau`",
        id="unknown-source",
    ),
    pytest.param(
        "      social_insurance: [insured_status, contribution_records.paid]\n",
        "      social_insurance: [insured_status, contribution_records.paid]\n"
        "      tax_bureau: [income]\n",
        9,
        "unknown source `tax_bureau`",
        id="unknown-source-in-fields",
    ),
    pytest.param(
        "[insured_status, contribution_records.paid]",
        "[insured_state, contribution_records.paid]",
        8,
        "unknown field `social_insurance.insured_state`",
        id="unknown-field",
    ),
    pytest.param(
        "[insured_status, contribution_records.paid]",
        "[insured_status, contribution_records.paid, name]",
        8,
        "identifier `social_insurance.name`",
        id="identity-field",
    ),
    pytest.param(
        "derivation: si_active\n",
        "derivation: passthrough\n",
        9,
        "raw derivation `passthrough`",
        id="passthrough-derivation",
    ),
    pytest.param(
        "derivation: si_active\n",
        "derivation: identity\n",
        9,
        "must never output a raw identifier",
        id="identity-derivation",
    ),
    pytest.param(
        "derivation: si_active\n",
        "derivation: crystal_ball\n",
        9,
        "unknown derivation `crystal_ball`",
        id="unknown-derivation",
    ),
    pytest.param(
        "[insured_status, contribution_records.paid]",
        "[insured_status, contribution_records.paid, contribution_records.base]",
        8,
        "`social_insurance.contribution_records.base`, which derivation `si_active` does not read",
        id="over-collection",
    ),
    pytest.param(
        "[insured_status, contribution_records.paid]",
        "[insured_status]",
        8,
        "must declare `social_insurance.contribution_records.paid`",
        id="missing-field",
    ),
    pytest.param(
        "edges: [0, 5000, 10000]",
        "edges: [0, 10000, 5000]",
        21,
        "strictly increasing (5000 follows 10000)",
        id="band-edges-decreasing",
    ),
    pytest.param(
        "edges: [0, 5000, 10000]",
        "edges: [0, 5000, 5000]",
        21,
        "strictly increasing",
        id="band-edges-repeated",
    ),
    pytest.param(
        "edges: [0, 5000, 10000]",
        "edges: [5000]",
        21,
        "at least two numbers",
        id="band-one-edge",
    ),
    pytest.param(
        "description: {zh: 社保正常, en: Insured}",
        "description: {zh: 社保正常}",
        3,
        "lacks its en text",
        id="missing-en",
    ),
    pytest.param(
        "description: {zh: 社保正常, en: Insured}",
        "description: {zh: '', en: Insured}",
        3,
        "lacks its zh text",
        id="empty-zh",
    ),
    pytest.param(
        BOOLEAN_OUTPUT,
        "output: {type: integer, unit: {zh: 个, en: items}}",
        10,
        "needs output type `boolean`",
        id="output-type-mismatch",
    ),
    pytest.param(
        BOOLEAN_OUTPUT,
        "output: {type: text}",
        10,
        "output `type` must be one of",
        id="unknown-output-type",
    ),
    pytest.param(
        "params: {window_months: 12}",
        "params: {window_months: 0}",
        31,
        "must be a positive whole number",
        id="non-positive-param",
    ),
    pytest.param(
        "    params: {window_months: 12}\n",
        "",
        23,
        "needs `params.window_months`",
        id="missing-param",
    ),
    pytest.param(
        "    derivation: si_active\n",
        "    derivaton: si_active\n",
        9,
        "unknown key `derivaton`",
        id="typo-key",
    ),
    pytest.param(
        "    data_class: C2\n  - name: income_band",
        "    data_class: C9\n  - name: income_band",
        11,
        "`data_class` must be one of C1, C2, C3",
        id="data-class",
    ),
    pytest.param(
        "name: income_band",
        "name: si_active",
        12,
        "feature `si_active` is declared twice",
        id="duplicate-feature",
    ),
    pytest.param(
        "    data_class: C2\n  - name: income_band",
        "    data_class: C2\n    data_class: C3\n  - name: income_band",
        12,
        "`data_class` is given twice",
        id="duplicate-key",
    ),
    pytest.param(
        "edges: [0, 5000, 10000], nullable: true, unit: {zh: 元, en: yuan}}",
        "edges: [0, 5000, 10000], unit: {zh: 元, en: yuan}}",
        21,
        "can answer null; its output needs `nullable: true`",
        id="null-without-nullable",
    ),
    pytest.param(
        BOOLEAN_OUTPUT,
        "output: {type: boolean, step: 0.1}",
        10,
        "unknown key `step`",
        id="stray-output-key",
    ),
]


@pytest.mark.parametrize(("old", "new", "line", "message"), FEATURE_PROBLEMS)
def test_feature_problems_name_file_and_line(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    write(tmp_path, features=edit(FEATURES, old, new))
    problems = check_catalog(tmp_path)
    prefix = f"{tmp_path / 'features.yaml'}:{line}: "
    assert any(p.startswith(prefix) and message in p for p in problems), problems


def test_an_identity_field_is_refused_in_the_credit_bureau(tmp_path: Path) -> None:
    features = edit(
        FEATURES,
        "[loan_accounts.repayment_history, card_accounts.repayment_history]",
        "[loan_accounts.repayment_history, card_accounts.repayment_history, phone]",
    )
    problems = check_catalog(write(tmp_path, features=features))
    assert any(":29: " in p and "identifier `credit_bureau.phone`" in p for p in problems)


def test_an_enum_must_list_exactly_the_derivation_codes(tmp_path: Path) -> None:
    features = FEATURES + (
        "  - name: hf_state\n"
        "    description: {zh: 公积金状态, en: Housing-fund status}\n"
        "    label: {zh: 公积金状态, en: Housing-fund status}\n"
        "    explanation: {zh: 公积金账户状态。, en: Housing-fund account status.}\n"
        "    sources: [housing_fund]\n"
        "    source_fields: {housing_fund: [account_status]}\n"
        "    derivation: hf_status\n"
        "    output:\n"
        "      type: enum\n"
        "      values: [NORMAL, SEALED]\n"
        "      value_labels: {NORMAL: {zh: 正常, en: Active}, SEALED: {zh: 封存, en: Sealed}}\n"
        "    data_class: C2\n"
    )
    problems = check_catalog(write(tmp_path, features=features))
    assert any(
        ":43: " in p and "must be exactly NORMAL, SEALED, CLOSED, NONE" in p for p in problems
    )


def test_block_style_edges_point_at_the_offending_edge(tmp_path: Path) -> None:
    features = edit(
        FEATURES,
        "output: {type: band, edges: [0, 5000, 10000], nullable: true, unit: {zh: 元, en: yuan}}",
        "output:\n"
        "      type: band\n"
        "      nullable: true\n"
        "      unit: {zh: 元, en: yuan}\n"
        "      edges:\n"
        "        - 0\n"
        "        - 5000\n"
        "        - 4000\n",
    )
    problems = check_catalog(write(tmp_path, features=features))
    assert any(":28: " in p and "strictly increasing" in p for p in problems), problems


PURPOSE_PROBLEMS = [
    pytest.param(
        "features: [si_active, income_band, overdue_12m]",
        "features: [si_active, income_band, overdue_12m, cb_magic]",
        7,
        "allows `cb_magic`, which features.yaml does not declare",
        id="undeclared-feature",
    ),
    pytest.param(
        "notice: {zh: 说明, en: Notice}",
        "notice: {en: Notice}",
        4,
        "`notice` lacks its zh text",
        id="missing-zh",
    ),
    pytest.param(
        "title: {zh: 小额贷款, en: Small loan}",
        "title: Small loan",
        3,
        "`title` must map zh and en to text",
        id="title-not-localized",
    ),
    pytest.param(
        "fetch_types: [ONETIME]",
        "fetch_types: [ONETIME, SOMETIMES]",
        8,
        "unknown fetch type `SOMETIMES`",
        id="bad-fetch-type",
    ),
    pytest.param(
        "unit: MONTH",
        "unit: WEEK",
        10,
        "unknown unit `WEEK`",
        id="bad-frequency-unit",
    ),
    pytest.param(
        "value: 1}",
        "value: 0}",
        10,
        "`max_frequency` `value` must be a positive whole number",
        id="zero-frequency",
    ),
    pytest.param(
        "max_validity_days: 30",
        "max_validity_days: 0",
        9,
        "`max_validity_days` must be a positive whole number",
        id="zero-validity",
    ),
    pytest.param(
        "max_data_range_months: 24",
        "max_data_range_months: -6",
        11,
        "`max_data_range_months` must be a positive whole number",
        id="negative-range",
    ),
    pytest.param(
        "max_data_life_days: 30",
        "max_data_life_days: 7.5",
        12,
        "`max_data_life_days` must be a positive whole number",
        id="fractional-life",
    ),
    pytest.param(
        "max_data_range_months: 24",
        "max_data_range_months: 6",
        7,
        "looks back 12 months, beyond its max_data_range_months of 6",
        id="window-beyond-range",
    ),
    pytest.param(
        "    legal_basis: PIPL Art. 13(1)(1)\n",
        "",
        2,
        "lacks `legal_basis`",
        id="missing-legal-basis",
    ),
    pytest.param(
        "features: [si_active, income_band, overdue_12m]",
        "features: []",
        7,
        "`features` must be a non-empty list",
        id="no-features",
    ),
]


@pytest.mark.parametrize(("old", "new", "line", "message"), PURPOSE_PROBLEMS)
def test_purpose_problems_name_file_and_line(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    write(tmp_path, purposes=edit(PURPOSES, old, new))
    problems = check_catalog(tmp_path)
    prefix = f"{tmp_path / 'purposes.yaml'}:{line}: "
    assert any(p.startswith(prefix) and message in p for p in problems), problems


def test_a_purpose_allowing_a_broken_feature_is_not_reported_twice(tmp_path: Path) -> None:
    features = edit(FEATURES, "derivation: si_active\n", "derivation: crystal_ball\n")
    problems = check_catalog(write(tmp_path, features=features))
    assert len(problems) == 1
    assert "purposes.yaml" not in problems[0]


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    features = edit(FEATURES, "    derivation: income_proxy\n", "    derivation: [income_proxy\n")
    problems = check_catalog(write(tmp_path, features=features))
    assert problems and problems[0].startswith(f"{tmp_path / 'features.yaml'}:")
    assert "not valid YAML" in problems[0]


def test_a_missing_file_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "features.yaml").write_text(FEATURES, encoding="utf-8")
    problems = check_catalog(tmp_path)
    assert any("purposes.yaml" in p and "cannot read" in p for p in problems)


def test_load_catalog_raises_with_every_problem(tmp_path: Path) -> None:
    features = edit(FEATURES, "insured_status,", "insured_state,")
    purposes = edit(PURPOSES, "unit: MONTH", "unit: WEEK")
    write(tmp_path, features, purposes)
    with pytest.raises(CatalogError) as raised:
        load_catalog(tmp_path)
    assert isinstance(raised.value, ValueError)
    assert raised.value.problems == check_catalog(tmp_path)
    assert len(raised.value.problems) == 2
    assert "features.yaml:8:" in str(raised.value)


def test_every_derivation_is_reachable_by_name() -> None:
    # The checker refuses unknown keys, so a typo in the registry would strand a feature.
    assert all(key == derivation.name for key, derivation in shipped_derivations().items())


# -- identity comparisons, presence checks and the sources' retention -------------------

NAME_MATCH = """\
  - name: name_match
    description: {zh: 姓名是否一致, en: Whether the name matches}
    label: {zh: 姓名是否一致, en: Whether the name matches}
    explanation: {zh: 姓名是否一致。, en: Whether the name matches.}
    sources: [credit_bureau]
    source_fields:
      credit_bureau: [name]
    derivation: identity_name_match
    output: {type: boolean, value_labels: {'true': {zh: 是, en: Has}, 'false': {zh: 否, en: Lacks}}}
    data_class: C3
  - name: on_file
    description: {zh: 是否有征信档案, en: Whether a credit file exists}
    label: {zh: 是否有征信档案, en: Whether a credit file exists}
    explanation: {zh: 是否有征信档案。, en: Whether a credit file exists.}
    sources: [credit_bureau]
    source_fields:
      credit_bureau: []
    derivation: identity_on_file
    output: {type: boolean, value_labels: {'true': {zh: 是, en: Has}, 'false': {zh: 否, en: Lacks}}}
    data_class: C3
"""


def test_an_identity_comparison_may_read_an_identifier(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, features=FEATURES + NAME_MATCH))
    assert catalog.features["name_match"].compares_identity
    assert dict(catalog.features["on_file"].source_fields) == {"credit_bureau": ()}
    assert not catalog.features["on_file"].compares_identity


def test_an_identity_comparison_may_not_read_another_identifier(tmp_path: Path) -> None:
    features = edit(FEATURES + NAME_MATCH, "credit_bureau: [name]", "credit_bureau: [phone]")
    problems = check_catalog(write(tmp_path, features=features))
    assert any(":40: " in p and "`credit_bureau.phone`, which derivation" in p for p in problems)
    assert any(":40: " in p and "must declare `credit_bureau.name`" in p for p in problems)


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        pytest.param(
            "      social_insurance: [insured_status, contribution_records.paid]\n",
            "      social_insurance: []\n",
            8,
            "must declare `social_insurance.contribution_records.paid`, "
            "`social_insurance.insured_status`",
            id="empty-list-for-a-reading-derivation",
        ),
        pytest.param(
            "    sources: [social_insurance]\n    source_fields:\n"
            "      social_insurance: [insured_status, contribution_records.paid]\n",
            "    sources: [social_insurance, housing_fund]\n    source_fields:\n"
            "      social_insurance: [insured_status, contribution_records.paid]\n"
            "      housing_fund: []\n",
            9,
            "reads `housing_fund`, which derivation `si_active` does not use",
            id="presence-check-of-an-unneeded-source",
        ),
        pytest.param(
            "    sources: [credit_bureau]\n    source_fields:\n      credit_bureau: []\n",
            "    sources: [social_insurance]\n    source_fields:\n      social_insurance: []\n",
            51,
            "must list source `credit_bureau` (with no fields)",
            id="presence-check-of-the-wrong-source",
        ),
    ],
)
def test_a_feature_contacts_exactly_the_sources_its_derivation_reads(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    write(tmp_path, features=edit(FEATURES + NAME_MATCH, old, new))
    problems = check_catalog(tmp_path)
    prefix = f"{tmp_path / 'features.yaml'}:{line}: "
    assert any(p.startswith(prefix) and message in p for p in problems), problems


@pytest.mark.parametrize(("months", "sound"), [(60, True), (61, False)])
def test_a_data_range_may_reach_back_exactly_as_far_as_the_sources_keep(
    tmp_path: Path, months: int, sound: bool
) -> None:
    assert load_sources()["credit_bureau"].retention_months == 60
    purposes = edit(PURPOSES, "max_data_range_months: 24", f"max_data_range_months: {months}")
    problems = check_catalog(write(tmp_path, purposes=purposes))
    if sound:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problems[0].startswith(f"{tmp_path / 'purposes.yaml'}:11: ")
        assert "of 61 is above the 60 months `credit_bureau` keeps" in problems[0]
        assert "`overdue_12m`" in problems[0]


def test_every_source_declares_its_retention() -> None:
    assert all(source.retention_months > 0 for source in load_sources().values())


def test_a_free_text_field_is_never_read(tmp_path: Path) -> None:
    features = edit(
        FEATURES,
        "[insured_status, contribution_records.paid]",
        "[insured_status, contribution_records.paid, remarks]",
    )
    problems = check_catalog(write(tmp_path, features=features))
    assert any(
        p.startswith(f"{tmp_path / 'features.yaml'}:8: ")
        and "free-text field `social_insurance.remarks`" in p
        for p in problems
    ), problems
