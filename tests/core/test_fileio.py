"""foresight.fileio: the one atomic-write path every results, cache and checkpoint file goes through."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from foresight import fileio


def hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(fileio.TMP_PREFIX))


def test_write_json_round_trips_sorted_with_a_final_newline(tmp_path):
    path = fileio.write_json(tmp_path / "sub" / "r.json", {"b": 1, "a": [1.5, None]})
    assert path.read_text() == '{\n  "a": [\n    1.5,\n    null\n  ],\n  "b": 1\n}\n'
    assert json.loads(path.read_text()) == {"a": [1.5, None], "b": 1}
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # shared results, not mkstemp's 0600
    with pytest.raises(ValueError, match="Out of range float"):
        fileio.write_json(tmp_path / "nan.json", {"x": float("nan")})
    assert not (tmp_path / "nan.json").exists() and hidden(tmp_path) == []


def test_a_writer_failing_midway_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "a.npy"
    fileio.atomic_write(target, lambda tmp: np.save(tmp, np.arange(3)))

    def half_then_crash(tmp):
        tmp.write_bytes(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        fileio.atomic_write(target, half_then_crash)
    assert np.load(target).tolist() == [0, 1, 2]
    assert hidden(tmp_path) == []


def test_file_and_directory_are_fsynced_before_and_after_the_rename(tmp_path, monkeypatch):
    synced: list[str] = []
    real = os.fsync

    def record(fd):
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    events: list[str] = []
    real_replace = os.replace
    monkeypatch.setattr(fileio.os, "fsync", lambda fd: (record(fd), events.append(synced[-1])))
    monkeypatch.setattr(fileio.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b)))
    fileio.atomic_write_text(tmp_path / "x.txt", "new")
    assert events == ["file", "replace", "dir"]


def test_temp_names_are_unique_and_beside_the_target(tmp_path):
    target = tmp_path / "demo.hdf5"
    first, second = fileio.temp_path(target), fileio.temp_path(target)
    assert first != second and first.parent == second.parent == tmp_path
    assert first.name.startswith(fileio.TMP_PREFIX) and first.suffix == ".hdf5"
    first.write_text("streamed")
    fileio.publish(first, target)
    assert target.read_text() == "streamed" and not first.exists()


def test_a_killed_writer_leaves_only_a_hidden_temp_file(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    child = textwrap.dedent(
        f"""
        import os
        from foresight import fileio
        fileio.os.replace = lambda *a: os._exit(3)  # die right before the rename: no cleanup runs
        fileio.write_json({str(target)!r}, {{"new": 1}})
        """
    )
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=60)
    assert proc.returncode == 3, proc.stderr.decode()
    assert target.read_text() == "old"
    (temp,) = hidden(tmp_path)
    assert json.loads((tmp_path / temp).read_text()) == {"new": 1}


def test_atomic_dir_replaces_a_directory_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "step_10"
    with fileio.atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("1")
    assert (target / "a.txt").read_text() == "1"

    with pytest.raises(RuntimeError), fileio.atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("2")
        raise RuntimeError("killed mid-save")
    assert (target / "a.txt").read_text() == "1"
    assert hidden(tmp_path) == []

    with fileio.atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]  # replaced whole, not merged
    assert hidden(tmp_path) == []
