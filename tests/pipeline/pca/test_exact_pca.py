"""ExactPCA against scikit-learn and Spark ML, its persistence, and its errors."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from tests.support.ci import require_module  # noqa: E402

pyspark = require_module("pyspark")
sklearn_decomposition = require_module("sklearn.decomposition")

from pyspark.ml import Pipeline, PipelineModel  # noqa: E402
from pyspark.ml.feature import PCA as SparkPCA  # noqa: E402
from pyspark.ml.linalg import Vectors  # noqa: E402

from bigfruits.errors import InputError  # noqa: E402
from bigfruits.pipeline.pca import ExactPCA, ExactPCAModel  # noqa: E402
from bigfruits.pipeline.pca.exact_pca import DRIVER_FAN_IN  # noqa: E402
from tests.pipeline.pca.matrices import correlated  # noqa: E402


def frame(spark, matrix: np.ndarray, partitions: int = 3, kind: str = "float"):
    rows = [(i, row.tolist()) for i, row in enumerate(matrix)]
    return spark.createDataFrame(rows, f"id int, features array<{kind}>").repartition(partitions)


def projected(model: ExactPCAModel, df) -> np.ndarray:
    return np.array([row["pca"] for row in model.transform(df).orderBy("id").collect()])


def assert_same_up_to_sign(ours: np.ndarray, theirs: np.ndarray, atol: float) -> None:
    """Rows of ``ours`` equal rows of ``theirs`` up to one sign per row."""
    signs = np.sign(np.sum(ours * theirs, axis=1))[:, None]
    np.testing.assert_allclose(ours, theirs * signs, atol=atol)


def test_matches_scikit_learn(spark):
    data = correlated(400, 12).astype(np.float32)
    exact = data.astype(np.float64)
    model = ExactPCA(k=5).fit(frame(spark, data, partitions=4))
    reference = sklearn_decomposition.PCA(5, svd_solver="full").fit(exact)

    assert model.k == 5 and model.n_samples_ == 400
    np.testing.assert_allclose(
        model.explained_variance_ratio_, reference.explained_variance_ratio_, atol=1e-6
    )
    np.testing.assert_allclose(model.explained_variance_, reference.explained_variance_, rtol=1e-6)
    np.testing.assert_allclose(model.mean_, reference.mean_, atol=1e-9)
    assert_same_up_to_sign(model.components_, reference.components_, atol=1e-6)
    assert_same_up_to_sign(
        projected(model, frame(spark, data)).T, reference.transform(exact).T, atol=1e-4
    )


def test_fit_restores_the_sessions_arrow_batch_size(spark):
    """Protects the caller's session: the fit streams Arrow batches of one Gram block, then
    gives the caller's setting back, whatever it was (set by the caller, or the session's own,
    read before: the session is shared with other tests, so no value is assumed)."""
    key = "spark.sql.execution.arrow.maxRecordsPerBatch"
    data = frame(spark, correlated(50, 4), partitions=2)
    before = spark.conf.get(key)
    try:
        spark.conf.set(key, "777")
        ExactPCA(k=2).fit(data)
        assert spark.conf.get(key) == "777"
    finally:
        spark.conf.set(key, before)
    ExactPCA(k=2).fit(data)
    assert spark.conf.get(key) == before


def test_sign_convention_is_largest_entry_positive(spark):
    model = ExactPCA(k=4).fit(frame(spark, correlated(100, 6, seed=3)))
    biggest = model.components_[np.arange(4), np.argmax(np.abs(model.components_), axis=1)]
    assert (biggest > 0).all()


def test_matches_spark_ml_pca_on_centred_data(spark):
    data = correlated(300, 8, seed=1)
    data -= data.mean(axis=0)
    vectors = spark.createDataFrame([(Vectors.dense(row),) for row in data], ["features"])
    theirs = SparkPCA(k=3, inputCol="features", outputCol="pca").fit(vectors)
    ours = ExactPCA(k=3).fit(frame(spark, data, kind="double"))
    assert_same_up_to_sign(ours.components_, theirs.pc.toArray().T, atol=1e-8)
    np.testing.assert_allclose(
        ours.explained_variance_ratio_, theirs.explainedVariance.toArray(), atol=1e-8
    )


def test_accepts_ml_vectors(spark):
    data = correlated(80, 5, seed=2)
    vectors = spark.createDataFrame(
        [(i, Vectors.dense(row)) for i, row in enumerate(data)], ["id", "features"]
    )
    model = ExactPCA(k=2).fit(vectors)
    reference = sklearn_decomposition.PCA(2, svd_solver="full").fit(data)
    assert_same_up_to_sign(model.components_, reference.components_, atol=1e-8)
    assert_same_up_to_sign(projected(model, vectors).T, reference.transform(data).T, atol=1e-4)


def test_variance_threshold_keeps_smallest_k_reaching_it(spark):
    data = correlated(200, 10, seed=4)
    full = sklearn_decomposition.PCA(svd_solver="full").fit(data).explained_variance_ratio_
    cumulative = np.cumsum(full)
    threshold = float((cumulative[3] + cumulative[4]) / 2)  # reached at k = 5, not before
    model = ExactPCA(varianceThreshold=threshold).fit(frame(spark, data, kind="double"))
    assert model.k == 5
    assert model.explained_variance_ratio_.sum() >= threshold
    assert model.explained_variance_ratio_[:4].sum() < threshold


def test_stable_with_large_offset_across_many_partitions(spark):
    # Variance ~1 on top of 1e8: a raw sum-of-squares merge loses every digit here.
    data = correlated(600, 6, seed=5, offset=1e8)
    reference = sklearn_decomposition.PCA(6, svd_solver="full").fit(data)
    model = ExactPCA(k=6).fit(frame(spark, data, partitions=7, kind="double"))
    np.testing.assert_allclose(
        model.explained_variance_ratio_, reference.explained_variance_ratio_, atol=1e-6
    )
    np.testing.assert_allclose(model.explained_variance_, reference.explained_variance_, rtol=1e-6)
    assert_same_up_to_sign(model.components_, reference.components_, atol=1e-6)


def test_many_partitions_are_merged_by_the_workers_before_the_driver(spark):
    """More partitions than the driver takes directly: groups of partials are merged in
    mapInArrow first, with the same result, and a problem found there still reaches the user."""
    partitions = DRIVER_FAN_IN * 2 + 3
    data = correlated(600, 6, seed=8, offset=1e6)
    reference = sklearn_decomposition.PCA(6, svd_solver="full").fit(data)
    df = frame(spark, data, partitions=partitions, kind="double")
    assert df.rdd.getNumPartitions() == partitions
    model = ExactPCA(k=6).fit(df)
    assert model.n_samples_ == 600
    np.testing.assert_allclose(model.explained_variance_, reference.explained_variance_, rtol=1e-6)
    np.testing.assert_allclose(model.mean_, reference.mean_, rtol=1e-12)
    assert_same_up_to_sign(model.components_, reference.components_, atol=1e-6)

    # each partition of one width: the mismatch shows only when partials are merged
    rows = [(i % 2, [1.0, float(i)] + [2.0] * (i % 2)) for i in range(200)]
    mixed = spark.createDataFrame(rows, "w int, features array<double>").repartition(partitions, "w")
    with pytest.raises(InputError, match="different lengths"):
        ExactPCA(k=1).fit(mixed)


def test_rows_with_null_features_are_skipped_and_stay_null(spark):
    data = correlated(50, 4, seed=7).astype(np.float32)
    rows = [(i, row.tolist()) for i, row in enumerate(data)] + [(50, None)]
    df = spark.createDataFrame(rows, "id int, features array<float>")
    model = ExactPCA(k=2).fit(df)
    assert model.n_samples_ == 50
    out = {row["id"]: row["pca"] for row in model.transform(df).collect()}
    assert out[50] is None and len(out[0]) == 2


def test_pipeline_fit_transform_save_load(spark, tmp_path):
    data = correlated(120, 6, seed=8).astype(np.float32)
    df = frame(spark, data)
    pipeline = Pipeline(stages=[ExactPCA(inputCol="features", outputCol="reduced", k=3)])
    pipeline.write().overwrite().save(str(tmp_path / "pipeline"))
    reloaded_pipeline = Pipeline.load(str(tmp_path / "pipeline"))
    assert reloaded_pipeline.getStages()[0].getK() == 3

    fitted = reloaded_pipeline.fit(df)
    fitted.save(str(tmp_path / "model"))
    reloaded = PipelineModel.load(str(tmp_path / "model"))
    stage = reloaded.stages[0]
    assert isinstance(stage, ExactPCAModel)
    assert stage.uid == fitted.stages[0].uid and stage.getOutputCol() == "reduced"
    np.testing.assert_array_equal(stage.components_, fitted.stages[0].components_)
    np.testing.assert_array_equal(stage.mean_, fitted.stages[0].mean_)
    assert stage.n_samples_ == 120 and stage.k == 3

    before = [r["reduced"] for r in fitted.transform(df).orderBy("id").collect()]
    after = [r["reduced"] for r in reloaded.transform(df).orderBy("id").collect()]
    assert before == after and len(before[0]) == 3


def test_model_save_load_alone(spark, tmp_path):
    model = ExactPCA(varianceThreshold=0.9).fit(frame(spark, correlated(60, 5, seed=9)))
    model.write().overwrite().save(str(tmp_path / "pca"))
    loaded = ExactPCAModel.load(str(tmp_path / "pca"))
    np.testing.assert_array_equal(loaded.explained_variance_ratio_, model.explained_variance_ratio_)
    assert loaded.k == model.k


@pytest.mark.parametrize(
    "params, message",
    [
        ({"k": 0}, "at least 1"),
        ({"k": 7}, "larger than min"),
        ({}, "exactly one of"),
        ({"k": 2, "varianceThreshold": 0.9}, "exactly one of"),
        ({"varianceThreshold": 1.5}, "(0, 1]"),
    ],
)
def test_bad_parameters(spark, params, message):
    df = frame(spark, correlated(30, 6, seed=10))
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("]", r"\]")):
        ExactPCA(**params).fit(df)


def test_k_larger_than_rows(spark):
    with pytest.raises(InputError, match=r"rows=4"):
        ExactPCA(k=5).fit(frame(spark, correlated(4, 6, seed=11)))


def test_no_rows(spark):
    empty = spark.createDataFrame([], "features array<float>")
    with pytest.raises(InputError, match="at least 2 rows, got 0"):
        ExactPCA(k=1).fit(empty)


def test_wrong_column_type_and_missing_column(spark):
    df = spark.createDataFrame([("a",), ("b",)], ["features"])
    with pytest.raises(InputError, match="type string"):
        ExactPCA(k=1).fit(df)
    with pytest.raises(InputError, match="not found"):
        ExactPCA(k=1, inputCol="nope").fit(df)


def test_identical_rows_have_no_variance(spark):
    df = spark.createDataFrame([([1.0, 2.0],)] * 3, ["features"])
    with pytest.raises(InputError, match="no variance"):
        ExactPCA(k=1).fit(df)


def test_arrays_of_different_lengths(spark):
    df = spark.createDataFrame([([1.0, 2.0],), ([1.0, 2.0, 3.0],), ([0.0, 1.0],)], ["features"])
    with pytest.raises(InputError, match="different lengths"):
        ExactPCA(k=1).fit(df.repartition(1))


def _saved_class(folder) -> str:
    """The class path a saved stage's metadata records (what Pipeline loading imports)."""
    (part,) = [p for p in (folder / "metadata").iterdir() if p.name.startswith("part-")]
    return json.loads(part.read_text())["class"]


