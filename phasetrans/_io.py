"""Safe file I/O: atomic, non-destructive writes; checked JSON and ``.npz`` reads.

Every writer serialises into a temporary file in the destination's own directory, flushes it to
disk and then ``os.replace``s it onto ``path`` (atomic within one file system): a reader sees
either the old file or the complete new one, never a partial write. If writing fails, the
temporary file is removed and an existing file at ``path`` is left untouched. The file gets the
usual permissions (0o666 minus the umask), not ``mkstemp``'s private 0o600.

A missing or non-writable parent directory raises ``ValueError`` naming the path, before anything
is written. The readers turn missing, truncated or malformed files into ``ValueError`` naming the
path, never a bare ``JSONDecodeError`` / ``BadZipFile``; ``.npz`` files are never unpickled.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import tempfile
import zipfile

import numpy as np


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # read once at import: os.umask is process-wide, not thread-safe


def _destination(path) -> pathlib.Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    path = pathlib.Path(path)
    parent = path.parent
    if not parent.is_dir():
        raise ValueError(f"cannot write {str(path)!r}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {str(path)!r}: directory {str(parent)!r} is not writable")
    if path.is_dir():
        raise ValueError(f"cannot write {str(path)!r}: it is a directory; give a file name")
    return path


def _atomic_write(path, write) -> None:
    """Call ``write(binary_file)`` on a temporary file next to ``path``, then move it there."""
    path = _destination(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise ValueError(f"cannot write {str(path)!r}: directory {str(path.parent)!r} is not "
                         f"writable ({err.strerror})") from err
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path, text: str) -> None:
    """Atomically write the string ``text`` to ``path`` as UTF-8 (no newline is added)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    data = text.encode("utf-8")
    _atomic_write(path, lambda f: f.write(data))


def plain(value):
    """``value`` with NumPy/JAX scalars and arrays turned into Python lists and numbers, tuples
    into lists, and non-finite floats into None (strict JSON has no NaN/Inf)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):
        return plain(np.asarray(value).tolist())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def dumps(obj, **kwargs) -> str:
    """Strict JSON text of :func:`plain` ``(obj)``."""
    return json.dumps(plain(obj), allow_nan=False, **kwargs)


def write_json(path, obj) -> None:
    """Atomically write ``obj`` as strict JSON (:func:`dumps`, ``indent=2``, ending with a
    newline) to ``path``.

    ``obj`` is serialised before the file is touched, so a value JSON cannot encode raises
    ``TypeError`` and leaves any existing file as it was.
    """
    write_text(path, dumps(obj, indent=2) + "\n")


def save_figure(fig, path, **savefig_kwargs) -> None:
    """Atomically save a matplotlib figure: ``fig.savefig(file, format=..., **savefig_kwargs)``.

    The format is ``savefig_kwargs["format"]`` if given, else ``path``'s suffix (``.png``,
    ``.pdf``, ``.svg``, ...), else matplotlib's ``savefig.format`` default; the figure is written
    to exactly ``path`` (matplotlib would otherwise append a suffix to a suffix-less name).
    """
    path = pathlib.Path(path) if isinstance(path, str | os.PathLike) else path
    fmt = savefig_kwargs.pop("format", None)
    if fmt is None:
        if isinstance(path, pathlib.Path) and path.suffix:
            fmt = path.suffix[1:].lower()
        else:
            import matplotlib

            fmt = matplotlib.rcParams["savefig.format"]
    _atomic_write(path, lambda f: fig.savefig(f, format=fmt, **savefig_kwargs))


def save_npz(path, /, **arrays) -> None:
    """Atomically write ``arrays`` (name -> array) to the ``.npz`` file ``path`` with ``np.savez``.

    The file is written to exactly ``path`` (no ``.npz`` is appended). Object arrays raise
    ``ValueError``: they would be pickled, and this package only loads with
    ``allow_pickle=False``.
    """
    converted = {}
    for name, value in arrays.items():
        value = np.asarray(value)
        if value.dtype.hasobject:
            raise ValueError(f"array {name!r} for {str(path)!r} has dtype object (it would be "
                             "pickled); save numeric or string arrays only")
        converted[name] = value
    _atomic_write(path, lambda f: np.savez(f, **converted))


def _existing_file(path, kind: str) -> pathlib.Path:
    """``path`` as a Path, checked to name an existing file (``kind`` describes it)."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    path = pathlib.Path(path)
    if not path.exists():
        raise ValueError(f"{kind} {str(path)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"{kind} {str(path)!r} is a directory; give the file itself")
    return path


def read_json(path):
    """Read the JSON file ``path``.

    Raises ``ValueError`` naming the path if it does not exist, is a directory, or is truncated
    or not JSON (instead of a bare ``JSONDecodeError``).
    """
    raw = _existing_file(path, "JSON file").read_bytes()
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{str(path)!r} is not JSON: it is not UTF-8 text ({err.reason} at "
                         f"byte {err.start})") from err
    except json.JSONDecodeError as err:
        raise ValueError(f"{str(path)!r} is truncated or not JSON: {err.msg} at line {err.lineno} "
                         f"column {err.colno}") from err


def read_npz(path, *, kind: str = ".npz file") -> dict:
    """Read every array of the ``.npz`` archive ``path`` into a dict, with ``allow_pickle=False``.

    Raises ``ValueError`` naming the path (``kind`` describes it, e.g. ``"data file"``) if it
    does not exist, is a directory, is not a zip archive or is truncated or corrupt, is a single
    ``.npy`` array, or holds an object array (the message names that array).
    """
    path = _existing_file(path, kind)
    unreadable = (f"{kind} {str(path)!r} is not a readable .npz archive: it is truncated, "
                  "corrupt or not a zip file (write it with numpy.savez)")
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ValueError(unreadable) from err
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{kind} {str(path)!r} holds a single .npy array, not an .npz archive "
                         "of named arrays (write it with numpy.savez)")
    arrays = {}
    with archive:
        for name in archive.files:
            try:
                arrays[name] = archive[name]
            except ValueError as err:
                if "object" in str(err).lower():
                    raise ValueError(f"array {name!r} of {kind} {str(path)!r} is an object "
                                     "array; save plain numeric arrays") from err
                raise ValueError(f"array {name!r} of {kind} {str(path)!r} is corrupt or "
                                 "truncated") from err
            except (zipfile.BadZipFile, OSError, EOFError) as err:
                raise ValueError(f"array {name!r} of {kind} {str(path)!r} is corrupt or "
                                 "truncated") from err
    return arrays
