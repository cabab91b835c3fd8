"""The README's configuration table is the settings' own: one row per field, as generated."""

from __future__ import annotations

import re

from gateway.core.settings import Settings
from tests.snapshots import README, readme_with_settings_table


def test_the_readme_configuration_table_is_generated_from_the_settings() -> None:
    readme = README.read_text("utf-8")

    assert readme == readme_with_settings_table(readme), "run `python -m tests.snapshots`"


def test_every_setting_has_a_row_and_every_row_a_setting() -> None:
    readme = README.read_text("utf-8")
    rows = set(re.findall(r"^\| `LENDGATE_([A-Z0-9_]+)` \|", readme, re.MULTILINE))

    assert rows == {name.upper() for name in Settings.model_fields}
    assert all(field.description for field in Settings.model_fields.values())
