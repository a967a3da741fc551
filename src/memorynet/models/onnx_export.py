"""Export a fitted model (an estimator, or a preset's pipeline of fixed preprocessing and estimator) to ONNX.

The graph takes raw images ``images`` (N, C, H, W) float32 (intensities 0..``pixel_max``, as ``predict`` takes
them) and returns ``label`` (N,) (the class labels themselves: integers, floats or strings) and ``scores``
(N, n_classes) float64, what ``predict_proba`` returns. The file's metadata carries the classes, the image shape,
the preprocessing and the memorynet version. A model whose memories overflow one protobuf message (2 GiB) is written
as two files: the graph, and its tensors in ONNX's external-data form beside it (``<file>.data``). Needs the ``onnx``
extra (``pip install 'memorynet[onnx]'``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ..io.atomic import atomic_write, atomic_write_all
from ..io.formats import library_version
from .onnx_graph import OPSET, GraphBuilder
from .preprocessing import ImagePreprocessor, check_chain

__all__ = ["data_file", "export_onnx", "memory_banks", "onnx_metadata"]

_ELEMENT_TYPES = {"i": 7, "u": 7, "b": 9, "f": 11, "U": 8, "O": 8}  # int64, bool, double, string
# a protobuf message (the ONNX file) holds at most 2 GiB; the banks' memories are most of it, and the rest of the
# graph (preprocessing, readout weights, labels) needs far less than the margin
PROTOBUF_LIMIT = 2 ** 31 - 2 ** 26
_EXTERNAL_MIN_BYTES = 1024  # tensors this large or larger go to the data file of a model over the limit
_ALIGN = 4096  # each tensor starts at a page boundary of the data file, so ONNX Runtime may map it in place


def memory_banks(estimator) -> list:
    """The fitted banks of an estimator, a side-by-side model's members' included (those that have banks)."""
    return [bank for member in getattr(estimator, "estimators_", [estimator]) for bank in getattr(member, "banks_", [])]


def _over_the_limit(estimator) -> bool:
    """Whether the model's memories alone overflow one ONNX file (counted before any tensor is copied)."""
    return sum(bank.memories.nbytes for bank in memory_banks(estimator)) > PROTOBUF_LIMIT


def data_file(path: str | os.PathLike) -> Path:
    """Where the tensors of a model too large for one ONNX file ``path`` go: ``<path>.data`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".data")


def _move_tensors_out(proto, location: str) -> list[tuple[int, bytes]]:
    """Point each large initializer of ``proto`` at its place in the data file ``location`` (relative to the ONNX
    file) and take its bytes out of the proto; the (offset, bytes) to write there, in file order."""
    from onnx import TensorProto
    from onnx.external_data_helper import set_external_data

    blobs, end = [], 0
    for tensor in proto.graph.initializer:
        raw = tensor.raw_data if tensor.HasField("raw_data") else b""
        if len(raw) >= _EXTERNAL_MIN_BYTES:
            offset = -(-end // _ALIGN) * _ALIGN
            set_external_data(tensor, location, offset, len(raw))
            tensor.data_location = TensorProto.EXTERNAL
            tensor.ClearField("raw_data")
            blobs.append((offset, raw))
            end = offset + len(raw)
    return blobs


def _write_blobs(blobs: list[tuple[int, bytes]]):
    """A writer of the data file: each blob at its offset, zeros between."""
    def write(fh) -> None:
        for offset, raw in blobs:
            fh.write(bytes(offset - fh.tell()))
            fh.write(raw)
    return write


def _parts(model) -> tuple[ImagePreprocessor | None, object]:
    """(preprocessor or None, estimator) of a model that has an ONNX form, else a ValueError naming the step."""
    steps = [step for _, step in model.steps] if isinstance(model, Pipeline) else [model]
    *front, estimator = steps
    if not hasattr(estimator, "_onnx_scores"):
        raise ValueError(f"ONNX export takes a memorynet estimator or a pipeline ending in one, not "
                         f"{type(estimator).__name__}")
    if len(front) > 1 or (front and not isinstance(front[0], ImagePreprocessor)):
        names = ", ".join(type(step).__name__ for step in front)
        raise ValueError(f"ONNX export takes at most one ImagePreprocessor before the estimator, not {names}; "
                         "export the estimator alone and apply the other steps before ONNX Runtime")
    check_is_fitted(estimator)
    return (front[0] if front else None), estimator


def _input_channels(chain: str, channels: int) -> int | str:
    """Channels of the raw images a chain turns into ``channels``: RGB for opponent colours, any for grey."""
    steps = check_chain(chain)
    return "C" if "grayscale" in steps else 3 if "opponent" in steps else channels


def onnx_metadata(model) -> dict[str, object]:
    """What the exported file's metadata says of ``model`` (values JSON-decoded)."""
    preprocessor, estimator = _parts(model)
    chain, pixel_max = (preprocessor.chain, float(preprocessor.pixel_max)) if preprocessor else ("raw", 1.0)
    channels, height, width = estimator.image_shape_
    return {"memorynet_version": library_version(), "estimator": type(estimator).__name__,
            "classes": estimator.classes_.tolist(), "preprocessing": chain, "pixel_max": pixel_max,
            "image_shape": [_input_channels(chain, channels), height, width]}


