"""One process per data directory: a second `exchange run` on it refuses at once."""

import subprocess
import time
from pathlib import Path

from exchange.pipeline.lock import DataDirLock
from tests.web.server import EXCHANGE, ROOT, Server, free_port


def test_a_second_lock_on_a_directory_is_refused_until_the_first_is_released(
        tmp_path: Path) -> None:
    first, second = DataDirLock(tmp_path), DataDirLock(tmp_path)
    first.acquire()
    # The kernel's record locks are per process: ask from another one.
    probe = ("import sys; from pathlib import Path; from exchange.pipeline.lock import "
             "DataDirLock, DataDirInUse\ntry:\n DataDirLock(Path(sys.argv[1])).acquire()\n"
             "except DataDirInUse as e:\n print(e); sys.exit(3)")
    refused = subprocess.run([*EXCHANGE[:1], "-c", probe, str(tmp_path)], cwd=ROOT,
                             capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 3 and "in use by another exchange" in refused.stdout
    first.release()
    second.acquire()
    second.release()
    try:  # and in this process too, while held
        first.acquire()
        assert first.path.read_text().strip().isdigit()  # the holder's pid, for the message
    finally:
        first.release()


def test_a_second_exchange_on_a_running_ones_directory_refuses_at_once(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", free_port(), tmp_path / "log.txt")
    server.start()
    try:
        started = time.monotonic()
        second = subprocess.run(
            [*EXCHANGE, "run", "--port", str(free_port()), "--data-dir", str(server.data_dir)],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert time.monotonic() - started < 20
        assert second.returncode == 2
        assert "is in use by another exchange (pid" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        assert server.stop() == 0
