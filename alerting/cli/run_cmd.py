"""``alerting run``: the embedded default. One engine, events from a file or stdin, tasks printed
for the manager as they appear (and appended to ``--out``), bad lines to a dead-letter file.
With no arguments it runs ``rules.yaml`` over the bundled sample bank."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from alerting.backtest import Replay, TaskCollector, build_engine, replay
from alerting.cli.run_metrics import RunMetrics
from alerting.cli.run_notify import notify_sync
from alerting.cli.run_serve import check_secret, serve_tasks
from alerting.directory import Directory
from alerting.errors import ConfigError
from alerting.io import DeadLetter, DeadLetterWriter, EventSource, load_directory
from alerting.money import format_money_grouped
from alerting.tasks import Task

SEVERITY_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow",
                  "low": "cyan", "info": "dim"}


def data_path(name: str) -> Path:
    """A file shipped in ``alerting/data`` (the bundled sample and the packaged rules)."""
    return Path(str(resources.files("alerting").joinpath("data", name)))


def default_rules() -> Path:
    """``rules.yaml`` of the current directory if present, else the packaged copy."""
    local = Path("rules.yaml")
    return local if local.is_file() else data_path("rules.yaml")


def resolve_inputs(events: str | None, customers: Path | None, managers: Path | None,
                   ) -> tuple[str, Path | None, Path | None]:
    """Default to the bundled sample (events and its directory) when no events are given."""
    if events is None:
        return (str(data_path("events.jsonl.gz")), customers or data_path("customers.csv"),
                managers or data_path("managers.csv"))
    return events, customers, managers


@contextmanager
def fail_cleanly() -> Iterator[None]:
    """Turn configuration errors into a message and exit status 1 instead of a traceback."""
    try:
        yield
    except ConfigError as exc:
        Console(stderr=True, highlight=False).print(f"[red]error:[/red] {exc}", markup=True)
        raise typer.Exit(1) from None


def load_dir(customers: Path | None, managers: Path | None) -> Directory:
    """Directory from the optional files (a missing file is an error, not an empty book)."""
    return load_directory(customers, managers)


def _evidence_text(ev: dict[str, Any]) -> str:
    parts = []
    for k, v in ev.items():
        if isinstance(v, str) and _is_money(v):
            v = _grouped(v)
        parts.append(f"{k}={v}")
    return "  ".join(parts)


def _grouped(v: str) -> str:
    """'1234567.80' -> '1,234,567.80' exactly (no float on the way)."""
    head, _, tail = v.lstrip("-").partition(".")
    cents = int(head) * 100 + int(tail)
    return format_money_grouped(-cents if v.startswith("-") else cents)


def _is_money(v: str) -> bool:
    head, dot, tail = v.lstrip("-").partition(".")
    return bool(dot) and head.isdigit() and len(tail) == 2 and tail.isdigit()


def render_task(console: Console, t: Task) -> None:
    """One task for the manager: what, who, why (with the numbers) and by when."""
    sev = SEVERITY_STYLE.get(t.severity, "")
    if t.revision:
        console.print(f"  [dim]↻ {t.task_id} rev {t.revision}[/dim] {t.rule_id} "
                      f"{t.customer_id}: {_evidence_text(t.evidence)}", markup=True)
        return
    who = t.assignee_id or "(unassigned)"
    role = f" ({t.assignee_role})" if t.assignee_role else ""
    console.print(f"[{sev}]{t.severity.upper():8}[/{sev}] [bold]{t.rule_id}[/bold]  "
                  f"customer {t.customer_id} → {who}{role}  due {t.due_at}", markup=True)
    console.print(f"    {t.title}", markup=False)
    if t.body:
        for line in t.body.strip().splitlines()[:6]:
            console.print(f"    [dim]{line}[/dim]", markup=True, highlight=False)
    if t.evidence:
        console.print(f"    {_evidence_text(t.evidence)}", markup=False)


def engine_stats(engine: Any) -> dict[str, Any]:
    """The engine's counters as a plain dict, whatever shape ``stats`` has."""
    stats = getattr(engine, "stats", None)
    if stats is None:
        return {}
    if isinstance(stats, dict):
        return stats
    if hasattr(stats, "as_dict"):
        return dict(stats.as_dict())
    if hasattr(stats, "__dataclass_fields__"):
        return {k: getattr(stats, k) for k in stats.__dataclass_fields__}
    return dict(vars(stats))


def render_run_summary(console: Console, r: Replay, created: Counter[tuple[str, str]],
                       updated: int, stats: dict[str, Any]) -> None:
    """Events read, tasks by rule and severity, updates, suppressions, late, duplicates and
    dead letters by reason."""
    t = Table(title="tasks created", show_lines=False)
    t.add_column("rule")
    t.add_column("severity")
    t.add_column("tasks", justify="right")
    for (rule, sev), n in sorted(created.items()):
        t.add_row(rule, sev, str(n))
    console.print(t)
    console.print(f"events read {r.events_read}  processed {r.lines_ok}  "
                  f"tasks {sum(created.values())}  updated {updated}")
    scalars = {k: v for k, v in stats.items() if isinstance(v, int | float)}
    if scalars:
        console.print("engine: " + "  ".join(f"{k} {v}" for k, v in sorted(scalars.items())))
    for k, v in sorted(stats.items()):
        if isinstance(v, dict) and v and k not in ("fired",):
            console.print(f"{k}: " + "  ".join(f"{a} {b}" for a, b in sorted(v.items())))
    dl = "  ".join(f"{k} {v}" for k, v in sorted(r.dead_letters.items())) or "none"
    console.print(f"dead-lettered {sum(r.dead_letters.values())}: {dl}")


