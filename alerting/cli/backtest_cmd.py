"""``alerting backtest``: replay history through a rules file (and optionally a second one in
the same pass), summarise the tasks, forecast each manager's daily load and write the tasks.
The computing lives in ``alerting.backtest``; this module renders."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from alerting.backtest import (
    Diff,
    Replay,
    Summary,
    TaskCollector,
    build_engine,
    copy_directory,
    diff,
    diff_json,
    replay,
    summarise,
    summary_json,
)
from alerting.cli.run_cmd import fail_cleanly, load_dir
from alerting.io import DeadLetterWriter, EventSource
from alerting.tasks import Task


def _with_progress(src: EventSource, lines: Iterator[tuple[int, bytes]],
                   ) -> Iterator[tuple[int, bytes]]:
    """A rich progress bar on stderr over the file's bytes, only when stderr is a terminal."""
    if not sys.stderr.isatty() or not src.size:
        yield from lines
        return
    cols = (TextColumn("backtest"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[lines]} lines"), TimeRemainingColumn())
    with Progress(*cols, console=Console(stderr=True), transient=True) as bar:
        job = bar.add_task("read", total=src.size, lines=0)
        for n, item in enumerate(lines, 1):
            if n % 20000 == 0:
                bar.update(job, completed=src.position(), lines=n)
            yield item


def write_tasks(path: Path, tasks: list[Task]) -> None:
    """Canonical task JSON lines, one per task, in the deterministic order given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.writelines(t.to_json() + b"\n" for t in tasks)


def _table(title: str, cols: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Table:
    t = Table(title=title, title_justify="left")
    for i, c in enumerate(cols):
        t.add_column(c, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*(str(x) for x in row))
    return t


def render(console: Console, s: Summary, r: Replay, top: int, d: Diff | None) -> None:
    """The summary tables: per rule (with the A/B difference), severity, manager, week, and
    the per-manager daily load forecast."""
    console.print(f"events read {r.events_read}  processed {r.lines_ok}  "
                  f"dead-lettered {sum(r.dead_letters.values())}  days {s.days}  "
                  f"tasks {s.total}")
    if r.dead_letters:
        console.print("dead letters: " + "  ".join(f"{k} {v}" for k, v in
                                                   sorted(r.dead_letters.items())))
    if d is None:
        console.print(_table("tasks per rule", ("rule", "tasks"), list(s.by_rule.items())))
    else:
        rows = [(rule, a + both, b + both, a, b)
                for rule, (a, b, both) in d.per_rule.items()]
        console.print(_table("tasks per rule (A = --rules, B = --against)",
                             ("rule", "A", "B", "only A", "only B"), rows))
        console.print(f"only in A {len(d.only_a)}  only in B {len(d.only_b)}  in both {d.both}")
    console.print(_table("tasks per severity", ("severity", "tasks"), list(s.by_severity.items())))
    console.print(_table(f"tasks per manager (top {top})", ("manager", "tasks"),
                         list(s.by_manager.items())[:top]))
    console.print(_table("tasks per ISO week", ("week", "tasks"), list(s.by_week.items())))
    console.print(_table(f"load forecast: tasks per manager per day ({s.days} days)",
                         ("manager", "tasks", "mean/day", "max/day", "busiest day"),
                         [(m.manager_id, m.total, f"{m.mean_per_day:.2f}", m.max_per_day,
                           m.busiest_day) for m in s.forecast[:top]]))


def backtest(
    rules: Annotated[Path, typer.Option(help="Rules file to test (A).")],
    events: Annotated[str, typer.Option(help="Events JSONL or JSONL.gz (- for stdin).")],
    customers: Annotated[Path | None, typer.Option(help="Customers CSV/JSONL.")] = None,
    managers: Annotated[Path | None, typer.Option(help="Managers CSV/JSONL.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write A's tasks as JSON lines (with "
                                                  "--against, B's go to <out>.against.jsonl).")]
    = None,
    against: Annotated[Path | None, typer.Option(help="A second rules file (B) to compare, "
                                                      "in the same pass.")] = None,
    dead_letter: Annotated[Path | None, typer.Option("--dead-letter",
                                                     help="Write bad events here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    top: Annotated[int, typer.Option(min=1, help="Rows in the manager tables.")] = 10,
) -> None:
    """Replay history through a rules file: summary, manager load forecast, tasks, diff."""
    with fail_cleanly():
        directory = load_dir(customers, managers)
        engines = [build_engine(rules, directory)]
        if against is not None:
            engines.append(build_engine(against, copy_directory(directory)))
        collect = TaskCollector(len(engines))
        with EventSource(events) as src, DeadLetterWriter(dead_letter) as dlw:
            r = replay(_with_progress(src, src.lines()), engines, dlw, collect)
        tasks = collect.final(0)
        d = diff(tasks, collect.final(1)) if against is not None else None
        if out is not None:
            write_tasks(out, tasks)
            if against is not None:
                write_tasks(out.with_suffix(".against.jsonl"), collect.final(1))
        s = summarise(tasks, r)
        if as_json:
            doc = summary_json(s, r, top)
            if d is not None:
                doc["against"] = diff_json(d)
            sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
            return
        render(Console(highlight=False), s, r, top, d)


def register(app: typer.Typer) -> None:
    """Attach ``alerting backtest``."""
    app.command("backtest")(backtest)
