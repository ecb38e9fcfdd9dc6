"""Worker memory after a 10 MiB JSON body to the unauthenticated register endpoint.

One gunicorn worker on the bench database, run twice in one go: with the server's JSON_MAX_BODY_BYTES
(default 64 KiB), and with the limit lifted past the body (what every DRF endpoint did before it had
one). Prints the worker's resident memory before, right after, and its peak, from /proc.

    .venv/bin/python bench/body_limits.py [--mib 10]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, setup_django, start_gunicorn

PORT = 8791


def _worker_pid(master: subprocess.Popen) -> int:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    return int(children[0])


def _memory_mib(pid: int) -> tuple[float, float]:
    """(resident now, resident at its peak) of a process, in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _register(body: bytes) -> str:
    """The status curl saw: like most clients, it reads an early 413 while still sending the body, which
    a sync worker answers without reading the rest (then closes the connection)."""
    with tempfile.NamedTemporaryFile() as file:
        file.write(body)
        file.flush()
        result = subprocess.run(
            [
                *("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json"),
                *("--data-binary", f"@{file.name}", f"http://127.0.0.1:{PORT}/api/auth/register"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    return result.stdout.strip() or f"curl exit {result.returncode}"


def measure(body: bytes, **env) -> dict:
    server = start_gunicorn(port=PORT, workers=1, REGISTRATION_OPEN="true", REGISTRATION_RATE="1000/h", **env)
    try:
        pid = _worker_pid(server)
        _register(json.dumps({"name": "warm-up", "ownerEmail": "warm@bench.example"}).encode())
        before, _ = _memory_mib(pid)
        status = _register(body)
        time.sleep(0.5)
        after, peak = _memory_mib(pid)
        return {"status": status, "before": before, "after": after, "peak": peak}
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=10, help="Body size in MiB.")
    args = parser.parse_args()
    setup_django()
    # A registration with a million-odd domains: parsed whole, each becomes a Python object of its own.
    domains = ["d.example"] * (args.mib * 1024 * 1024 // len('"d.example",'))
    body = json.dumps({"name": "big", "ownerEmail": "big@bench.example", "domains": domains}).encode()
    print(machine())
    print(f"POST /api/auth/register with {len(body) / 1024 / 1024:.1f} MiB of JSON, one gunicorn worker\n")
    print(f"{'limit':<28} {'status':>6} {'RSS before':>11} {'RSS after':>10} {'peak RSS':>9}")
    for label, env in (
        ("JSON_MAX_BODY_BYTES default", {}),
        ("limit lifted (as before)", {"JSON_MAX_BODY_BYTES": str(len(body) + 1)}),
    ):
        figures = measure(body, **env)
        print(
            f"{label:<28} {figures['status']:>6} {figures['before']:>8.0f} MiB {figures['after']:>6.0f} MiB "
            f"{figures['peak']:>5.0f} MiB"
        )


if __name__ == "__main__":
    main()
