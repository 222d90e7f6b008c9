"""Progress output: a bar on a terminal, one plain line per loop in logs, nothing when off."""

import sys

from tqdm.auto import tqdm

from phasetrans._progress import counter, track


def test_logs_get_one_plain_line_per_loop(capsys):
    assert list(track(range(4), desc="samples")) == [0, 1, 2, 3]
    bar = counter(desc="search", total=3)
    bar.update(1)
    bar.update(2)
    bar.close()
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("samples: 4 done in ") and lines[1].startswith("search: 3 done")


def test_disabled_is_silent_and_a_terminal_gets_a_bar(capsys, monkeypatch):
    assert list(track(range(2), desc="off", enabled=False)) == [0, 1]
    quiet = counter(desc="off", enabled=False)
    quiet.update(5)
    quiet.close()
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bar = track(range(2), desc="tty")
    assert isinstance(bar, tqdm) and list(bar) == [0, 1]
    assert isinstance(counter(desc="tty", total=1), tqdm)
