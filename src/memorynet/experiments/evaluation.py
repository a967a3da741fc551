"""Train-then-test runs with timings, as printed by `memorynet train`."""

from __future__ import annotations

import platform
import time

import numpy as np

from ..io.datasets import Dataset

__all__ = ["train_and_evaluate", "timed_fit_predict", "machine_info"]


def machine_info() -> dict:
    """Facts about the machine a figure was measured on."""
    import os

    return {"python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()}


def timed_fit_predict(estimator, X_train, y_train, X_test) -> tuple[np.ndarray, float, float]:
    """Fit on (X_train, y_train), predict X_test; return (predictions, train seconds, predict seconds)."""
    start = time.perf_counter()
    estimator.fit(X_train, y_train)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predictions = estimator.predict(X_test)
    return predictions, train_seconds, time.perf_counter() - start


def train_and_evaluate(model, dataset: Dataset) -> dict:
    """Fit ``model`` (a pipeline that takes raw images, e.g. a preset) on the training split in one pass and score
    it on the test split. Returns accuracy, neurons used and wall-clock seconds of training and inference."""
    predictions, train_seconds, predict_seconds = timed_fit_predict(model, dataset.X_train, dataset.y_train,
                                                                    dataset.X_test)
    estimator = model[-1] if hasattr(model, "steps") else model
    return {
        "dataset": dataset.name,
        "accuracy": float(np.mean(predictions == dataset.y_test)),
        "n_neurons": int(getattr(estimator, "n_neurons_", 0)),
        "n_train": int(len(dataset.y_train)),
        "n_test": int(len(dataset.y_test)),
        "train_seconds": train_seconds,
        "predict_seconds": predict_seconds,
    }
