"""Options shared by the commands that talk to the workers' Redis (tasks, outbox, report).
Defaults come from the worker settings, so a command and a worker agree without flags."""

from __future__ import annotations

from typing import Annotated

import typer

from alerting.settings import Settings

DEFAULT_URL: str = Settings.model_fields["redis_url"].default
DEFAULT_PREFIX: str = Settings.model_fields["redis_prefix"].default

RedisUrl = Annotated[str, typer.Option("--redis-url", envvar="ALERTING_REDIS_URL",
                                       help="Redis of the workers (task store, outbox)")]
Prefix = Annotated[str, typer.Option("--prefix", envvar="ALERTING_REDIS_PREFIX",
                                     help="Key prefix of the workers")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text")]
