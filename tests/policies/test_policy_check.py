"""`lendgate policy check` on the shipped catalogs and on every broken fixture.

Each folder under `fixtures/` holds a `features.yaml` and a `purposes.yaml` (and maybe
lenders' `products/*.yaml`). `valid/` is a small sound catalog; every other folder breaks
it in one way and marks each line the checker must name with a trailing
`# expect: MESSAGE` comment, so a fixture states its own verdict and a new fixture is
checked as soon as it is added.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.core.settings import get_settings
from policies.loading import DEFAULT_DIRECTORY, check_catalog

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BROKEN = sorted(folder.name for folder in FIXTURES.iterdir() if folder.name != "valid")
EXPECT = re.compile(r"#\s*expect:\s*(?P<message>.+?)\s*$")

runner = CliRunner()


@pytest.fixture
def no_policy_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings without LENDGATE_POLICY_DIR: the command checks the shipped catalogs."""
    monkeypatch.delenv("LENDGATE_POLICY_DIR", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def expectations(folder: Path) -> list[tuple[str, str]]:
    """(`FILE:LINE: ` prefix, message) for every line of the fixture marked `# expect:`."""
    expected = []
    products = sorted((folder / "products").glob("*.yaml"))
    for path in [folder / "features.yaml", folder / "purposes.yaml", *products]:
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if marked := EXPECT.search(line):
                expected.append((f"{path}:{number}: ", marked["message"]))
    return expected


def test_the_shipped_catalogs_pass(no_policy_dir: None) -> None:
    result = runner.invoke(app, ["policy", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "catalogs are valid"
    assert runner.invoke(app, ["policy", "check", str(DEFAULT_DIRECTORY)]).exit_code == 0


def test_policy_check_reads_lendgate_policy_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENDGATE_POLICY_DIR", str(FIXTURES / "missing_zh"))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["policy", "check"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "missing_zh/purposes.yaml:5: " in result.output


def test_the_valid_fixture_passes() -> None:
    result = runner.invoke(app, ["policy", "check", str(FIXTURES / "valid")])
    assert result.exit_code == 0, result.output
    assert expectations(FIXTURES / "valid") == []


def test_the_fixtures_cover_every_check_of_the_issue() -> None:
    assert set(BROKEN) >= {
        "unknown_source_field",
        "raw_identifier",
        "raw_derivation",
        "undeclared_source",
        "above_retention",
        "window_beyond_retention",
        "missing_zh",
        "missing_en",
        "product_widens",
    }


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_fixture_fails_naming_file_line_and_problem(case: str) -> None:
    folder = FIXTURES / case
    expected = expectations(folder)
    assert expected, f"fixture {case} marks no line with `# expect:`"
    result = runner.invoke(app, ["policy", "check", str(folder)])
    assert result.exit_code == 1, result.output
    problems = result.output.splitlines()
    assert "catalogs are valid" not in result.output
    for prefix, message in expected:
        assert any(p.startswith(prefix) and message in p for p in problems), (message, problems)
    # Exactly the marked problems: one fault is not reported twice, nor drowned in others.
    assert len(problems) == len(expected), problems
    assert problems == check_catalog(folder)
