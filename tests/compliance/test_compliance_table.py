"""Every test the README's compliance table names exists, and every article asked for has a row."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTICLES = {
    "PIPL": [6, 13, 14, 15, 16, 17, 23, 24, 29, 45, 46, 47, 51, 55],
    "征信业管理条例": [13, 14, 18, 20, 22],
}
NAMED = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def rows() -> list[str]:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Compliance\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and "Art." in line]


def test_every_article_has_a_row() -> None:
    found = [row.split("|")[1].strip() for row in rows()]

    assert found == [f"{law} Art. {n}" for law, numbers in ARTICLES.items() for n in numbers]


def test_every_named_test_exists() -> None:
    named = [match for row in rows() for match in NAMED.findall(row)]

    assert len(named) >= len(rows()) - 1  # one article is, honestly, not served
    for path, name in named:
        source = ROOT / path
        assert source.is_file(), path
        assert re.search(rf"^(async )?def {name}\(", source.read_text("utf-8"), re.MULTILINE), (
            f"{path} has no {name}"
        )
