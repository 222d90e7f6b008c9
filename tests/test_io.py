import json
import os
import stat

import matplotlib
import numpy as np
import pytest

from phasetrans import _io

matplotlib.use("Agg")


def _leftovers(directory, keep):
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


def test_write_text_and_json_replace_atomically(tmp_path):
    path = tmp_path / "out.txt"
    _io.write_text(path, "first")
    _io.write_text(str(path), "second é")
    assert path.read_text(encoding="utf-8") == "second é"
    mode = stat.S_IMODE(path.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask   # not mkstemp's private 0o600
    summary = tmp_path / "summary.json"
    _io.write_json(summary, {"a": [1, 2.5], "b": None})
    text = summary.read_text()
    assert text.endswith("}\n") and '\n  "a": [\n' in text
    assert _io.read_json(summary) == {"a": [1, 2.5], "b": None}
    assert _leftovers(tmp_path, {"out.txt", "summary.json"}) == []


def test_failing_writes_leave_the_old_file_intact(tmp_path):
    path = tmp_path / "fig.png"
    path.write_bytes(b"old figure")

    class Broken:
        def savefig(self, f, **kwargs):
            f.write(b"partial")
            raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError, match="renderer crashed"):
        _io.save_figure(Broken(), path, dpi=72)
    assert path.read_bytes() == b"old figure"
    assert _leftovers(tmp_path, {"fig.png"}) == []   # the temporary file was removed
    summary = tmp_path / "s.json"
    _io.write_json(summary, {"ok": 1})
    with pytest.raises(TypeError):
        _io.write_json(summary, {"bad": object()})
    assert _io.read_json(summary) == {"ok": 1}
    with pytest.raises(ValueError, match="'o'.*dtype object"):
        _io.save_npz(tmp_path / "a.npz", o=np.array([1, None], dtype=object))
    assert _leftovers(tmp_path, {"fig.png", "s.json"}) == []


def test_save_figure_and_npz_write_exactly_the_given_path(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    _io.save_figure(fig, tmp_path / "plot.png", dpi=50)
    _io.save_figure(fig, tmp_path / "plot.pdf")
    _io.save_figure(fig, tmp_path / "noext", format="svg")
    plt.close(fig)
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "plot.pdf").read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in (tmp_path / "noext").read_bytes()
    _io.save_npz(tmp_path / "arrays", x=np.arange(3), s=np.array("text"))
    assert not (tmp_path / "arrays.npz").exists()   # numpy's path form would append .npz
    arrays = _io.read_npz(tmp_path / "arrays")
    np.testing.assert_array_equal(arrays["x"], np.arange(3))
    assert str(arrays["s"]) == "text"


def test_missing_or_unwritable_directory(tmp_path, monkeypatch):
    target = tmp_path / "no_such_dir" / "out.json"
    with pytest.raises(ValueError, match="no_such_dir.*does not exist"):
        _io.write_json(target, {})
    with pytest.raises(ValueError, match="is a directory"):
        _io.write_text(tmp_path, "x")
    real_access = os.access
    monkeypatch.setattr(_io.os, "access",
                        lambda p, mode: False if str(p) == str(tmp_path) else real_access(p, mode))
    with pytest.raises(ValueError, match=f"{tmp_path}.*is not writable"):
        _io.save_npz(tmp_path / "a.npz", x=np.zeros(2))
    monkeypatch.undo()

    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_io.tempfile, "mkstemp", refuse)
    with pytest.raises(ValueError, match="is not writable"):
        _io.write_text(tmp_path / "b.txt", "x")
    assert list(tmp_path.iterdir()) == []


def test_read_json_truncated_or_not_json(tmp_path):
    path = tmp_path / "summary.json"
    full = json.dumps({"a": [1, 2, 3]}, indent=2)
    path.write_text(full[: len(full) // 2])
    with pytest.raises(ValueError, match="summary.json' is truncated or not JSON"):
        _io.read_json(path)
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="summary.json' is not JSON"):
        _io.read_json(path)
    with pytest.raises(ValueError, match="does not exist"):
        _io.read_json(tmp_path / "missing.json")


def test_read_npz_failures_name_the_file(tmp_path):
    np.savez(tmp_path / "ok.npz", x=np.ones(4), o=np.array([None], dtype=object))
    raw = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "junk.npz").write_text("not an archive")
    (tmp_path / "empty.npz").write_bytes(b"")
    for name in ("cut.npz", "junk.npz", "empty.npz"):
        with pytest.raises(ValueError, match=f"{name}' is not a readable .npz") as err:
            _io.read_npz(tmp_path / name)
        assert "pickle" not in str(err.value)
    with pytest.raises(ValueError, match="array 'o' of .npz file .*ok.npz' is an object array"):
        _io.read_npz(tmp_path / "ok.npz")
    np.save(tmp_path / "single.npy", np.ones(3))
    with pytest.raises(ValueError, match="single .npy array"):
        _io.read_npz(tmp_path / "single.npy")
    with pytest.raises(ValueError, match="is a directory"):
        _io.read_npz(tmp_path)
