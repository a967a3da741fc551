"""Command-line interface: a thin layer over the library. ``memorynet --help`` lists the commands."""

from __future__ import annotations

import argparse
import functools
import re
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from .. import __version__
from ..experiments.evaluation import machine_info, train_and_evaluate
from ..experiments.harness import write_results
from ..io import datasets, user_data
from ..io import predictions as predictions_out
from ..io.inputs import read_images
from ..models import parameters as params
from ..models import presets
from ..models.persistence import load_model, save_model
from ..models.preprocessing import ImagePreprocessor, check_chain
from ..models.side_by_side import MEMBER_KINDS, SideBySideClassifier
from ..models.streaming import chunked_score, stream_fit
from ..models.thresholds import parse_threshold

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (with a pointer to --help), not a usage dump."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# --seed, --no-progress; inferred from the data; Python objects
_NOT_ON_THE_COMMAND_LINE = {"random_state", "verbose", "image_shape", "shuffle", "learning_rule"}


def _model_parameters() -> dict[str, tuple[object, str, str]]:
    """Every estimator parameter a command line may set: ``{name: (default, type text, help)}``. The help says
    which kinds of model take the parameter and, where they describe it differently, what it means to each."""
    first, meanings = {}, {}
    for kind, cls in presets.MODEL_KINDS.items():
        docs, defaults = params.parameter_docs(cls), params.parameter_defaults(cls)
        for name in (n for n in defaults if n not in _NOT_ON_THE_COMMAND_LINE):
            first.setdefault(name, (defaults[name], docs[name][0]))
            meanings.setdefault(name, {}).setdefault(docs[name][1], []).append(kind)
    out = {}
    for name, (default, kind_text) in first.items():
        variants = meanings[name]
        if len(variants) == 1 and len(next(iter(variants.values()))) == len(presets.MODEL_KINDS):
            text = next(iter(variants))
        else:
            text = " ".join(f"[{', '.join(kinds)}] {meaning}" for meaning, kinds in variants.items())
        out[name] = (default, kind_text, text)
    return out


def _threshold(text: str) -> float | str:
    """``--threshold``: a distance, or a quantile form learnt in the pass (``quantile:0.1``, ``auto``)."""
    try:
        value: float | str = float(text)
    except ValueError:
        value = text
    try:
        parse_threshold(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


_CONVERTERS = {"threshold": _threshold}  # options whose values are not of their default's type
_MEMBER_HELP = ("of a side-by-side preset (cifar10-best): that member alone, on the preset's "
                "preprocessing (default: the whole preset)")


def _model_options(parser: argparse.ArgumentParser) -> None:
    """Options derived from the estimators' signatures and docstrings; unset ones keep the preset's values."""
    group = parser.add_argument_group("model", "a preset, then any of its estimator's parameters; [kinds] name the "
                                      f"kinds of model ({', '.join(presets.MODEL_KINDS)}) that take an option")
    group.add_argument("--preset", choices=list(presets.PRESETS), default="paper",
                       help="named configuration: preprocessing + estimator (default: paper, the paper's model "
                            "on pixels scaled to [0, 1])")
    group.add_argument("--member", choices=list(MEMBER_KINDS), default=None,
                       help=_MEMBER_HELP)
    group.add_argument("--preprocessing", default=argparse.SUPPRESS,
                       help="preprocessing chain, e.g. 'dog+standardize' (default: the preset's)")
    group.add_argument("--seed", type=int, default=0, help="seed of the training order (default: 0)")
    for name, (default, kind, text) in _model_parameters().items():
        flag = "--" + name.replace("_", "-")
        text = text.replace("%", "%%").replace("``", "")
        if isinstance(default, bool):  # --flag / --no-flag: either way from any preset's value
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                               help=f"{text} (unset: the preset's value)")
            continue
        choices = re.findall(r'"(\w+)"', kind.split("}")[0]) if kind.startswith("{") else None
        convert = _CONVERTERS.get(name) or (int if isinstance(default, int) or kind.startswith("int") else
                                            float if isinstance(default, float) or default is None else str)
        group.add_argument(flag, type=convert, choices=choices, default=argparse.SUPPRESS,
                           help=f"{text} (unset: the preset's value)")