def test_saved_metadata_names_the_public_path_so_older_saves_still_load(spark, tmp_path):
    """Every model saved so far records ``bigfruits.pipeline.pca.ExactPCA[Model]``: saves keep
    recording it, and a Pipeline loads it through that path."""
    df = frame(spark, correlated(40, 4, seed=10).astype(np.float32))
    fitted = Pipeline(stages=[ExactPCA(k=2)]).fit(df)
    fitted.save(str(tmp_path / "model"))
    ExactPCA(k=2).save(str(tmp_path / "estimator"))
    (stage,) = (tmp_path / "model" / "stages").iterdir()
    assert _saved_class(stage) == "bigfruits.pipeline.pca.ExactPCAModel"
    assert _saved_class(tmp_path / "estimator") == "bigfruits.pipeline.pca.ExactPCA"
    assert isinstance(PipelineModel.load(str(tmp_path / "model")).stages[0], ExactPCAModel)
    assert ExactPCA.load(str(tmp_path / "estimator")).getK() == 2


def test_transform_projects_every_input_type_alike_and_keeps_the_columns(spark):
    """array<float> and array<double> are read in place, ml Vectors and integer arrays through
    a cast copy: the same projection, and the input's columns come back as they were."""
    data = np.rint(correlated(60, 5, seed=11) * 10)
    model = ExactPCA(k=2).fit(frame(spark, data, kind="double"))
    expected = (data - model.mean_) @ model.components_.T
    inputs = {kind: spark.createDataFrame([(i, row.tolist()) for i, row in enumerate(data)],
                                          f"id int, features array<{kind}>")
              for kind in ("float", "double")}
    inputs["int"] = spark.createDataFrame([(i, [int(v) for v in row]) for i, row in enumerate(data)],
                                          "id int, features array<int>")
    inputs["vector"] = spark.createDataFrame([(i, Vectors.dense(row)) for i, row in enumerate(data)],
                                             ["id", "features"])
    for kind, df in inputs.items():
        out = model.transform(df)
        assert out.columns == ["id", "features", "pca"], kind
        assert out.schema["features"] == df.schema["features"], kind
        got = np.array([row["pca"] for row in out.orderBy("id").collect()])
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4, err_msg=kind)


def test_workers_import_the_partition_functions_without_spark_ml():
    """The fit's and the projection's Python workers import ``pca.partition_functions`` through
    the package: Spark ML (~0.17 s each time a worker starts) must stay out of it; the public
    path still gives both classes."""
    import subprocess

    script = ("import sys, bigfruits.pipeline.pca.partition_functions\n"
              "assert 'pyspark.ml' not in sys.modules, 'pyspark.ml imported'\n"
              "from bigfruits.pipeline.pca import ExactPCA, ExactPCAModel\n"
              "assert 'pyspark.ml' in sys.modules and ExactPCAModel.__name__ == 'ExactPCAModel'\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with pytest.raises(AttributeError):
        import bigfruits.pipeline.pca as package

        package.NotThere  # noqa: B018
