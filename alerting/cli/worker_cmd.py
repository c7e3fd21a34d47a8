"""``alerting worker``: the production path on Kafka + Redis, configured from the environment."""

from __future__ import annotations

import asyncio

import typer

from alerting.errors import ConfigError, ServiceUnavailable, StateError, WorkerStopped
from alerting.logs import configure_logging
from alerting.settings import describe_settings, load_settings


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root app."""
    epilog = ("Settings (environment variables):\n\n"
              + "\n\n".join(describe_settings().splitlines()))
    # short_help: the command list shows it (rich mode keeps the docstring's line breaks there)
    app.command("worker", epilog=epilog, short_help="Run a Kafka worker: events in, rules "
                "evaluated, tasks out, state checkpointed to Redis.")(worker)


def worker() -> None:
    """Run a Kafka worker: consume transactions, complaints and profile updates, evaluate the
    rules, produce tasks and dead letters, checkpoint state to Redis. Start more workers with
    the same ALERTING_GROUP_ID to share the partitions. Exit code 2 when Kafka, Redis or the
    configuration is unusable at start; 1 when a running worker stops on a failure it cannot
    ride out (restart it: it resumes from its last checkpoint)."""
    from alerting.streams.app import run_worker
    from alerting.streams.faust_app import run_faust_worker

    try:
        s = load_settings()
        try:  # the Kafka libraries' loggers are set to WARNING explicitly (their DEBUG logs
            # cost ~25 % throughput)
            configure_logging(s.log_level, json=s.log_json)
        except ValueError as e:
            raise ConfigError(f"setting ALERTING_LOG_LEVEL: {e}") from None
        if s.runner == "faust":
            run_faust_worker(s)
        else:
            asyncio.run(run_worker(s))
    except (ConfigError, ServiceUnavailable, StateError) as e:
        typer.echo(f"alerting worker: {e}", err=True)
        raise typer.Exit(2) from None
    except WorkerStopped as e:
        typer.echo(f"alerting worker: {e}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
