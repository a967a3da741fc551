"""Command-line interface: a thin layer over the library. ``memorynet --help`` lists the commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__, datasets
from ._atomic import atomic_write
from .evaluation import machine_info, train_and_evaluate
from .model import MemoryNetworkClassifier

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (with a pointer to --help), not a usage dump."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--max-neurons", type=int, default=1000, help="memory budget (default: 1000)")
    group.add_argument("--threshold", type=float, default=None,
                       help="growth threshold in distance units (default: none, grow until full)")
    group.add_argument("--distance", choices=["l2", "l1", "cosine", "lp"], default="l2",
                       help="distance function (default: l2, squared Euclidean)")
    group.add_argument("--p", type=float, default=2.0, help="exponent of the lp distance (default: 2)")
    group.add_argument("--n-neighbors", type=int, default=1, help="neurons that vote (default: 1)")
    group.add_argument("--channel-voting", action="store_true",
                       help="each colour channel votes with its own nearest neuron")
    group.add_argument("--batch-size", type=int, default=1024,
                       help="inputs learnt in parallel; 1 = strictly sequential (default: 1024)")
    group.add_argument("--seed", type=int, default=0, help="seed of the training order (default: 0)")


def _data_options(parser: argparse.ArgumentParser, default: str | None = "digits") -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", choices=datasets.DATASETS, default=default,
                       help=f"data set (default: {default}; digits ships with scikit-learn, no download)")
    group.add_argument("--data-dir", default=None,
                       help="folder holding the official files (default: $MEMORYNET_DATA, else the cache)")
    group.add_argument("--download", action="store_true", help="download missing files into --data-dir")
    group.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _estimator(args: argparse.Namespace) -> MemoryNetworkClassifier:
    return MemoryNetworkClassifier(max_neurons=args.max_neurons, threshold=args.threshold, distance=args.distance,
                                   p=args.p, n_neighbors=args.n_neighbors, channel_voting=args.channel_voting,
                                   batch_size=args.batch_size, random_state=args.seed,
                                   verbose=not args.no_progress)


def _load(args: argparse.Namespace) -> datasets.Dataset:
    return datasets.load(args.dataset, args.data_dir, download=True if args.download else None,
                         progress=not args.no_progress)


def write_json(path: str | Path, payload: dict) -> None:
    """Write ``payload`` as JSON atomically (the old file survives any failure)."""
    text = json.dumps(payload, indent=2, sort_keys=True).encode()
    atomic_write(path, lambda fh: fh.write(text))


def _cmd_train(args: argparse.Namespace) -> int:
    dataset = _load(args)
    estimator = _estimator(args)
    result = train_and_evaluate(estimator, dataset)
    result.update(params={k: v for k, v in estimator.get_params().items() if k != "verbose"},
                  version=__version__, machine=machine_info())
    print(f"dataset   {dataset.name}: {result['n_train']} train / {result['n_test']} test images, "
          "pixels scaled to [0, 1]")
    print(f"accuracy  {result['accuracy']:.4f} on the test set")
    print(f"neurons   {result['n_neurons']} of {args.max_neurons}")
    print(f"train     {result['train_seconds']:.2f} s (one pass)")
    print(f"inference {result['predict_seconds']:.2f} s ({result['n_test'] / result['predict_seconds']:.0f} "
          "images/s)")
    if args.json:
        write_json(args.json, result)
        print(f"wrote     {args.json}")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from . import experiments

    names = experiments.EXPERIMENTS if args.only is None else args.only
    for name in names:
        exp = experiments.experiment(name, quick=args.quick)
        runs = experiments.run_experiment(exp, args.out, data_dir=args.data_dir, jobs=args.jobs,
                                          scheduler=args.scheduler, progress=not args.no_progress)
        for path in experiments.write_report(exp, runs, args.out):
            print(f"wrote {path}")
        print(experiments.markdown_table(exp, runs))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``memorynet`` argument parser with all subcommands."""
    parser = _Parser(
        prog="memorynet",
        description="The Memory Network (Ruiz & Gupta 2024): one-pass learning with neuron memories, "
                    "no backpropagation, no convolutions.")
    parser.add_argument("--version", action="version", version=f"memorynet {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser("train", help="train in one pass, then evaluate on the test set",
                                description="Train a Memory Network in one pass over the training split, "
                                            "evaluate it on the test split, print accuracy and timings.")
    _data_options(train)
    _model_options(train)
    train.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    train.set_defaults(handler=_cmd_train)

    reproduce = commands.add_parser(
        "reproduce", help="run the paper's experiments: tables, figures, JSON",
        description="Run the paper's experiment grids (resumable: runs already in OUT/<experiment>.json are "
                    "skipped) and write OUT/<experiment>.json, .md and .png.")
    reproduce.add_argument("--only", action="append", choices=_experiment_names(),
                           help="run only this experiment (repeatable; default: all)")
    reproduce.add_argument("--quick", action="store_true", help="reduced grid (fewer values, 2 seeds), minutes")
    reproduce.add_argument("--jobs", type=int, default=1, help="parallel runs with joblib (default: 1)")
    reproduce.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask cluster (tcp://host:port)")
    reproduce.add_argument("--out", default="results", help="output folder (default: results/)")
    reproduce.add_argument("--data-dir", default=None,
                           help="folder holding the official files (default: $MEMORYNET_DATA, else the cache)")
    reproduce.add_argument("--no-progress", action="store_true", help="hide progress bars")
    reproduce.set_defaults(handler=_cmd_reproduce)
    return parser


def _experiment_names() -> tuple[str, ...]:
    from .experiments import EXPERIMENTS

    return EXPERIMENTS


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``memorynet`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"memorynet: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("memorynet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
