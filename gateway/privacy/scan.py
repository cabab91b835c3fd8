"""`lendgate pii scan`: run the gateway's recognizers over text or JSON lines.

Each input line gives one result, `{"line": N, "findings": [{"entity", "start",
"end", "masked"}]}`, with positions in the line as given and never the raw value.
A JSON line is scanned as its text, numbers included; `\\uXXXX` escapes are read
as the characters they stand for (Python writes `"\\u5f20\\u4e09"` for 张三 by
default), with positions still pointing into the original line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, Final

from gateway.privacy.recognizers import Finding, find_pii

_JSON_ESCAPE: Final = re.compile(r'\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))')
_SIMPLE_ESCAPES: Final = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


def scan_lines(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """One `{"line": N, "findings": [...]}` per input line (1-based), masked values only."""
    for number, line in enumerate(lines, start=1):
        findings = scan_line(line.rstrip("\r\n"))
        yield {
            "line": number,
            "findings": [
                {"entity": f.entity, "start": f.start, "end": f.end, "masked": f.masked}
                for f in findings
            ],
        }


def scan_line(line: str) -> list[Finding]:
    """Findings in one line of text or JSON, positioned in `line` as given."""
    if "\\" not in line or not _is_json(line):
        return find_pii(line)
    decoded, origin = _decode_json_escapes(line)
    return [Finding(f.entity, origin[f.start], origin[f.end], f.masked) for f in find_pii(decoded)]


def _is_json(line: str) -> bool:
    """True if the line parses as one JSON document."""
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _decode_json_escapes(line: str) -> tuple[str, list[int]]:
    """The line with JSON escapes decoded, and for each decoded character its position in `line`.

    The position list has one extra entry, `len(line)`, so an end offset maps too.
    """
    chars: list[str] = []
    origin: list[int] = []
    position = 0
    last_escape_end = -1
    for match in _JSON_ESCAPE.finditer(line):
        chars.extend(line[position : match.start()])
        origin.extend(range(position, match.start()))
        code = match.group(1)
        char = chr(int(code, 16)) if code else _SIMPLE_ESCAPES[match.group(2)]
        if (
            last_escape_end == match.start()
            and "\ud800" <= chars[-1] <= "\udbff"
            and "\udc00" <= char <= "\udfff"
        ):
            # `\ud83d\ude00`: two escapes, one character.
            pair = chars[-1] + char
            chars[-1] = pair.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
        else:
            chars.append(char)
            origin.append(match.start())
        position = last_escape_end = match.end()
    chars.extend(line[position:])
    origin.extend(range(position, len(line) + 1))
    return "".join(chars), origin