def _model(args: argparse.Namespace, dataset: datasets.Dataset):
    """The preset's unfitted pipeline with the options given on the command line (feature vectors of a table are
    taken as they are: preprocessing ``raw`` unless ``--preprocessing`` says otherwise)."""
    pixel_max = dataset.pixel_max
    chosen = {name: getattr(args, name) for name in _model_parameters() if hasattr(args, name)}
    cls = presets.estimator_class(args.preset, args.member)
    accepted = params.parameter_defaults(cls)
    foreign = [name for name in chosen if name not in accepted]
    if foreign:
        raise ValueError(f"preset {args.preset!r} uses {cls.__name__}, which has no "
                         f"{', '.join('--' + n.replace('_', '-') for n in foreign)}")
    model = presets.preset(args.preset, random_state=args.seed, pixel_max=pixel_max, member=args.member,
                           verbose=not args.no_progress, **chosen)
    if hasattr(args, "preprocessing") or dataset.features:
        model.set_params(preprocess__chain=getattr(args, "preprocessing", "raw"))
    return model


def _data_options(parser: argparse.ArgumentParser, default: str | None = "digits", own: bool = True) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", choices=datasets.DATASETS, default=None,
                       help=f"a benchmark data set (default: the one a preset is named for, else {default}; digits "
                            "ships with scikit-learn, no download)")
    group.add_argument("--data-dir", default=None,
                       help="folder holding the official files (default: $MEMORYNET_DATA, else the cache)")
    group.add_argument("--download", action="store_true", help="download missing files into --data-dir")
    group.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(default_dataset=default)
    if not own:
        return
    mine = parser.add_argument_group("your own data", "instead of --dataset: see the documentation's Data page")
    mine.add_argument("--data", metavar="PATH", help="labelled data: a folder of class folders of images (PNG, JPEG, "
                      "BMP, GIF, TIFF), an .npz or .npy of images, or a .csv/.parquet table of feature vectors")
    mine.add_argument("--test-data", metavar="PATH", help="test data in the same form (default: a stratified, "
                      "seeded --test-fraction of --data)")
    mine.add_argument("--test-fraction", type=float, default=0.2, help="share of every class kept for testing when "
                      "no --test-data is given (default: 0.2; the split follows --seed)")
    mine.add_argument("--labels", metavar="PATH", help="the labels .npy of an .npy of images")
    mine.add_argument("--npz-keys", nargs=2, metavar=("IMAGES", "LABELS"), default=("X", "y"),
                      help="names of the arrays in an .npz (default: X y)")
    mine.add_argument("--label-column", default="label", help="label column of a table (default: label)")
    mine.add_argument("--image-size", nargs=2, type=int, metavar=("H", "W"), help="resize every image to H x W "
                      "(needed when a folder's images differ in size)")
    mine.add_argument("--skip-bad", action="store_true", help="skip unreadable images (and count them) instead of "
                      "stopping at the first")


def _dataset_name(args: argparse.Namespace) -> str:
    """--dataset, else the data set a preset is named for, else the command's default; said once."""
    if getattr(args, "dataset", None):
        return args.dataset
    preset = getattr(args, "preset", None) or ""
    named = next((name for name in ("cifar10", "mnist") if preset.startswith(name)), None)
    if named:
        print(f"data      {named} (the data set preset {preset} is named for; --dataset chooses another)")
    return named or args.default_dataset


