"""The languages the portal and the console are written in, and how a request picks one."""

from __future__ import annotations

from typing import Final, Literal

Language = Literal["zh", "en"]

DEFAULT_LANGUAGE: Final[Language] = "zh"

HTML_LANG: Final[dict[Language, str]] = {"zh": "zh-CN", "en": "en"}


def language_of(requested: str | None) -> Language:
    """The page language for a `lang` query value: English if asked for, else Chinese."""
    if requested and requested.strip().lower().startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def other_language(language: Language) -> Language:
    """The language the switch on a page in `language` leads to."""
    return "en" if language == "zh" else "zh"
