import numpy as np
import pytest

from scratch import datasets


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_vacation_truth_table():
    data = datasets.vacation()
    assert data.x_train.shape == (8, 3)
    go = {tuple(x): y[0] for x, y in zip(data.x_train.astype(int), data.y_train)}
    assert go[(0, 1, 1)] == go[(1, 1, 0)] == go[(1, 1, 1)] == 1
    assert sum(go.values()) == 3


def test_digits_split_is_stratified_and_scaled():
    data = datasets.digits()
    assert data.x_train.shape == (1442, 64) and data.x_val.shape == (355, 64)
    assert 0 <= data.x_train.min() and data.x_train.max() <= 1
    assert (data.y_val.sum(axis=0) >= 34).all() and (data.y_train.sum(axis=1) == 1).all()
    again = datasets.digits()
    assert (again.x_val == data.x_val).all()


def test_csv_with_named_target_and_default_last_column(tmp_path):
    rows = "\n".join(f"{i},{i % 3},{i * 0.5}" for i in range(20))
    path = write(tmp_path, "d.csv", "a,label,b\n" + rows + "\n")
    data = datasets.load(f"csv:{path}:label")
    assert data.n_features == 2 and data.n_outputs == 3  # classes 0,1,2 one-hot
    assert len(data.x_train) + len(data.x_val) == 20
    path2 = write(tmp_path, "e.csv", "a,b,y\n" + "\n".join(f"{i},{-i},{i % 2}" for i in range(10)))
    data2 = datasets.load(f"csv:{path2}")
    assert data2.n_features == 2 and data2.n_outputs == 1  # two classes: one 0/1 column
    together = np.concatenate([data2.x_train, data2.x_val])
    assert sorted(together[:, 0]) == list(range(10))


@pytest.mark.parametrize("text,message", [
    ("a,y\n1,0\nnan,1\n", "NaN or inf"),
    ("a,y\n1,0\ninf,1\n", "NaN or inf"),
    ("a,y\n1,0\nabc,1\n", "'abc' is not a number"),
    ("a,y\n", "no data rows"),
    ("", "is empty"),
    ("a,y\n1,0.5\n", "integer class labels"),
    ("a,y\n1,-1\n", "negative labels"),
    ("a,y\n1,0,3\n", "has 3 fields"),
])
def test_bad_csv_says_what_is_wrong(tmp_path, text, message):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(ValueError, match=message):
        datasets.load(f"csv:{path}")


def test_missing_file_and_unknown_target(tmp_path):
    with pytest.raises(ValueError, match="cannot read CSV file"):
        datasets.load(f"csv:{tmp_path}/nope.csv")
    path = write(tmp_path, "d.csv", "a,y\n1,0\n")
    with pytest.raises(ValueError, match="no column 'z'"):
        datasets.load(f"csv:{path}:z")


def make_mnist(path, n=12, labels=None):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 10 if labels is None else labels
    np.savez(path, x_train=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), y_train=y,
             x_test=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), y_test=np.arange(5))


def test_mnist_npz_in_keras_layout(tmp_path):
    path = tmp_path / "mnist.npz"
    make_mnist(path)
    data = datasets.load(f"mnist:{path}")
    assert data.x_train.shape == (12, 784) and data.y_train.shape == (12, 10)
    assert data.x_val.shape == (5, 784) and data.x_train.max() <= 1.0


def test_mnist_problems(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ValueError, match="no MNIST file.*keras.datasets.mnist.load_data"):
        datasets.load("mnist")
    corrupt = write(tmp_path, "c.npz", "not a zip")
    with pytest.raises(ValueError, match="corrupt"):
        datasets.load(f"mnist:{corrupt}")
    bad = tmp_path / "b.npz"
    make_mnist(bad, labels=np.full(12, 11))
    with pytest.raises(ValueError, match="outside 0..9"):
        datasets.load(f"mnist:{bad}")


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'.*digits"):
        datasets.load("cifar")


def test_csv_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffsize,y\n1,0\n2,1\n3,0\n4,1\n".encode("utf-8"))
    data = datasets.load(f"csv:{path}:y")
    assert data.n_features == 1 and sorted(data.x_train[:, 0].tolist()) == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="its columns are size, y"):
        datasets.load(f"csv:{path}:nope")


def test_csv_errors_name_the_physical_line(tmp_path):
    path = write(tmp_path, "gaps.csv", "a,b,y\n\n1,2,0\n\n\n3,x,1\n")
    with pytest.raises(ValueError, match=r"line 6, column 'b': 'x' is not a number"):
        datasets.load(f"csv:{path}")
