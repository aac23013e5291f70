"""The UDF's rows -> features stream (``featurize_rows``) without Spark or a network: output
batches the input's lengths, in order, a bad image or a failed read an error row."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bigfruits.locations import BUNDLED_SAMPLE as SAMPLE
from bigfruits.pipeline.featurize.udf import featurize_rows

pytestmark = pytest.mark.pure


class CountingEngine:
    name = "fake"

    def __init__(self):
        self.batches = []

    def predict(self, batch):
        self.batches.append(len(batch))
        return np.ones((len(batch), 4), dtype=np.float32) * batch.mean()

    def release_memory(self):
        pass


def test_rows_to_features_keep_each_batch_length_and_order(tmp_path):
    jpgs = sorted(SAMPLE.rglob("*.jpg"))[:7]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    row = lambda p: ("file:" + str(p), p.stat().st_size, "")  # noqa: E731
    batches = [[row(jpgs[0]), row(bad), row(jpgs[1])], [], [row(jpgs[i]) for i in range(2, 7)],
               [("file:" + str(tmp_path / "gone.jpg"), 4, "")]]
    frames = [tuple(pd.Series(column) for column in zip(*batch)) if batch else
              (pd.Series([], dtype=object),) * 3 for batch in batches]
    engine = CountingEngine()
    out = list(featurize_rows(iter(frames), engine, batch_size=3))
    assert [len(frame) for frame in out] == [3, 0, 5, 1]
    errors = [e for frame in out for e in frame["error"]]
    assert errors[1].startswith("cannot decode image")
    assert errors[-1].startswith("cannot read: FileNotFoundError")
    assert sum(pd.isna(e) for e in errors) == 7  # None, or NaN in a string column
    assert max(engine.batches) <= 3