def export_onnx(model, path: str | os.PathLike | None = None, *, class_names: list[str] | None = None):
    """The ONNX model (``onnx.ModelProto``, checked by ``onnx.checker``) of a fitted estimator or preset pipeline;
    written to ``path`` too when given (atomically: an existing file is only replaced by a complete one).

    A model whose memories take more than ``PROTOBUF_LIMIT`` bytes (one protobuf message's 2 GiB, less a margin)
    needs ``path``: its tensors go to ``data_file(path)`` (``<path>.data``) in ONNX's external-data form, the graph
    to ``path``, and the returned proto refers to that file; keep the two together (ONNX Runtime opens ``path`` and
    finds the data beside it). ``class_names`` (one per class, optional) go into the metadata beside the classes.
    Raises ValueError for a pipeline with other steps, or a model over the limit without ``path``, NotFittedError
    for an unfitted model, NotImplementedError for an estimator (or a setting, such as ``distance="l1"``) without
    an ONNX form.
    """
    preprocessor, estimator = _parts(model)
    meta = onnx_metadata(model)
    external = _over_the_limit(estimator)
    if external and path is None:
        raise ValueError(f"the model's memories take more than one ONNX file can hold (about "
                         f"{PROTOBUF_LIMIT / 2 ** 30:.2f} GiB: a protobuf message is limited to 2 GiB); give a path: "
                         "the tensors then go to a data file beside it (ONNX's external data)")
    if class_names is not None:
        if len(class_names) != len(estimator.classes_):
            raise ValueError(f"{len(class_names)} class names for {len(estimator.classes_)} classes")
        meta["class_names"] = [str(name) for name in class_names]
    g = GraphBuilder()
    onnx = g.onnx
    images = "images"
    _, height, width = estimator.image_shape_
    x = g.chain(images, meta["preprocessing"], meta["pixel_max"], height, width) if preprocessor else images
    scores, index = estimator._onnx_scores(g, x)
    classes = estimator.classes_
    label_type = _ELEMENT_TYPES[classes.dtype.kind]
    table = classes.astype(np.int64 if label_type == 7 else np.float64 if label_type == 11 else classes.dtype)
    g.nodes.append(onnx.helper.make_node("Gather", [g.const(table, "classes"), index], ["label"]))
    g.nodes.append(onnx.helper.make_node("Cast", [scores], ["scores"], to=onnx.TensorProto.DOUBLE))
    graph = onnx.helper.make_graph(
        g.nodes, f"memorynet_{meta['estimator']}",
        [onnx.helper.make_tensor_value_info(images, onnx.TensorProto.FLOAT, ["N", *meta["image_shape"]])],
        [onnx.helper.make_tensor_value_info("label", label_type, ["N"]),
         onnx.helper.make_tensor_value_info("scores", onnx.TensorProto.DOUBLE, ["N", len(classes)])],
        g.initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="memorynet", producer_version=str(meta["memorynet_version"]),
                                   doc_string="raw images (N, C, H, W) float32 -> label (N,), scores (N, classes)")
    onnx.helper.set_model_props(proto, {key: json.dumps(value) for key, value in meta.items()})
    if not external:
        onnx.checker.check_model(proto, full_check=True)
        if path is not None:
            atomic_write(Path(path), lambda fh: fh.write(proto.SerializeToString()))
        return proto
    blobs = _move_tensors_out(proto, data_file(path).name)
    # the checker reads the data file beside the graph: check the written pair before either replaces anything
    graph_file = (Path(path), lambda fh: fh.write(proto.SerializeToString()))
    atomic_write_all([(data_file(path), _write_blobs(blobs)), graph_file],
                     check=lambda staged: onnx.checker.check_model(str(staged[-1]), full_check=True))
    return proto
