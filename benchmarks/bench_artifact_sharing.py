"""What each way of keeping a model from drifting between calls costs, per artifact: a copy per call
(what the runtime's copier for it costs, and a deep copy), handing it out read-only (arrays only),
and the log-time check (a digest of its pickle, before and after the parity predict). Also what the
runtime chooses for it at load (``runtime/sharing.py``) and what choosing costs.
Run: ``python benchmarks/bench_artifact_sharing.py``.
"""

from __future__ import annotations

import copy
import os
import pickle
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kedro_mlflow_magic.runtime.sharing import copier_for, hand_out_read_only
from kedro_mlflow_magic.verify.drift import fingerprint


def best(call: Callable[[], Any], budget: float = 0.2) -> float:
    """The best per-call time of ``call``, in seconds, within about ``budget`` seconds."""
    started = time.perf_counter()
    call()
    once = max(time.perf_counter() - started, 1e-7)
    number = max(1, min(2000, int(budget / 5 / once)))
    return min(timeit.repeat(call, number=number, repeat=5)) / number


def fitted_models() -> dict[str, Any]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"a": rng.random(500), "b": rng.random(500), "plan": rng.choice(["x", "y", "z"], 500)}
    )
    labels = rng.integers(0, 2, 500)
    encoder = ColumnTransformer(
        [("n", StandardScaler(), ["a", "b"]), ("c", OneHotEncoder(), ["plan"])]
    ).fit(frame)
    features = encoder.transform(frame)
    return {
        "LogisticRegression (demo)": LogisticRegression().fit(features, labels),
        "ColumnTransformer (demo)": encoder,
        "RandomForest 100 trees": RandomForestClassifier(100, random_state=0).fit(features, labels),
    }


def artifacts() -> dict[str, Any]:
    values: dict[str, Any] = {
        "vocabulary, 8 words": {f"w{index}": index for index in range(8)},
        "vocabulary, 1000 words": {f"w{index}": index for index in range(1000)},
        "vocabulary, 5000 words": {f"w{index}": index for index in range(5000)},
        "nested settings (2x4)": {"cities": {f"c{i}": i for i in range(4)}, "offset": 0.5},
        "array, 1000 floats": np.ones(1000),
        "array, 1M floats": np.ones(1_000_000),
        "frame, 100 x 3": pd.DataFrame({"a": range(100), "b": 0.5, "c": "x"}),
    }
    values.update(fitted_models())
    return values


def main() -> int:
    print("bench_artifact_sharing: per-call cost of each way to keep calls from drifting")
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}; "
          f"load average {os.getloadavg()[0]:.2f} (shared machine: noisy)")  # fmt: skip
    header = (
        f"{'artifact':<28}{'file':>10}{'runtime copier':>16}{'deep copy':>12}"
        f"{'read-only':>11}{'log check':>11}{'choice at load':>26}{'choosing':>10}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as folder:
        for name, value in artifacts().items():
            location = Path(folder) / "value.pkl"
            location.write_bytes(pickle.dumps(value))
            size = location.stat().st_size
            started = time.perf_counter()
            copier = copier_for(value, str(location))
            choosing = time.perf_counter() - started
            runtime_copy = best(lambda c=copier, v=value: c(v)) if copier else None
            deep = best(lambda v=value: copy.deepcopy(v))
            digest = best(lambda v=value: fingerprint(v), budget=0.5)
            if copier is not None:
                choice = "copied per call"
            elif isinstance(value, np.ndarray):
                choice = "read-only"
            else:
                choice = "shared (log-time check)"
            read_only = "0 (flag)" if isinstance(value, np.ndarray) else "n/a"
            if isinstance(value, np.ndarray):
                hand_out_read_only(value.copy())
            print(
                f"{name:<28}{size / 1e3:>8.1f}kB"
                f"{(f'{runtime_copy * 1e6:.1f} µs' if runtime_copy else '-'):>16}"
                f"{deep * 1e6:>9.1f} µs{read_only:>11}{digest * 2e6:>8.0f} µs"
                f"{choice:>26}{choosing * 1e3:>7.1f} ms"
            )
    print(
        "runtime copier: what each reading node's copy costs per call when the runtime copies"
        " it; log check: two pickle digests at log time, nothing per call (it sees the sample"
        " only); read-only: no per-call cost, a change raises."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
