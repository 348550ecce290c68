from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import DataError
from assistant.moderation import DEFAULT_RULES, ModerationConfigError, load_config


def test_default_rules_load() -> None:
    cfg = load_config()
    assert cfg.estate == "锦山壹号"
    assert [r.id for r in cfg.rules][:2] == ["fraud.fee", "abuse"]
    assert cfg.rule("ad.link").allowed_domains[0] == "jinshan1.example.cn"
    assert cfg.rule("flood").params["count"] == 3
    assert cfg.pii.plate is False and cfg.pii_strike is False
    assert "官方" in cfg.official_payment or "小程序" in cfg.official_payment


def _write(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_RULES.read_text(encoding="utf-8")
    assert old in text
    p = tmp_path / "rules.yml"
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return p


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def test_bad_regex_names_file_line_and_field(tmp_path: Path) -> None:
    p = _write(tmp_path, "      - 稳赚|包赚", "      - (稳赚|包赚")
    with pytest.raises(ModerationConfigError) as err:
        load_config(p)
    prob = err.value.problems[0]
    assert prob.path == str(p) and prob.field == "rules.ad.investment.patterns[0]"
    assert prob.line == _line_of(p, "- (稳赚|包赚")
    assert str(p) in str(err.value)


def test_wrong_types_and_unknown_fields_all_reported(tmp_path: Path) -> None:
    p = _write(tmp_path, "    count: 3 ", "    count: many ")
    text = p.read_text(encoding="utf-8").replace("  expire_days: 30", "  expire_days: -1\n  expires: 3")
    text = text.replace("{official_payment}", "{payment}")
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ModerationConfigError) as err:
        load_config(p)
    fields = {e.field: e.line for e in err.value.problems}
    assert fields["rules.flood.count"] == _line_of(p, "count: many")
    assert fields["strikes.expire_days"] == _line_of(p, "expire_days: -1")
    assert fields["strikes.expires"] == _line_of(p, "expires: 3")
    assert fields["replies.fraud_warning"] == _line_of(p, "fraud_warning: >-")


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "r.yml"
    p.write_text("estate: [unclosed\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_config(p)
    assert err.value.path == str(p) and err.value.line
    with pytest.raises(DataError, match="not found"):
        load_config(tmp_path / "missing.yml")


def test_unknown_ladder_action(tmp_path: Path) -> None:
    p = _write(tmp_path, "ladder: [warn, mute_recommendation, remove_recommendation]", "ladder: [warn, ban]")
    with pytest.raises(ModerationConfigError, match="ban"):
        load_config(p)
