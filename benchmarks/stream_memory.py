"""Memory of ``memorynet stream --data FOLDER`` against the folder's size: a folder is decoded one chunk at a time,
so the peak resident memory stays flat however many images it holds; ``memorynet train --data FOLDER``, which
decodes every image first, is measured beside it.

    python benchmarks/stream_memory.py              # folders of 2000, 8000 and 32000 images
    python benchmarks/stream_memory.py --quick      # 1000 and 6000 images

The folders are random 32 x 32 RGB PNG images in 10 class folders (no data files needed); both commands train the
paper's model with 200 neurons, chunks (checkpoints) of 1000 images, 20 % of every class kept for testing. Each
command runs in a fresh process whose peak resident set size (``getrusage``) is read when it ends. Writes
``<out>/stream_memory.json`` and ``stream_memory.md``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from memorynet.experiments.harness import write_report

_PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def write_folder(root: Path, n: int, seed: int = 0) -> int:
    """``n`` random 32 x 32 RGB PNG images in 10 class folders; returns their bytes on disk."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        folder = root / f"class{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i:06d}.png")
    return sum(f.stat().st_size for f in root.rglob("*.png"))


def peak_mib(command: list[str]) -> float:
    """Peak resident memory of ``command`` run in a fresh process, MiB."""
    out = subprocess.run([sys.executable, "-c", _PEAK, *command], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1024  # Linux reports KiB


def run(sizes: list[int]) -> dict:
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "images"
            disk = write_folder(folder, n)
            common = ["--data", str(folder), "--max-neurons", "200", "--no-progress"]
            memorynet = [sys.executable, "-m", "memorynet"]
            stream = peak_mib([*memorynet, "stream", *common, "--checkpoint", str(Path(tmp) / "c.mnet"),
                               "--checkpoint-every", "1000"])
            train = peak_mib([*memorynet, "train", *common])
        rows.append({"images": n, "folder_mib": disk / 2 ** 20, "decoded_mib": n * 32 * 32 * 3 / 2 ** 20,
                     "stream_peak_mib": stream, "train_peak_mib": train})
        print(f"{n} images: stream {stream:.0f} MiB, train {train:.0f} MiB", file=sys.stderr)
    return {"rows": rows, "ru_maxrss_unit": "KiB", "platform": sys.platform}


def markdown(result: dict) -> str:
    lines = ["| images | folder (MiB) | decoded uint8 (MiB) | `stream --data` peak (MiB) | `train --data` peak (MiB) |",
             "|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['images']} | {r['folder_mib']:.0f} | {r['decoded_mib']:.0f} | {r['stream_peak_mib']:.0f} | "
              f"{r['train_peak_mib']:.0f} |" for r in result["rows"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="folders of 1000 and 6000 images")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    if sys.platform != "linux":
        raise SystemExit("this benchmark reads peak memory as Linux reports it (ru_maxrss in KiB)")
    result = {"quick": args.quick, **run([1000, 6000] if args.quick else [2000, 8000, 32000])}
    write_report(args.out, "stream_memory", result, markdown(result))


if __name__ == "__main__":
    main()
