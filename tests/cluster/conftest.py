"""Processes of one exchange over the real Kafka and Redis, for the cluster tests."""

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.server import EXCHANGE, ROOT, free_port, wait_until_up


class Processes:
    """Processes of one exchange (one namespace), each logging to a file of its own."""

    def __init__(self, directory: Path, kafka: str, redis: str) -> None:
        self.directory = directory
        self.flags = ["--kafka", kafka, "--redis", redis,
                      "--namespace", f"t{uuid.uuid4().hex[:12]}", "--partitions", "4"]
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.directory / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen([*EXCHANGE, *args, *self.flags], stdout=out,
                                       stderr=subprocess.STDOUT, cwd=ROOT,
                                       env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.running[name] = process
        return process

    def gateway(self, name: str) -> str:
        port = free_port()
        process = self.start(name, "gateway", "--port", str(port))
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, process, self.directory / f"{name}.log")
        return url

    def kill(self, name: str) -> None:
        process = self.running.pop(name)
        process.kill()
        process.wait(30)

    def stop_all(self) -> dict[str, int]:
        for process in self.running.values():
            process.send_signal(signal.SIGINT)
        codes = {}
        for name, process in self.running.items():
            try:
                codes[name] = process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        self.running.clear()
        return codes

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text()[-2000:]}"
                         for path in sorted(self.directory.glob("*.log")))


@pytest.fixture
def processes(tmp_path: Path, kafka_bootstrap: str, redis_url: str) -> Iterator[Processes]:
    processes = Processes(tmp_path, kafka_bootstrap, redis_url)
    try:
        yield processes
    finally:
        for process in processes.running.values():
            process.kill()
            process.wait(30)
