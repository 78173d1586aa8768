"""Two robustkit workers (training or evaluation) on localhost ports, as a MultiWorkerMirroredStrategy cluster."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import List, Sequence, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_ports(n: int) -> List[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_pair(config: str, cwd, extra: Sequence[str] = (), module: str = "robustkit.train") -> List[subprocess.Popen]:
    """Starts worker 0 (the chief) and worker 1 of ``python -m <module> --config config``.

    Their output goes to files in ``cwd``, not pipes: a worker blocked on a full
    pipe that nobody reads stalls the other in its next all-reduce.
    """
    workers = [f"localhost:{p}" for p in free_ports(2)]
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
        env["TF_CONFIG"] = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        stamp = f"{time.monotonic_ns()}-{index}"
        with open(os.path.join(str(cwd), f"worker-{stamp}.out"), "w") as out, \
                open(os.path.join(str(cwd), f"worker-{stamp}.err"), "w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", module, "--config", config, "--set",
                 "distribute.strategy=multi_worker", *extra],
                env=env, cwd=str(cwd), stdout=out, stderr=err, text=True,
            )
        proc.output_paths = (out.name, err.name)
        procs.append(proc)
    return procs


def wait_pair(procs: List[subprocess.Popen], timeout: float) -> List[Tuple[int, str, str]]:
    """``(returncode, stdout, stderr)`` of each worker; kills both when one outlives ``timeout``."""
    results = []
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
        out, err = (open(path, encoding="utf-8", errors="replace").read() for path in proc.output_paths)
        results.append((proc.returncode, out, err))
    return results


def kill(proc: subprocess.Popen) -> None:
    """kill -9."""
    os.kill(proc.pid, signal.SIGKILL)
