"""phasetrans._compile_cache: where the console script keeps compiled programs, when it leaves
JAX alone, and that a run from the cache gives the same numbers."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from phasetrans import _compile_cache

HOME = {"HOME": "/home/u"}


@pytest.mark.parametrize("environ, expected", [
    (HOME, "/home/u/.cache/phasetrans/jax"),
    ({**HOME, "XDG_CACHE_HOME": "/xdg"}, "/xdg/phasetrans/jax"),
    ({**HOME, "XDG_CACHE_HOME": "/xdg", "PHASETRANS_CACHE_DIR": "/mine"}, "/mine"),
    ({**HOME, "XDG_CACHE_HOME": ""}, "/home/u/.cache/phasetrans/jax"),
    ({**HOME, "PHASETRANS_COMPILE_CACHE": "0", "PHASETRANS_CACHE_DIR": "/mine"}, None),
    ({**HOME, "PHASETRANS_COMPILE_CACHE": "1"}, "/home/u/.cache/phasetrans/jax"),
    ({**HOME, "JAX_COMPILATION_CACHE_DIR": "/theirs", "PHASETRANS_CACHE_DIR": "/mine"}, None),
])
def test_directory_follows_the_environment(environ, expected):
    path = _compile_cache.directory(environ)
    assert (None if path is None else str(path)) == expected


def test_enable_leaves_jax_alone_where_the_directory_cannot_be_made(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert _compile_cache.enable({"PHASETRANS_CACHE_DIR": str(blocker / "jax")}) is None
    assert _compile_cache.enable({"PHASETRANS_COMPILE_CACHE": "0"}) is None


ARGV = ["width", "l1-descent-cone", "--dim", "60", "--sparsity", "6", "--samples", "200",
        "--json"]


def _console(cache_environ):
    env = {k: v for k, v in os.environ.items()
           if k not in ("JAX_COMPILATION_CACHE_DIR", "PHASETRANS_COMPILE_CACHE")}
    out = subprocess.run([sys.executable, "-m", "phasetrans", *ARGV], capture_output=True,
                         text=True, check=True, env={**env, **cache_environ}).stdout
    document = json.loads(out)
    document.pop("seconds")
    return document


def _entries(path: pathlib.Path) -> set:
    return {p.name for p in path.rglob("*") if p.is_file()} if path.exists() else set()


def test_console_script_fills_the_cache_and_a_cached_run_gives_the_same_numbers(tmp_path):
    cache = tmp_path / "cache"
    first = _console({"PHASETRANS_CACHE_DIR": str(cache)})
    filled = _entries(cache)
    assert filled, "the console script wrote no compiled program"
    assert _console({"PHASETRANS_CACHE_DIR": str(cache)}) == first
    assert _entries(cache) == filled  # the second run compiled nothing new

    off = tmp_path / "off"
    assert _console({"PHASETRANS_CACHE_DIR": str(off), "PHASETRANS_COMPILE_CACHE": "0"}) == first
    assert not _entries(off)