def _load(args: argparse.Namespace, lazy: bool = False) -> datasets.Dataset:
    """The benchmark data set, or the user's own data (``--data``) split into training and test images; with
    ``lazy``, a folder's images stay on disk (``X_train`` and ``X_test`` are
    :class:`~memorynet.io.user_data.FolderImages`, read chunk by chunk)."""
    if getattr(args, "data", None) is None:
        if getattr(args, "test_data", None):
            raise ValueError("--test-data goes with --data (your own training data)")
        return datasets.load(_dataset_name(args), args.data_dir, download=True if args.download else None,
                             progress=not args.no_progress)
    if args.dataset:
        raise ValueError("give --dataset (a benchmark) or --data (your own), not both")
    read = functools.partial(user_data.read_labelled, labels=args.labels, label_column=args.label_column,
                             npz_keys=tuple(args.npz_keys), skip_bad=args.skip_bad, progress=not args.no_progress,
                             size=tuple(args.image_size) if args.image_size else None, lazy=lazy)
    train = read(args.data)
    if args.test_data and args.labels:
        raise ValueError("--labels names the labels of --data; give --test-data as an .npz, a folder or a table")
    train, test = user_data.train_test(train, read(args.test_data) if args.test_data else None,
                                       test_fraction=args.test_fraction, seed=getattr(args, "seed", 0))
    skipped = train.skipped + test.skipped
    if skipped:
        print(f"skipped   {len(skipped)} unreadable file(s), e.g. {skipped[0]}")
    pixel_max = train.pixel_max if train.pixel_max is not None else 1.0
    images = lambda part: part if isinstance(part, user_data.FolderImages) else part.X  # noqa: E731
    return datasets.Dataset(Path(args.data).name, images(train), train.y, images(test), test.y, train.class_names,
                            pixel_max, features=train.pixel_max is None)


def _size_line(estimator) -> str:
    """How full the memory is: neurons (or prototypes, for an unlabelled feature stage) in use, of the budget; one
    line per member of a side-by-side model."""
    lines = []
    for member in getattr(estimator, "estimators_", [estimator]):
        unit = "neurons" if member.labelled_memories else "prototypes"
        lines.append(f"{unit:<9} {member.n_neurons_} of {member.max_neurons * len(member.banks_)}")
    return "\n".join(lines)


def _model_metadata(dataset: datasets.Dataset) -> dict:
    """What a saved model needs to name its data and classes (its preprocessing is part of the model)."""
    own = dataset.name not in datasets.DATASETS
    return {"dataset": None if own else dataset.name, "data": dataset.name if own else None,
            "pixel_max": dataset.pixel_max, "class_names": list(dataset.class_names)}


def _params_of(model) -> dict:
    """The preprocessing chain and the estimator's parameters (without ``verbose``), as JSON-ready values."""
    return {"preprocessing": model[0].chain, **{k: v for k, v in model[-1].get_params().items() if k != "verbose"}}


def _train_on_cluster(args: argparse.Namespace, model: Pipeline, dataset: datasets.Dataset) -> dict:
    """Data-parallel training on a Dask cluster (``--scheduler``) or a local one; prediction here."""
    from . import distributed

    with distributed.connect(args.scheduler, n_workers=args.workers) as client:
        X = model[0].transform(dataset.X_train)  # the fixed preprocessing, applied once here
        start = time.perf_counter()
        fitted = distributed.fit(model[-1], X, dataset.y_train, client=client, n_shards=args.shards,
                                 shard_budget=args.shard_budget)
        train_seconds = time.perf_counter() - start
    model.steps[-1] = ("network", fitted)
    start = time.perf_counter()
    accuracy = float(np.mean(model.predict(dataset.X_test) == dataset.y_test))
    return {"dataset": dataset.name, "accuracy": accuracy, "n_neurons": fitted.n_neurons_,
            "n_train": len(dataset.y_train), "n_test": len(dataset.y_test), "train_seconds": train_seconds,
            "predict_seconds": time.perf_counter() - start, "shards": args.shards, "shard_budget": args.shard_budget,
            "scheduler": args.scheduler or f"LocalCluster({args.workers} workers)"}


