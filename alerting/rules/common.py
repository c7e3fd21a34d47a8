"""Pieces shared by every rule kind: the common rule fields (pydantic), value parsers for
durations and money, the compiled-rule base class and the ``RuleKind`` protocol.

Every rule in rules.yaml has ``id``, ``kind``, ``description``, ``severity``, ``cooldown``,
``where``, ``title``, ``body``, ``due``, ``owner``, ``labels`` and ``enabled``; each kind module
adds its own fields and implements the runtime behaviour in a ``CompiledRule`` subclass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from alerting.durations import parse_duration
from alerting.errors import BadEvent
from alerting.money import parse_money

if TYPE_CHECKING:
    from alerting.engine import CustomerState, Engine
    from alerting.rules.expr import Compiled

def _money(value: Any) -> int:
    try:
        return parse_money(value)
    except BadEvent as e:
        raise ValueError(f"bad amount {value!r}: {e.detail}") from None


Duration = Annotated[int, BeforeValidator(parse_duration)]
Money = Annotated[int, BeforeValidator(_money)]
Severity = Literal["info", "low", "medium", "high", "critical"]
Role = Literal["account_manager", "supervisor", "branch_vp", "branch_president"]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")]
LOCALES = ("zh", "en")


class Localized(BaseModel):
    """A text in several locales; at least one must be given."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    zh: str | None = None
    en: str | None = None


Text = str | Localized


class RuleSpec(BaseModel):
    """Fields every rule has. Kind modules subclass it and add ``kind: Literal[...]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    default_cooldown: ClassVar[int] = 7 * 86_400_000

    id: Slug
    kind: str
    description: str = ""
    severity: Severity = "medium"
    cooldown: Duration | None = None
    where: str = "true"
    title: Text
    body: Text = ""
    due: Duration | None = None
    owner: Literal["manager"] | Role = "manager"
    labels: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True

    def texts(self) -> dict[str, Text]:
        """The template fields of this rule (name → text)."""
        return {"title": self.title, "body": self.body}

    def expressions(self) -> dict[str, str]:
        """The condition fields of this rule (name → source)."""
        return {"where": self.where}


# Value types of the evidence, so the engine can make it JSON-safe when a task fires.
MONEY_KEYS = frozenset({"amount", "limit", "baseline_mean", "baseline_std", "window_sum",
                        "window_max", "assets", "first_amount", "then_amount"})
TIME_KEYS = frozenset({"window_start", "window_end", "last_activity_at", "opened_at",
                       "first_at", "then_at", "event_at"})
# names a template may use besides the evidence keys
TEMPLATE_NAMES = frozenset({"customer", "event", "rule", "tier", "tier_label", "evidence",
                            "created_at", "due_at", "step"})


class CompileContext(Protocol):
    """What a kind needs from the loader to compile its rule."""

    def compile_expr(self, field: str, source: str, *, roots: tuple[str, ...],
                     expect: Any = ...) -> Compiled: ...


class CompiledRule:
    """Runtime form of one rule. Subclasses implement the hooks they need; the engine calls
    ``on_event`` only for events the rule is indexed under, ``on_timer``/``next_due`` only for
    timer kinds. State per customer lives in ``cs.rs[self.index]`` as plain lists of ints and
    strings (exported as JSON)."""

    kind: ClassVar[str] = ""
    stateful: ClassVar[bool] = True  # False: no slot in the customer state (index = -1)
    has_timer: ClassVar[bool] = False
    uses_activity: ClassVar[bool] = False
    evidence_keys: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, spec: RuleSpec, index: int, where: Compiled, cooldown_ms: int) -> None:
        self.spec = spec
        self.id = spec.id
        self.index = index  # slot in ``cs.rs`` (-1 for stateless kinds); set by the loader
        self.order = index  # position among the enabled rules (output order); set by the loader
        self.where = where
        self.where_fn: Callable[[Any, Any, Any], Any] = where.fn
        self.cooldown_ms = cooldown_ms
        self.severity = spec.severity
        self.fingerprint = ""
        self.title: dict[str, Any] = {}
        self.body: dict[str, Any] = {}

    def triggers(self) -> list[tuple[str, frozenset[str] | None]]:
        """(event type, transaction kinds or None for all) this rule listens to."""
        return []

    def on_event(self, eng: Engine, cs: CustomerState, ev: Any, cust: Any) -> None:
        """Evaluate one event of this customer (may call ``eng.emit``)."""

    def next_due(self, cs: CustomerState) -> int | None:
        """Epoch ms of this rule's next timer for the customer, or None."""
        return None

    def on_timer(self, eng: Engine, cs: CustomerState, now: int, cust: Any) -> None:
        """Fire this rule's timers due ≤ now for the customer."""

    def dump_state(self, state: Any) -> Any:
        """JSON-able form of a customer's state of this rule (identity for plain lists)."""
        return state

    def load_state(self, raw: Any) -> Any:
        """Inverse of ``dump_state``."""
        return raw


class RuleKind(Protocol):
    """A rule kind (one module each): its rules.yaml model ``SPEC`` and ``compile_rule``."""

    @property
    def SPEC(self) -> type[RuleSpec]: ...  # noqa: N802 (module constant)

    def compile_rule(self, spec: Any, index: int, ctx: CompileContext) -> CompiledRule: ...


def examples_of(mapping: Mapping[str, Any]) -> str:
    """Render a kind registry for messages: 'a, b, c'."""
    return ", ".join(sorted(mapping))


_TXN_FIELDS = frozenset({"type", "event_id", "customer_id", "account_id", "ts", "kind",
                         "amount", "currency", "channel", "balance_after", "counterparty_bank"})
_CMP_FIELDS = frozenset({"type", "event_id", "complaint_id", "customer_id", "ts", "status",
                         "category", "severity", "text"})
EVENT_FIELDS = {"transaction": _TXN_FIELDS, "complaint": _CMP_FIELDS}


def event_types(cond: Compiled) -> frozenset[str]:
    """Event types a condition can be evaluated on: those having every ``event.`` field it
    mentions. A condition naming ``event.amount`` is false for complaints, by definition."""
    fields = {n.split(".", 1)[1] for n in cond.names if n.startswith("event.") and "." in n}
    return frozenset(t for t, have in EVENT_FIELDS.items() if fields <= have)


def triggers_of(cond: Compiled, *also: Compiled) -> list[tuple[str, frozenset[str] | None]]:
    """Index entries (event type, transaction kinds or None = all) for a condition; further
    expressions evaluated on the same event restrict the event types."""
    types = event_types(cond)
    for other in also:
        types &= event_types(other)
    out: list[tuple[str, frozenset[str] | None]] = []
    for t in sorted(types):
        out.append((t, cond.event_kinds if t == "transaction" else None))
    return out
