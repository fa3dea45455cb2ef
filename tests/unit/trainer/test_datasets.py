"""Reading and checking datasets: every refusal names what is wrong."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from services.trainer.training.datasets import canonical_digest, check, load_builtin, load_file
from services.trainer.training.errors import DataError
from shared.events.common import ArtifactRef
from shared.events.training import DatasetSpec


def spec_for(path: Path, text: str, **extra: object) -> DatasetSpec:
    path.write_text(text)
    data = path.read_bytes()
    ref = ArtifactRef(uri=path.as_uri(), sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    return DatasetSpec(artifact=ref, format="csv", **extra)


def load(path: Path, text: str, task: str = "classification", **extra: object):  # type: ignore[no-untyped-def]
    spec = spec_for(path, text, **extra)
    assert spec.artifact is not None
    return load_file(path, spec, target="y", task=task, digest=spec.artifact.sha256)  # type: ignore[arg-type]


def test_csv_with_text_labels_and_missing_values(tmp_path: Path) -> None:
    data = load(tmp_path / "d.csv", "a,b,y\n1,2.5,yes\n,3,no\nNA,4,yes\n")
    assert data.feature_names == ["a", "b"]
    assert np.isnan(data.X[1, 0]) and np.isnan(data.X[2, 0])
    assert data.y.tolist() == ["yes", "no", "yes"]


def test_integer_labels_become_int64_and_schema_selects_columns(tmp_path: Path) -> None:
    data = load(
        tmp_path / "d.csv",
        "a,b,ignored,y\n1,true,x,1.0\n2,false,z,0\n",
        schema={"b": "bool", "a": "int", "y": "int"},
    )
    assert data.feature_names == ["b", "a"]
    assert data.X.tolist() == [[1.0, 1.0], [0.0, 2.0]]
    assert data.y.dtype == np.int64


def test_text_columns_are_categorical_with_missing_values_a_category(tmp_path: Path) -> None:
    data = load(tmp_path / "d.csv", "c,n,y\nDE,1,1\n,2,0\nFR ,NA,1\n")
    assert data.categorical == {"c"}
    assert data.X["c"].tolist() == ["DE", "", "FR"]
    assert np.isnan(data.X["n"][2])
    declared = load(tmp_path / "e.csv", "c,n,y\n1,1,1\n2,2,0\n", schema={"c": "str", "n": "int"})
    assert declared.categorical == {"c"} and declared.X["c"].tolist() == ["1", "2"]


@pytest.mark.parametrize(
    ("text", "schema", "message"),
    [
        ("a,b\n1,2\n", None, "target column 'y' is not in the dataset"),
        ("a,y\nhello,1\n", {"a": "float"}, "data row 1, column 'a': the value is not a number"),
        ("a,y\n1.5,1\n", {"a": "int"}, "declared int"),
        ("a,y\nmaybe,1\n", {"a": "bool"}, "declared bool"),
        ("a,y\n1,1\n", {"a": "float", "c": "float"}, "declared columns missing"),
        ("a,y\n1,\n", None, "data row 1: the target column 'y' has no value"),
        ("a,y\n1,2,3\n", None, "line 2 does not have as many fields as the header"),
        ("a,a,y\n1,2,3\n", None, "columns 1 and 2 the same name"),
        ("", None, "empty"),
    ],
)
def test_bad_files_are_refused_with_the_reason(
    tmp_path: Path, text: str, schema: dict[str, str] | None, message: str
) -> None:
    with pytest.raises(DataError, match=message) as refused:
        load(tmp_path / "d.csv", text, schema=schema)
    assert "hello" not in str(refused.value)  # never a cell


def test_errors_name_places_and_rules_never_what_the_file_holds(tmp_path: Path) -> None:
    """A file that is not a dataset (an environment, say) is never quoted back."""
    environ = "DATABASE_URL=postgresql://u:hunter2@db/x,KEY=s3cr3t\nPATH=/bin,HOME=/root\n"
    for target in ("y", "KEY=s3cr3t"):
        with pytest.raises(DataError) as refused:
            data = load_file(
                *_spec(tmp_path / "e.csv", environ), target=target, task="classification",
                digest="0" * 64,
            )  # fmt: skip
            check(data, "classification", cv_folds=3, holdout_fraction=0.2)  # text: categorical
        message = str(refused.value)
        assert "hunter2" not in message and "/bin" not in message and "/root" not in message
        assert "s3cr3t" not in message or target == "KEY=s3cr3t", message


def _spec(path: Path, text: str) -> tuple[Path, DatasetSpec]:
    return path, spec_for(path, text)


def test_regression_target_must_be_numeric(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data row 1, the target column 'y': the value is not"):
        load(tmp_path / "d.csv", "a,y\n1,high\n", task="regression")


def test_parquet_files_are_read(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": [1.0, None, 3.0], "y": ["u", "v", "u"]}), path)
    data = load_file(
        path,
        DatasetSpec(
            artifact=ArtifactRef(uri=path.as_uri(), sha256="0" * 64, size=1), format="parquet"
        ),
        target="y",
        task="classification",
        digest="0" * 64,
    )
    assert np.isnan(data.X[1, 0]) and data.y.tolist() == ["u", "v", "u"]


def test_checks_refuse_single_class_tiny_and_constant_data(tmp_path: Path) -> None:
    rows = "".join(f"{i},1\n" for i in range(40))
    with pytest.raises(DataError, match="single class"):
        check(
            load(tmp_path / "a.csv", "a,y\n" + rows),
            "classification",
            cv_folds=3,
            holdout_fraction=0.2,
        )
    with pytest.raises(DataError, match="too few"):
        check(
            load(tmp_path / "b.csv", "a,y\n1,0\n2,1\n3,0\n"),
            "classification",
            cv_folds=3,
            holdout_fraction=0.2,
        )
    with pytest.raises(DataError, match="constant"):
        check(
            load(tmp_path / "c.csv", "a,y\n" + rows, task="regression"),
            "regression",
            cv_folds=3,
            holdout_fraction=0.2,
        )
    rare = "a,y\n" + rows + "99,0\n"
    with pytest.raises(DataError, match="too few rows"):
        check(load(tmp_path / "d.csv", rare), "classification", cv_folds=3, holdout_fraction=0.2)


def test_builtin_digest_is_canonical_and_sensitive_to_the_data() -> None:
    data = load_builtin("breast_cancer", "classification")
    assert data.digest == canonical_digest(
        data.X.copy(order="F"), data.y.astype(np.int32), data.feature_names, "target"
    )
    changed = data.X.copy()
    changed[0, 0] += 1e-9
    assert canonical_digest(changed, data.y, data.feature_names, "target") != data.digest
    with pytest.raises(DataError, match="for regression"):
        load_builtin("diabetes", "classification")
