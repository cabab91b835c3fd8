"""`lendgate pii scan` output: one JSON line per input line, masked values only."""

from __future__ import annotations

import json

from gateway.privacy.scan import scan_lines

SANDBOX_ID = "11010519491231002X"


def test_output_format_is_exact() -> None:
    lines = [
        f"身份证号{SANDBOX_ID}已核验\n",
        "nothing to see here\n",
        '{"phone": 13800138000, "band": "8000-12000"}\n',
    ]
    assert list(scan_lines(lines)) == [
        {
            "line": 1,
            "findings": [
                {"entity": "CN_RESIDENT_ID", "start": 4, "end": 22, "masked": "110***********002X"}
            ],
        },
        {"line": 2, "findings": []},
        {
            "line": 3,
            "findings": [{"entity": "CN_MOBILE", "start": 10, "end": 21, "masked": "138****8000"}],
        },
    ]


def test_keys_come_in_the_documented_order() -> None:
    (result,) = scan_lines([f"姓名：张三 {SANDBOX_ID}"])
    assert list(result) == ["line", "findings"]
    assert [list(f) for f in result["findings"]] == [["entity", "start", "end", "masked"]] * 2


def test_json_lines_are_scanned_with_numbers_bare_and_quoted() -> None:
    line = json.dumps({"a": 440304199001010011, "b": "13900139000", "name": "李四"})
    (result,) = scan_lines([line])
    found = [(f["entity"], line[f["start"] : f["end"]]) for f in result["findings"]]
    assert found == [
        ("CN_RESIDENT_ID", "440304199001010011"),
        ("CN_MOBILE", "13900139000"),
        ("CN_NAME", "\\u674e\\u56db"),
    ]
    assert result["findings"][2]["masked"] == "李*"


def test_escaped_json_keeps_positions_in_the_original_line() -> None:
    # An emoji is a surrogate pair in escaped JSON: two escapes, one character.
    line = json.dumps({"x": "😀", "姓名": "欧阳明远", "id": f"证{SANDBOX_ID}"})
    (result,) = scan_lines([line])
    spans = {f["entity"]: line[f["start"] : f["end"]] for f in result["findings"]}
    assert spans["CN_RESIDENT_ID"] == SANDBOX_ID
    assert json.loads(f'"{spans["CN_NAME"]}"') == "欧阳明远"
    assert {f["entity"]: f["masked"] for f in result["findings"]} == {
        "CN_NAME": "欧阳**",
        "CN_RESIDENT_ID": "110***********002X",
    }


def test_line_numbers_are_one_based_and_line_endings_are_not_counted() -> None:
    results = list(scan_lines(["\r\n", "13800138000\r\n", ""]))
    assert [r["line"] for r in results] == [1, 2, 3]
    assert results[1]["findings"] == [
        {"entity": "CN_MOBILE", "start": 0, "end": 11, "masked": "138****8000"}
    ]


def test_output_never_holds_the_raw_values() -> None:
    lines = [f"身份证{SANDBOX_ID} 手机13800138000", '{"name": "张三", "card": 6222021234567894}']
    written = "\n".join(json.dumps(r, ensure_ascii=False) for r in scan_lines(lines))
    for raw in (SANDBOX_ID, "13800138000", "张三", "6222021234567894"):
        assert raw not in written


def test_invalid_json_with_backslashes_is_scanned_as_plain_text() -> None:
    (result,) = scan_lines(["path C:\\data\\13800138000.csv {"])
    assert [f["entity"] for f in result["findings"]] == ["CN_MOBILE"]
