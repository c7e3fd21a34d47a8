"""Load rules.yaml: parse (with line numbers), validate, compile every condition and template,
and report ALL problems at once as ``RulesError([RuleProblem(...)])`` naming the rule id, the
field and the line.

>>> ruleset = load_rules("rules.yaml")      # or the YAML text itself
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from alerting.errors import ExpressionError, RuleProblem, RulesError
from alerting.routing.spec import CalendarSpec, RoutingSpec
from alerting.rules.common import LOCALES, TEMPLATE_NAMES, CompiledRule, Localized, RuleSpec
from alerting.rules.registry import KINDS
from alerting.rules.spec import RulesFile, TestSpec, TierSpec
from alerting.rules.tiers import TierResolver

_TIER_FN = re.compile(r"\btier(_limit|_label)?\s*\(|customer\.tier\b")
Path_ = tuple[str | int, ...]


@dataclass
class RuleSet:
    """A validated, compiled rules file. ``spec`` is never mutated."""

    spec: RulesFile
    rules: list[CompiledRule]  # enabled rules, in file order
    tiers: list[TierSpec]
    resolver: TierResolver
    fingerprints: dict[str, str]
    tests: list[TestSpec]
    routing: RoutingSpec
    calendar: CalendarSpec
    source_path: str | None = None
    kinds: frozenset[str] = field(default_factory=frozenset)

    @property
    def slots(self) -> int:
        """Per-customer state slots: one per enabled stateful rule."""
        return sum(1 for r in self.rules if r.stateful)


def load_rules(source: str | Path) -> RuleSet:
    """Load and compile a rules file (a path, or YAML text containing a newline)."""
    path: str | None = None
    if isinstance(source, Path) or "\n" not in source:
        path = str(source)
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as e:
            raise RulesError([RuleProblem(f"cannot read rules file: {e.strerror}",
                                          path=path)]) from None
    else:
        text = source
    return _Loader(text, path).load()


class _Skip(Exception):
    """Abandon compiling one rule (its problem is already recorded)."""


class _Loader:
    def __init__(self, text: str, path: str | None) -> None:
        self.text = text
        self.path = path
        self.problems: list[RuleProblem] = []
        self.lines: dict[Path_, int] = {}
        self.data: Any = None

    def problem(self, message: str, loc: Path_ = (), *, rule_id: str | None = None,
                field_name: str | None = None) -> None:
        self.problems.append(RuleProblem(message, rule_id=rule_id, field=field_name,
                                         line=self.line_of(loc), path=self.path))

    def line_of(self, loc: Path_) -> int | None:
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), None)

    def load(self) -> RuleSet:
        self.parse_yaml()
        spec, positions = self.validate()
        self.duplicate_ids()
        ruleset = self.compile(spec, positions) if spec is not None else None
        if self.problems or ruleset is None:
            raise RulesError(sorted(self.problems, key=lambda p: p.line or 0))
        return ruleset

    def parse_yaml(self) -> None:
        try:
            node = yaml.compose(self.text, Loader=yaml.SafeLoader)
            self.data = yaml.safe_load(self.text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
            line = mark.line + 1 if mark is not None else None
            msg = f"YAML syntax error: {getattr(e, 'problem', None) or e}"
            self.problems.append(RuleProblem(msg, line=line, path=self.path))
            raise RulesError(self.problems) from None
        if node is not None:
            _walk(node, (), self.lines)
        if self.data is None:
            self.data = {}
        if not isinstance(self.data, dict):
            self.problem("the rules file must be a mapping (version, tiers, rules, ...)",
                         field_name="(top level)")
            raise RulesError(self.problems)

    def validate(self) -> tuple[RulesFile | None, list[int]]:
        """The validated file and the file position of each rule. When some rules are invalid,
        the others are still validated and compiled so that every problem is reported."""
        try:
            spec = RulesFile.model_validate(self.data)
            return spec, list(range(len(spec.rules)))
        except ValidationError as e:
            errors = e.errors()
        for err in errors:
            self.pydantic_problem(err)
        rules = self.data.get("rules")
        if not isinstance(rules, list):
            return None, []
        bad = {err["loc"][1] for err in errors
               if len(err["loc"]) > 1 and err["loc"][0] == "rules"}
        good = [i for i in range(len(rules)) if i not in bad]
        try:
            return RulesFile.model_validate({**self.data, "rules": [rules[i] for i in good]}), good
        except ValidationError:
            return None, []

    def pydantic_problem(self, err: Any) -> None:
        loc = _real_path(self.data, tuple(err["loc"]))
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, "kind")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown field {loc[-1]!r}"
        elif err["type"] == "union_tag_invalid":
            msg = f"unknown kind {err['input'].get('kind')!r}: use one of {', '.join(KINDS)}"
        elif err["type"] == "union_tag_not_found":
            msg = f"missing 'kind': use one of {', '.join(KINDS)}"
        rule_id, fld = self.split(loc)
        self.problem(msg.removeprefix("Value error, "), loc, rule_id=rule_id, field_name=fld)

    def split(self, loc: Path_) -> tuple[str | None, str]:
        """(rule id, field path inside the rule) or (None, full path)."""
        rules = self.data.get("rules") if isinstance(self.data, dict) else None
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int) \
                and isinstance(rules, list) and loc[1] < len(rules):
            raw = rules[loc[1]]
            rid = raw.get("id") if isinstance(raw, dict) else None
            inner = _fmt(loc[2:]) or "(rule)"
            return (str(rid) if rid is not None else f"rules[{loc[1]}]"), inner
        return None, _fmt(loc)

    def duplicate_ids(self) -> None:
        rules = self.data.get("rules")
        if not isinstance(rules, list):
            return
        seen: set[str] = set()
        for i, raw in enumerate(rules):
            rid = raw.get("id") if isinstance(raw, dict) else None
            if isinstance(rid, str):
                if rid in seen:
                    self.problem(f"duplicate rule id {rid!r}", ("rules", i, "id"),
                                 rule_id=rid, field_name="id")
                seen.add(rid)

    def compile(self, spec: RulesFile, positions: list[int]) -> RuleSet:
        resolver = TierResolver(spec.tiers, spec.defaults.locale)
        compiled: list[CompiledRule] = []
        fingerprints: dict[str, str] = {}
        for i, rule in enumerate(spec.rules):
            fingerprints[rule.id] = _fingerprint(rule, spec)
            ctx = _Ctx(self, positions[i], rule, resolver, spec.defaults.tz_minutes * 60_000)
            try:
                cr = KINDS[rule.kind].compile_rule(rule, len(compiled), ctx)
                cr.title = ctx.templates("title", rule.title, cr.evidence_keys)
                cr.body = ctx.templates("body", rule.body, cr.evidence_keys)
            except _Skip:
                continue
            cr.fingerprint = fingerprints[rule.id]
            if rule.enabled:
                compiled.append(cr)
        slots = 0
        for order, cr in enumerate(compiled):
            cr.order = order
            cr.index = slots if cr.stateful else -1
            slots += cr.stateful
        return RuleSet(spec=spec, rules=compiled, tiers=list(spec.tiers), resolver=resolver,
                       fingerprints=fingerprints, tests=list(spec.tests),
                       routing=spec.routing, calendar=spec.calendar, source_path=self.path,
                       kinds=frozenset(r.kind for r in spec.rules))


class _Ctx:
    """The ``CompileContext`` handed to a kind's ``compile_rule``."""

    def __init__(self, loader: _Loader, i: int, rule: RuleSpec, resolver: TierResolver,
                 tz_ms: int) -> None:
        self.loader = loader
        self.i = i
        self.rule = rule
        self.resolver = resolver
        self.tz_ms = tz_ms
        self.failed = False

    def compile_expr(self, field_name: str, source: str, *, roots: tuple[str, ...],
                     expect: Any = None) -> Any:
        """Compile one condition of this rule; record a located problem on error."""
        from alerting.rules.expr import T, compile_expr
        from alerting.rules.schema import functions_for, schema_for
        try:
            return compile_expr(source, schema_for(roots), functions_for(self.resolver),
                                expect=T.BOOL if expect is None else expect)
        except ExpressionError as e:
            col = f" (column {e.col})" if e.col is not None and "column" not in str(e) else ""
            self.loader.problem(f"{e}{col}", ("rules", self.i, field_name),
                                rule_id=self.rule.id, field_name=field_name)
            raise _Skip from None

    def templates(self, field_name: str, text: Any, names: frozenset[str]) -> dict[str, Any]:
        """Compile a title/body in every locale it is given in."""
        from alerting.rules.templates import compile_template

        sources = ({loc: getattr(text, loc) for loc in LOCALES if getattr(text, loc)}
                   if isinstance(text, Localized) else {loc: text for loc in LOCALES})
        out: dict[str, Any] = {}
        allowed = set(names | TEMPLATE_NAMES)
        for loc, src in sources.items():
            try:
                out[loc] = compile_template(src, allowed_names=allowed)
            except ExpressionError as e:
                sub = (field_name, loc) if isinstance(text, Localized) else (field_name,)
                self.loader.problem(str(e), ("rules", self.i, *sub), rule_id=self.rule.id,
                                    field_name=".".join(sub))
                raise _Skip from None
        return out


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k.value)
            lines[(*path, key)] = k.start_mark.line + 1
            _walk(v, (*path, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            _walk(item, (*path, i), lines)


def _real_path(data: Any, loc: tuple[Any, ...]) -> Path_:
    """Drop pydantic's extra loc parts (union tags, validator names) that are not keys.

    A discriminated union puts the tag (``window``) right after the item it picked, so in a
    ``kind: window`` rule ``("rules", 0, "window", "aggregate")`` names ``aggregate``; the tag
    must be dropped before the item's keys are looked at, since ``window`` is also a field."""
    out: list[str | int] = []
    cur = data
    entered = True  # cur was just reached: the next part may be its union tag
    for part in loc:
        if entered and isinstance(cur, dict) and isinstance(part, str) \
                and part in _TAGS and part in (cur.get("kind"), cur.get("type")):
            entered = False
            continue
        entered = isinstance(part, int)
        if (isinstance(cur, dict) and part in cur) or (
                isinstance(cur, list) and isinstance(part, int) and part < len(cur)):
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, dict) and isinstance(part, str) and part not in _TAGS:
            out.append(part)  # a missing or extra field: still worth naming
            cur = None
    return tuple(out)


def _notifier_types() -> frozenset[str]:
    from typing import get_args

    from alerting.notifiers.config import NotifierConfig

    union = get_args(NotifierConfig)[0]
    return frozenset(get_args(m.model_fields["type"].annotation)[0] for m in get_args(union))


# union tags pydantic puts in error locations: rule kinds, notifier types, wrapper names
_TAGS = (frozenset(KINDS) | _notifier_types()
         | {"str", "Localized", "function-after", "function-before"})


def _fmt(loc: Path_) -> str:
    s = ""
    for part in loc:
        s += f"[{part}]" if isinstance(part, int) else (f".{part}" if s else str(part))
    return s


_PRESENTATION = {"title", "body", "description", "labels", "due", "owner", "severity"}


def _fingerprint(rule: RuleSpec, spec: RulesFile) -> str:
    """Hash of the rule's spec plus what else shapes its state (tiers, timezone, activity)."""
    # presentation fields do not shape state: editing a template keeps a window's sums
    parts: dict[str, Any] = {"rule": rule.model_dump(mode="json", exclude=_PRESENTATION)}
    if any(_TIER_FN.search(src) for src in rule.expressions().values()):
        parts["tiers"] = [t.model_dump(mode="json") for t in spec.tiers]
    if rule.kind == "window":
        parts["tz"] = spec.defaults.timezone
    if rule.kind in ("reactivation", "inactivity"):
        parts["activity"] = spec.activity.model_dump(mode="json")
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