def _check_output(path: str | None, option: str) -> None:
    """Refuse an output path that names a folder, before any work is done."""
    if path is not None and (path.endswith(("/", "\\")) or Path(path).is_dir()):
        raise ValueError(f"{option} needs a file path, got the folder {path}; add a file name such as model.mnet")


def _cmd_train(args: argparse.Namespace) -> int:
    _check_output(args.save, "--save")
    _check_output(args.json, "--json")
    dataset = _load(args)
    model = _model(args, dataset)
    on_cluster = args.scheduler is not None or args.shards is not None
    if on_cluster:
        args.shards = 4 if args.shards is None else args.shards
        if args.shards < 1 or args.workers < 1:
            raise ValueError(f"--shards and --workers must be at least 1, got {args.shards} and {args.workers}")
        result = _train_on_cluster(args, model, dataset)
    else:
        result = train_and_evaluate(model, dataset)
    if args.save:
        save_model(model, args.save, _model_metadata(dataset))
    result.update(preset=args.preset, params=_params_of(model), version=__version__, machine=machine_info())
    print(f"dataset   {dataset.name}: {result['n_train']} train / {result['n_test']} test images, "
          f"preprocessing {model[0].chain}")
    print(f"accuracy  {result['accuracy']:.4f} on the test set")
    print(_size_line(model[-1]))
    where = f", {result['shards']} shards on {result['scheduler']}" if on_cluster else ""
    print(f"train     {result['train_seconds']:.2f} s (one pass{where})")
    print(f"inference {result['predict_seconds']:.2f} s ({result['n_test'] / result['predict_seconds']:.0f} "
          "images/s)")
    if args.save:
        print(f"saved     {args.save}")
    if args.json:
        write_results(args.json, result, indent=2)
        print(f"wrote     {args.json}")
    return 0


def _check_metadata(path: str, meta: dict, n_classes: int) -> dict:
    """The metadata the commands use, checked (version 1 files do not checksum their header)."""
    names = meta.get("class_names")
    if names is not None and (not isinstance(names, list) or len(names) != n_classes
                              or not all(isinstance(n, str) for n in names)):
        raise ValueError(f"{path}: metadata class_names must be {n_classes} strings, got {names!r:.80}")
    if meta.get("dataset") is not None and meta["dataset"] not in datasets.DATASETS:
        raise ValueError(f"{path}: metadata names an unknown data set {meta['dataset']!r:.40}")
    pixel_max = meta.get("pixel_max", 255.0)
    if isinstance(pixel_max, bool) or not isinstance(pixel_max, int | float) or not pixel_max > 0:
        raise ValueError(f"{path}: metadata pixel_max must be a positive number, got {pixel_max!r:.40}")
    if "preprocessing" in meta:
        try:
            check_chain(meta["preprocessing"])
        except ValueError as exc:
            raise ValueError(f"{path}: metadata {exc}") from None
    return meta


def _load_model(path: str) -> tuple[Pipeline, dict]:
    """A saved model as a pipeline that takes raw images (version 1 files name their preprocessing in metadata)."""
    model, meta = load_model(path)
    meta = _check_metadata(path, meta, len((model[-1] if isinstance(model, Pipeline) else model).classes_))
    if not isinstance(model, Pipeline):
        preprocessor = ImagePreprocessor(meta.get("preprocessing", "scale"), meta.get("pixel_max", 255.0))
        model = Pipeline([("preprocess", preprocessor.fit()), ("network", model)])
    return model, meta


