"""``alerting directory load customers.csv managers.csv``: publish the customer and manager
directories to Redis (read by workers at start) and/or the compacted Kafka topics (customer
profiles then flow through the workers like any profile update)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Annotated

import orjson
import typer

from alerting.directory import Customer, Manager
from alerting.errors import ConfigError, ServiceUnavailable
from alerting.settings import Settings, load_settings

directory_app = typer.Typer(help="Customer and manager directories.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root app."""
    app.add_typer(directory_app, name="directory")


@directory_app.command("load")
def load(
    customers: Annotated[Path, typer.Argument(help="customers CSV or JSONL")],
    managers: Annotated[Path | None, typer.Argument(help="managers CSV or JSONL")] = None,
    redis: Annotated[bool, typer.Option("--redis/--no-redis", help="write the Redis hashes "
                                        "(ALERTING_REDIS_URL, ALERTING_REDIS_PREFIX)")] = True,
    kafka: Annotated[bool, typer.Option("--kafka/--no-kafka", help="publish to the compacted "
                                        "customers and managers topics")] = False,
) -> None:
    """Load directory files into Redis and/or the compacted topics."""
    from alerting.io import load_customers, load_managers

    try:
        s = load_settings()
        custs = load_customers(customers)
        mgrs = load_managers(managers) if managers is not None else []
        msg = asyncio.run(_publish(s, custs, mgrs, redis, kafka))
    except (ConfigError, ServiceUnavailable) as e:
        typer.echo(f"alerting directory load: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(msg)


async def _publish(s: Settings, custs: list[Customer], mgrs: list[Manager], to_redis: bool,
                   to_kafka: bool) -> str:
    done = []
    if to_redis:
        from alerting.streams.directory import save_directory
        from alerting.streams.topics import connect_redis

        r = await connect_redis(s)
        try:
            await save_directory(r, s.redis_prefix, custs, mgrs)
        finally:
            await r.aclose()
        done.append("redis")
    if to_kafka:
        await publish_kafka(s, custs, mgrs)
        done.append("kafka")
    return f"loaded {len(custs)} customers and {len(mgrs)} managers into {', '.join(done)}"


async def publish_kafka(s: Settings, custs: list[Customer], mgrs: list[Manager]) -> None:
    """Customers as ``type: customer`` records keyed by customer_id; managers keyed by id."""
    from aiokafka.errors import KafkaError

    from alerting.streams.directory import customer_wire
    from alerting.streams.topics import ensure_topics, new_producer, start_kafka

    await ensure_topics(s)
    p = new_producer(s)
    await start_kafka(p, s)
    try:
        futs = [await p.send(s.topic_customers, orjson.dumps(customer_wire(c)),
                             key=c.customer_id.encode()) for c in custs]
        futs += [await p.send(s.topic_managers, orjson.dumps(dataclasses.asdict(m)),
                              key=m.manager_id.encode()) for m in mgrs]
        await asyncio.gather(*futs)
    except KafkaError as e:
        raise ServiceUnavailable(f"kafka: publishing the directory failed: "
                                 f"{type(e).__name__}") from None
    finally:
        await p.stop()