def run(
    rules: Annotated[Path | None, typer.Option(help="Rules file (default ./rules.yaml, else "
                                                    "the packaged one).")] = None,
    events: Annotated[str | None, typer.Option(help="Events JSONL(.gz) file, or - for stdin "
                                                    "(default: the bundled sample).")] = None,
    customers: Annotated[Path | None, typer.Option(help="Customers CSV/JSONL.")] = None,
    managers: Annotated[Path | None, typer.Option(help="Managers CSV/JSONL.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write every task emission here as it "
                                                  "happens (JSON lines).")] = None,
    dead_letter: Annotated[Path | None, typer.Option(
        "--dead-letter", help="Bad events file (default dead-letter.jsonl next to --out).")]
    = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary.")] = False,
    serve: Annotated[int | None, typer.Option(
        "--serve", min=0, help="Then serve the tasks on the inbox page and API at this port "
                               "(0 = any free port; needs ALERTING_API_SECRET).")] = None,
    host: Annotated[str, typer.Option(help="Address for --serve.")] = "127.0.0.1",
    notify: Annotated[bool, typer.Option(
        "--notify", help="Then push the tasks through the receivers of the rules file's "
                         "routing tree (webhooks, robots, e-mail, …).")] = False,
    notify_timeout: Annotated[float, typer.Option(
        help="With --notify: how long to keep retrying failing receivers (seconds).")] = 30.0,
    metrics_port: Annotated[int | None, typer.Option(
        "--metrics-port", min=0, help="Serve Prometheus /metrics, /healthz and /readyz on this "
                                      "port while running (0 = any free port).")] = None,
) -> None:
    """Run the rules over events from a file or stdin and print tasks for the managers."""
    console = Console(highlight=False, soft_wrap=True)
    with fail_cleanly():
        if serve is not None:
            check_secret()
        ev_path, cust_path, mgr_path = resolve_inputs(events, customers, managers)
        directory = load_dir(cust_path, mgr_path)
        engine = build_engine(rules or default_rules(), directory)
        if dead_letter is None and out is not None:
            dead_letter = out.parent / "dead-letter.jsonl"
        live = RunMetrics.start(metrics_port, engine) if metrics_port is not None else None
        with EventSource(ev_path) as src, DeadLetterWriter(dead_letter) as dlw, \
                _maybe_open(out) as fh:
            sink = RunSink(console, fh, quiet, keep=serve is not None or notify, metrics=live)
            lines = live.count_lines(src.lines()) if live else src.lines()
            r = replay(lines, [engine], _dead_letter_to(dlw, live), sink)
        if live is not None:
            live.finish(r)
        render_run_summary(console, r, sink.created, sink.updated, engine_stats(engine))
        if dlw.total and dead_letter is not None:
            console.print(f"bad events written to {dead_letter}")
        if notify:
            sent = notify_sync(engine.ruleset, directory, sink.collect.final(),
                               timeout_s=notify_timeout)
            console.print("notifications: " + "  ".join(f"{k} {v}" for k, v in sent.items()))
        if serve is not None:
            serve_tasks(sink.collect.final(), directory, host, serve, console)


class RunSink:
    """Where the embedded run's task emissions go: counts for the summary, the ``--out`` file
    (flushed per task, so a tail -f sees them), the console, and the latest revisions for
    ``--serve``."""

    def __init__(self, console: Console, fh: IO[bytes] | None, quiet: bool, keep: bool,
                 metrics: RunMetrics | None = None) -> None:
        self.console, self.fh, self.quiet, self.keep = console, fh, quiet, keep
        self.metrics = metrics
        self.created: Counter[tuple[str, str]] = Counter()
        self.updated = 0
        self.collect = TaskCollector(1)

    def __call__(self, _engine: int, t: Task) -> None:
        if self.keep:
            self.collect(0, t)
        if self.metrics is not None:
            self.metrics.task(t)
        if t.revision:
            self.updated += 1
        else:
            self.created[(t.rule_id, t.severity)] += 1
        if self.fh is not None:
            self.fh.write(t.to_json() + b"\n")
            self.fh.flush()
        if not self.quiet:
            render_task(self.console, t)


def _dead_letter_to(dlw: DeadLetterWriter, metrics: RunMetrics | None = None,
                    ) -> Callable[[DeadLetter], None]:
    """Write each dead letter to the file and show the first 20 on stderr: line and reason
    only, since the raw text may hold personal data."""
    err = Console(stderr=True, highlight=False)

    def on_bad(dl: DeadLetter) -> None:
        dlw.write(dl)
        if metrics is not None:
            metrics.dead_letter(dl.reason)
        if dlw.total <= 20:
            err.print(f"dead letter: line {dl.line}: {dl.reason}: {dl.detail}", markup=False)
    return on_bad


@contextmanager
def _maybe_open(path: Path | None) -> Iterator[IO[bytes] | None]:
    if path is None:
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        yield fh


def register(app: typer.Typer) -> None:
    """Attach ``alerting run``."""
    app.command("run")(run)