def _scored_data(args: argparse.Namespace, meta: dict) -> tuple[str, np.ndarray, np.ndarray]:
    """(name, images, labels) to score a saved model on: all of ``--data`` (labels matched to the model's class
    names), else a benchmark's test split."""
    if args.data is None:
        args.dataset = args.dataset or meta.get("dataset") or "digits"
        dataset = _load(args)
        return f"the {dataset.name} test set", dataset.X_test, dataset.y_test
    data = user_data.read_labelled(args.data, labels=args.labels, label_column=args.label_column,
                                   npz_keys=tuple(args.npz_keys), skip_bad=args.skip_bad, progress=not args.no_progress,
                                   size=tuple(args.image_size) if args.image_size else None)
    names = meta.get("class_names") or []
    unknown = sorted(set(data.class_names) - set(names))
    if unknown:
        raise ValueError(f"{args.data} has classes the model does not know: {', '.join(unknown[:5])} (it knows "
                         f"{', '.join(names[:10]) or 'no class names'})")
    return str(args.data), data.X, np.array([names.index(n) for n in data.class_names])[data.y]


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from sklearn.metrics import classification_report

    _check_output(args.json, "--json")
    _check_output(args.confusion, "--confusion")
    model, meta = _load_model(args.model)
    where, X, y = _scored_data(args, meta)
    start = time.perf_counter()
    predicted = model.predict(X)
    seconds = time.perf_counter() - start
    classes = model[-1].classes_
    names = [str(n) for n in meta.get("class_names") or classes]
    report = classification_report(y, predicted, labels=classes, target_names=names, digits=4, zero_division=0,
                                   output_dict=True)
    print(f"accuracy  {report['accuracy']:.4f} on {where} ({len(y)} images)")
    print(_size_line(model[-1]))
    print(f"inference {seconds:.2f} s")
    print(classification_report(y, predicted, labels=classes, target_names=names, digits=4, zero_division=0))
    if args.confusion:
        from ..experiments import plots

        print(f"wrote     {plots.confusion_figure(y, predicted, classes, args.confusion, names)}")
    if args.json:
        write_results(args.json, {"data": where, "n_images": len(y), "inference_seconds": seconds, **report},
                      indent=2)
        print(f"wrote     {args.json}")
    return 0


def _prediction_rows(model, meta: dict, inputs: list[str], top_k: int, skip_bad: bool):
    """(path, index, [(label, name, score)] best first) for every image of the inputs (files, folders, globs)."""
    names = meta.get("class_names")
    classes = model[-1].classes_
    shape = tuple(model[-1].image_shape_)
    for path, images in read_images(inputs, shape, skip_bad=skip_bad, pixel_max=float(model[0].pixel_max)):
        scores = model.predict_proba(images)
        # predict's tie rule (nearest neuron among tied votes) can pick another class than the scores' first
        decided = np.searchsorted(classes, model.predict(images))
        for i, row in enumerate(scores):
            order = np.lexsort((-row, np.arange(len(row)) != decided[i]))[:top_k]  # the decision, then by score
            yield path, i, [(classes[j].item(), names[j] if names else str(classes[j]), float(row[j]))
                            for j in order]


def _cmd_predict(args: argparse.Namespace) -> int:
    if args.top_k < 1:
        raise ValueError(f"--top-k must be at least 1, got {args.top_k}")
    _check_output(args.out, "--out")
    model, meta = _load_model(args.model)
    rows = _prediction_rows(model, meta, args.inputs, min(args.top_k, len(model[-1].classes_)), args.skip_bad)
    if args.out is None:
        for path, i, best in rows:
            print("\t".join([path, str(i)] + [f"{label}\t{name}\t{score:.4f}" for label, name, score in best]))
        return 0
    written = predictions_out.write_predictions(args.out, rows)
    print(f"wrote     {args.out} ({written} predictions)")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from ..models.onnx_export import data_file, export_onnx

    _check_output(args.onnx, "--onnx")
    model, meta = _load_model(args.model)
    proto = export_onnx(model, args.onnx, class_names=meta.get("class_names"))
    shape = [d.dim_value or d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim]
    print(f"wrote {args.onnx}: input 'images' {shape} float32 (raw intensities), outputs 'label' and 'scores' "
          f"({len(model[-1].classes_)} classes), opset {proto.opset_import[0].version}")
    if any(tensor.data_location == tensor.EXTERNAL for tensor in proto.graph.initializer):
        print(f"wrote {data_file(args.onnx)}: its tensors (over one file's 2 GiB); keep the two files together")
    return 0


