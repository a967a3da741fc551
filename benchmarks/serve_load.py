"""Load on ``memorynet serve``: a saved model served as a user starts it on 127.0.0.1, then 32 concurrent clients
(a bounded pool of threads, each a plain HTTP client) sending predictions and lessons; errors, lost lessons, latency
percentiles and the server's memory before and after.

    python benchmarks/serve_load.py                  # 32 clients, 2000 predictions, 200 lessons
    python benchmarks/serve_load.py --quick          # 16 clients, 400 predictions, 40 lessons

Writes ``<out>/serve_load.json`` and ``serve_load.md``. The model is the paper's, 300 neurons, on the 8 x 8 digits
(no data files needed).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from memorynet import datasets, preset, save_model
from memorynet.experiments.harness import write_report


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kib(pid: int) -> int:
    """Resident memory of a process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _call(url: str, payload: dict | None = None) -> tuple[float, int, dict]:
    """(seconds, status, JSON body) of one request."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        body, status = error.read(), error.code
    return time.perf_counter() - start, status, json.loads(body or b"{}")


def run(clients: int, predictions: int, lessons: int) -> dict:
    digits = datasets.load("digits")
    model = preset("paper", random_state=0, pixel_max=digits.pixel_max, max_neurons=300)
    model.fit(digits.X_train, digits.y_train)
    pixels = [(digits.X_test[i].ravel() * (255 / digits.pixel_max)).tolist() for i in range(len(digits.y_test))]
    with tempfile.TemporaryDirectory() as folder:
        path = save_model(model, Path(folder) / "m.mnet", {"dataset": "digits", "pixel_max": digits.pixel_max,
                                                           "class_names": list(digits.class_names)})
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "memorynet", "serve", "--model", str(path), "--port",
                                   str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    _call(url + "/api/model")
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the server did not start: {server.stderr.read().decode()[-500:]}")
                    time.sleep(0.2)
            for i in range(50):  # warm up: the first requests pay for imports and caches
                _call(url + "/api/predict", {"pixels": pixels[i]})
            rss_before = _rss_kib(server.pid)
            work = [("predict", {"pixels": pixels[i % len(pixels)]}) for i in range(predictions)]
            work += [("teach", {"pixels": pixels[i % len(pixels)], "label": str(digits.y_test[i % len(pixels)])})
                     for i in range(lessons)]
            order = np.random.default_rng(0).permutation(len(work))
            start = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                done = list(pool.map(lambda k: (work[k][0], *_call(f"{url}/api/{work[k][0]}", work[k][1])), order))
            seconds = time.perf_counter() - start
            rss_after = _rss_kib(server.pid)
            final = _call(url + "/api/model")[2]
        finally:
            server.terminate()
            server.wait(timeout=30)
    result = {"clients": clients, "predictions": predictions, "lessons": lessons, "seconds": seconds,
              "errors": sum(status != 200 for _, _, status, _ in done),
              "lessons_recorded": final["lessons"], "rss_before_mib": rss_before / 1024,
              "rss_after_mib": rss_after / 1024, "requests_per_second": len(done) / seconds}
    for kind in ("predict", "teach"):
        latency = np.array([s for k, s, _, _ in done if k == kind]) * 1000
        result[f"{kind}_ms_p50"], result[f"{kind}_ms_p99"] = (float(np.percentile(latency, 50)),
                                                              float(np.percentile(latency, 99)))
    return result


def markdown(r: dict) -> str:
    return ("| clients | predictions | lessons | errors | lessons recorded | predict p50 / p99 (ms) | "
            "teach p50 / p99 (ms) | requests/s | server memory before -> after (MiB) |\n"
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
            f"| {r['clients']} | {r['predictions']} | {r['lessons']} | {r['errors']} | {r['lessons_recorded']} | "
            f"{r['predict_ms_p50']:.1f} / {r['predict_ms_p99']:.1f} | {r['teach_ms_p50']:.1f} / "
            f"{r['teach_ms_p99']:.1f} | {r['requests_per_second']:.0f} | {r['rss_before_mib']:.0f} -> "
            f"{r['rss_after_mib']:.0f} |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    result = {"quick": args.quick, **(run(16, 400, 40) if args.quick else run(32, 2000, 200))}
    write_report(args.out, "serve_load", result, markdown(result))


if __name__ == "__main__":
    main()
