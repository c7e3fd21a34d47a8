"""The guides say what the code does: every setting, metric and engine alert is documented for
operators; the rule author's examples are the real rules.yaml and load; the account manager's
page covers every outcome in both languages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from alerting.metrics import Metrics
from alerting.rules.loader import load_rules
from alerting.rules.registry import KINDS
from alerting.settings import Settings
from alerting.tasks import OUTCOMES
from alerting.web.i18n import LABELS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def yaml_blocks(text: str) -> list[Any]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def test_operator_guide_documents_every_setting_metric_and_alert() -> None:
    guide = read("operator-guide.md")
    for name in Settings.model_fields:
        assert f"`ALERTING_{name.upper()}`" in guide, name
    for family in Metrics(CollectorRegistry()).registry.collect():
        exposed = family.name + ("_total" if family.type == "counter" else "")
        assert f"`{exposed}`" in guide, exposed
    alerts = yaml.safe_load((ROOT / "docker/prometheus/alerts.yml").read_text())
    for group in alerts["groups"]:
        for rule in group["rules"]:
            assert f"`{rule['alert']}`" in guide, rule["alert"]


def test_rule_author_guide_examples_are_the_real_rules_and_load(tmp_path: Path) -> None:
    guide = read("rule-author-guide.md")
    real = yaml.safe_load((ROOT / "rules.yaml").read_text(encoding="utf-8"))
    by_id = {r["id"]: r for r in real["rules"]}
    tests_by_name = {t["name"]: t for t in real.get("tests", [])}
    kinds_shown = set()
    routing_checked = False
    for block in yaml_blocks(guide):
        if isinstance(block, dict) and "version" in block:
            continue  # the outline of the file, with "[...]" placeholders
        if isinstance(block, list) and block and isinstance(block[0], dict) and "id" in block[0]:
            for rule in block:
                assert rule == by_id[rule["id"]], f"example {rule['id']} differs from rules.yaml"
                kinds_shown.add(rule["kind"])
        elif isinstance(block, dict) and "tiers" in block:
            assert block["tiers"] == real["tiers"]
        elif isinstance(block, dict) and "activity" in block:
            assert block["activity"] == real["activity"]
        elif isinstance(block, dict) and "tests" in block:
            for t in block["tests"]:
                assert t == tests_by_name[t["name"]], t["name"]
        elif isinstance(block, dict) and "routing" in block:
            path = tmp_path / "routing.yaml"
            path.write_text(yaml.safe_dump({"version": 1, **block}, allow_unicode=True))
            assert load_rules(path).routing.escalation is not None
            routing_checked = True
    assert kinds_shown == set(KINDS)
    assert routing_checked
    for kind in KINDS:
        assert f"### {kind} —" in guide, kind


def test_account_manager_guide_covers_outcomes_in_both_languages() -> None:
    guide = read("account-manager-guide.md")
    assert "## 中文" in guide and "## English" in guide
    for outcome in OUTCOMES:
        assert f"`{outcome}`" in guide, outcome
        for locale in ("zh", "en"):
            assert LABELS["outcome"][locale][outcome] in guide, (locale, outcome)
    for shot in re.findall(r"\]\((screenshots/[^)]+)\)", guide):
        assert (DOCS / shot).is_file(), shot