def _cmd_stream(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1 or args.checkpoint_every < 1:
        raise ValueError(f"--limit must be at least 1 (got {args.limit}) and --checkpoint-every at least 1 "
                         f"(got {args.checkpoint_every})")
    _check_output(args.checkpoint, "--checkpoint")
    dataset = _load(args, lazy=True)  # a folder is decoded one chunk at a time
    order = np.random.default_rng(args.seed).permutation(len(dataset.y_train))[: args.limit]
    model = _model(args, dataset)
    identity = {"dataset": dataset.name, "seed": args.seed, "limit": args.limit, "every": args.checkpoint_every,
                "preset": args.preset, "params": _params_of(model)}
    lazy = isinstance(dataset.X_train, user_data.FolderImages)
    X, y = (dataset.X_train.take(order), None) if lazy else (dataset.X_train[order], dataset.y_train[order])
    model = stream_fit(model, X, y, args.checkpoint, every=args.checkpoint_every,
                       classes=np.arange(len(dataset.class_names)), identity=identity,
                       metadata=_model_metadata(dataset), progress=not args.no_progress)
    accuracy = chunked_score(model, dataset.X_test, None if lazy else dataset.y_test)
    skipped = X.skipped + dataset.X_test.skipped if lazy else []  # arrays: reported when they were read
    if skipped:
        print(f"skipped   {len(skipped)} unreadable file(s) in this run, e.g. {skipped[0]}")
    print(f"streamed  {model[-1].n_samples_seen_} images; checkpoint {args.checkpoint}")
    print(f"accuracy  {accuracy:.4f} on the test set")
    print(_size_line(model[-1]))
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from ..experiments import claims
    from ..experiments import grids as experiments

    names = _experiment_names() if args.only is None else args.only
    for name in names:
        if name in claims.CLAIMS:
            for path in claims.run_claim(name, args.out, args.data_dir, args.quick, not args.no_progress):
                print(f"wrote {path}")
            print((Path(args.out) / f"{name}.md").read_text())
            continue
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
    train.add_argument("--save", metavar="PATH", help="save the fitted model (.mnet, no pickle) to PATH")
    cluster = train.add_argument_group("cluster", "data-parallel training with Dask (pip install 'memorynet[dask]')")
    cluster.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler (tcp://HOST:PORT); default: a local "
                         "cluster when --shards is given")
    cluster.add_argument("--shards", type=int, default=None, help="shards learnt in parallel, then merged by the "
                         "learning rule (default: 4 with --scheduler)")
    cluster.add_argument("--workers", type=int, default=2, help="workers of the local cluster (default: 2)")
    cluster.add_argument("--shard-budget", choices=["full", "split"], default="full",
                         help="neurons per shard: all of --max-neurons (full, default) or their share (split)")
    train.set_defaults(handler=_cmd_train)

    evaluate = _model_command(commands, "evaluate", _cmd_evaluate, "score a saved model on a test set",
                              "Load a saved model and score it on a data set's test split, or on all of --data: "
                              "accuracy, per-class precision, recall and F1, optionally a confusion matrix figure "
                              "and a JSON report.")
    _data_options(evaluate, default=None)
    evaluate.add_argument("--confusion", metavar="PNG", help="draw the confusion matrix into this PNG file")
    evaluate.add_argument("--json", metavar="PATH", help="write the report as JSON")

    predict = _model_command(commands, "predict", _cmd_predict, "label images with a saved model",
                             "Label every image of the inputs: image files (PNG, JPEG, BMP, GIF, TIFF), .npy arrays "
                             "((n, C, H, W), (n, H, W) or one image, raw intensities 0-255), folders (searched "
                             "for images at any depth) and globs. Prints 'file, index, then label, class name and "
                             "score for each of the top k', or writes them to --out.")
    predict.add_argument("inputs", nargs="+", help="image files, .npy arrays, folders or globs ('photos/*.jpg')")
    predict.add_argument("--out", metavar="PATH", help="write the predictions as CSV (or JSON lines for .jsonl): "
                         "path, index, label, class name, score (and rank with --top-k)")
    predict.add_argument("--top-k", type=int, default=1, help="the k most likely classes per image (default: 1)")
    predict.add_argument("--skip-bad", action="store_true", help="skip unreadable files instead of stopping")

    export = _model_command(commands, "export", _cmd_export, "export a saved model to ONNX (pip install "
                            "'memorynet[onnx]')", "Write a saved model, preprocessing included, as an ONNX file that "
                            "ONNX Runtime (C++, C#, Java, JavaScript, phones) runs: input 'images' (N, C, H, W) "
                            "float32 raw intensities, outputs 'label' and 'scores'; classes in the metadata.")
    export.add_argument("--onnx", required=True, metavar="PATH", help="the ONNX file to write (a model over 2 GiB "
                        "also writes its tensors to PATH.data beside it: keep the two together)")

    stream = commands.add_parser(
        "stream", help="learn from a stream with checkpoints; rerun to resume after a crash",
        description="Feed the training split (in a seeded random order) through partial_fit, checkpointing "
                    "model and stream position every N images. Rerun the same command after an interruption: it "
                    "resumes from the checkpoint and ends with the same model as an uninterrupted run.")
    _data_options(stream)
    _model_options(stream)
    stream.add_argument("--checkpoint", required=True, help="checkpoint file (.mnet), created or resumed")
    stream.add_argument("--checkpoint-every", type=int, default=5000, help="images between checkpoints")
    stream.add_argument("--limit", type=int, default=None, help="stream only the first N images of the order")
    stream.set_defaults(handler=_cmd_stream)

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

    show = _model_command(commands, "show", _cmd_show, "draw a saved model: memories, classes, confusion matrix, "
                          "nearest neurons", "Draw a saved model as PNG files in OUT: one bank's neuron memories "
                          "(grouped by class, or a dictionary of unlabelled prototypes, with counters), each class "
                          "as the model holds it, the confusion matrix on a test set, and the nearest neurons of a "
                          "few test images.")
    show.add_argument("--out", required=True, help="folder for the PNG files")
    show.add_argument("--position", type=int, default=None,
                      help="which bank to draw, for models with one bank per position (default: the middle one)")
    show.add_argument("--member", type=int, default=0,
                      help="which member to draw, for a side-by-side model (default: the first); the confusion "
                           "matrix is the whole model's")
    _data_options(show, default=None, own=False)

    serve = commands.add_parser(
        "serve", help="a web page to look inside a model and teach it live (pip install 'memorynet[serve]')",
        description="Serve a page where you see the model's neurons, draw or upload an image to see its "
                    "prediction and nearest neurons, teach it a label (existing or new) and save it. With --preset, "
                    "train that preset on --dataset first (then --model is where Save writes).")
    serve.add_argument("--model", help="model file to serve (and to save to)")
    serve.add_argument("--preset", choices=list(presets.PRESETS), default=None, help="train this preset first")
    serve.add_argument("--member", choices=list(MEMBER_KINDS), default=None, help=_MEMBER_HELP)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this "
                       "machine only; another host is reachable by others and prints a warning)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.add_argument("--seed", type=int, default=0, help="seed of the training order with --preset")
    _data_options(serve, default=None)
    serve.set_defaults(handler=_cmd_serve)
    return parser


def _model_command(commands, name: str, handler, summary: str, description: str) -> argparse.ArgumentParser:
    """A subcommand that works on a saved model (``--model``)."""
    parser = commands.add_parser(name, help=summary, description=description)
    parser.add_argument("--model", required=True, help="model file written by train --save")
    parser.set_defaults(handler=handler)
    return parser


def _experiment_names() -> tuple[str, ...]:
    from ..experiments.claims import CLAIMS
    from ..experiments.grids import EXPERIMENTS

    return EXPERIMENTS + CLAIMS


def _cmd_show(args: argparse.Namespace) -> int:
    from ..experiments import plots

    model, meta = _load_model(args.model)
    members = getattr(model[-1], "estimators_", [model[-1]])
    if not 0 <= args.member < len(members):
        raise ValueError(f"--member must be 0..{len(members) - 1}: the model has {len(members)} member(s)")
    estimator = members[args.member]
    view = estimator.memory_view(args.position)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = meta.get("class_names")
    written = [plots.memory_montage(view, estimator.classes_, out / "memories.png", names),
               plots.class_images_figure(estimator.class_images(), estimator.classes_, out / "classes.png", names)]
    args.dataset = args.dataset or meta.get("dataset") or "digits"
    dataset = _load(args)
    written.append(plots.confusion_figure(dataset.y_test, model.predict(dataset.X_test), estimator.classes_,
                                          out / "confusion.png", names))
    picks = np.random.default_rng(0).choice(len(dataset.y_test), size=min(6, len(dataset.y_test)), replace=False)
    images = model[0].transform(dataset.X_test[picks])
    nearest = estimator.nearest_neurons(images, 5, view["position"])
    written.append(plots.nearest_neurons_figure(view, images.reshape(len(images), *estimator.image_shape_),
                                                nearest, out / "nearest.png"))
    for path in written:
        print(f"wrote {path}")
    return 0


_NOT_SERVED = ("{} is a side-by-side model: the page shows and teaches one memory model at a time; serve one of "
               "its members instead (with --preset, --member KIND trains that member alone), and draw every member "
               "with memorynet show --member")


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        from . import serve
    except ImportError as exc:
        raise ImportError(f"memorynet serve needs its extra ({exc.name} is missing): "
                          "pip install 'memorynet[serve]'") from None
    if args.preset is None and args.model is None:
        raise ValueError("give --model FILE to serve a saved model, or --preset NAME (and --dataset) to train one")
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be between 1 and 65535, got {args.port}")
    if args.preset is None and args.member is not None:
        raise ValueError("--member picks the member of a side-by-side preset to train (with --preset); a saved "
                         "model is served as it was saved: train and save the member alone (memorynet train "
                         "--preset NAME --member KIND --save FILE), then serve that file")
    if args.preset is not None and args.member is None and presets.PRESETS[args.preset][1] is SideBySideClassifier:
        raise ValueError(_NOT_SERVED.format(args.preset))
    if args.preset is None:
        model, meta = _load_model(args.model)
    else:
        _check_output(args.model, "--model")
        if args.data is None:
            args.dataset = args.dataset or ("cifar10" if args.preset.startswith("cifar10") else "mnist")
        dataset = _load(args)
        model = presets.preset(args.preset, random_state=args.seed, pixel_max=dataset.pixel_max, member=args.member,
                               verbose=not args.no_progress).fit(dataset.X_train, dataset.y_train)
        model[-1].set_params(verbose=False)
        meta = _model_metadata(dataset)
        args.model = args.model or f"memorynet-{args.preset}.mnet"
    if isinstance(model[-1], SideBySideClassifier):
        raise ValueError(_NOT_SERVED.format(args.model))
    live = serve.LiveModel(model, args.model, meta.get("class_names"), meta)
    print(f"serving {args.model} ({type(model[-1]).__name__}, {model[-1].n_neurons_} neurons) on "
          f"http://{args.host}:{args.port}/  (Ctrl+C stops)")
    serve.run(live, args.host, args.port)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``memorynet`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, TypeError, OSError, ImportError) as exc:
        print(f"memorynet: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("memorynet: interrupted", file=sys.stderr)
        return 130


