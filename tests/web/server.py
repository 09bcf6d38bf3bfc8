"""A real exchange for tests: `exchange run` in its own process, on a free port."""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
EXCHANGE = [sys.executable, "-m", "exchange.cli"]


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path,
                  timeout: float = 60.0) -> None:
    """Wait until the exchange at `url` answers; fail with its log if it exits or not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/api/v1/status", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer: {log.read_text()[-3000:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """A running `exchange run`; `restart` and `kill` act on the same data directory."""

    data_dir: Path
    port: int
    log: Path
    extra: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*EXCHANGE, "run", "--port", str(self.port), "--data-dir", str(self.data_dir),
                 *self.extra], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        wait_until_up(self.url, self.process, self.log, timeout)

    def stop(self) -> int:
        """Ctrl-C, as a person would; return the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(30)
        self.process = None
        return code

    def kill(self) -> None:
        """SIGKILL: no goodbye, no snapshot."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)
        self.process = None
