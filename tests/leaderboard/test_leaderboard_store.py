"""The results store: validated, deterministic names, atomic writes, never corrupted by bad input or crashes."""

import json
import re
import subprocess
import sys
import textwrap

import pytest
from lb_factories import REPO, libero_protocol, libero_result

from foresight import fileio
from foresight.leaderboard import ResultValidationError, StoreConflictError, add_result, load_results
from foresight.leaderboard.canonical import pretty_json, sha256_hex
from foresight.leaderboard.store import result_filename


def snapshot(directory):
    """Every entry (hidden ones included) with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())} if directory.exists() else {}


@pytest.fixture
def store(tmp_path):
    first = tmp_path / "first.json"
    first.write_text(libero_result("dp", successes=(40,) * 10).to_json())
    store = tmp_path / "results"
    add_result(first, store)
    return store


def test_add_files_under_a_deterministic_name(tmp_path, store):
    res = libero_result()
    src = tmp_path / "eval.json"
    src.write_text(json.dumps(res.to_dict()))  # compact on input; the store rewrites it canonically
    stored = add_result(src, store)
    d = res.to_dict()
    identity = {
        "kind": "reproduced",
        "method": "clad",
        "config_hash": d["method"]["config_hash"],
        "checkpoint": d["checkpoint"],
        "benchmark": "libero",
        "suite": "libero_10",
        "protocol_id": d["protocol"]["protocol_id"],
    }
    assert stored.name == f"libero__libero_10__clad__reproduced__{sha256_hex(identity)[:16]}.json"
    assert stored.name == result_filename(d)
    assert stored.read_text() == pretty_json(d) == res.to_json()
    before = snapshot(store)
    assert add_result(src, store) == stored  # same evaluation again: no-op
    assert snapshot(store) == before
    assert [s.result for s in load_results(store)] == sorted(
        [libero_result("dp", successes=(40,) * 10), res], key=lambda r: result_filename(r.to_dict())
    )


def test_a_different_evaluation_with_the_same_identity_needs_replace(tmp_path, store):
    a = libero_result()
    b = libero_result(successes=(10,) * 10)  # same method/checkpoint/protocol, other outcome
    add_result(a.to_dict(), store)
    with pytest.raises(StoreConflictError, match="pass replace=true"):
        add_result(b.to_dict(), store)
    target = store / result_filename(a.to_dict())
    assert target.read_text() == a.to_json()
    add_result(b.to_dict(), store, replace=True)
    assert target.read_text() == b.to_json()
    # A different protocol is a different evaluation, filed beside it.
    c = libero_result(successes=(15,) * 10, protocol=libero_protocol(trials=20))
    assert add_result(c.to_dict(), store) != target


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON (line 1, column 2)"),
        ('{"schema_version": 1}', "required field is missing"),
        ("[]", "is not of type 'object'"),
    ],
)
def test_a_bad_file_never_reaches_the_store(tmp_path, store, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    before = snapshot(store)
    with pytest.raises(ResultValidationError, match=re.escape(message)) as err:
        add_result(bad, store)
    assert str(bad) in str(err.value)
    assert snapshot(store) == before


def test_a_tampered_result_is_refused_with_its_field(tmp_path, store):
    d = libero_result().to_dict()
    d["tasks"][4]["successes"] = 49  # rate and totals no longer agree
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(d))
    before = snapshot(store)
    with pytest.raises(ResultValidationError) as err:
        add_result(bad, store)
    assert "tasks[4].rate" in dict(err.value.issues)
    assert snapshot(store) == before


def test_failure_during_write_leaves_no_partial_file(tmp_path, store, monkeypatch):
    res = libero_result()
    before = snapshot(store)

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(fileio.os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        add_result(res.to_dict(), store)
    assert snapshot(store) == before  # no temp file, no target

    # Replacing an existing file: the old content survives a failed rewrite.
    monkeypatch.undo()
    target = add_result(res.to_dict(), store)
    monkeypatch.setattr(fileio.os, "fsync", crash)
    with pytest.raises(OSError):
        add_result(libero_result(successes=(1,) * 10).to_dict(), store, replace=True)
    assert target.read_text() == res.to_json()
    assert not [p for p in store.iterdir() if p.name.startswith(fileio.TMP_PREFIX)]


def test_a_killed_writer_leaves_only_an_ignored_temp_file(tmp_path, store):
    """A process dying between writing and renaming (no cleanup runs) cannot leave a partial result."""
    res = libero_result()
    before = snapshot(store)
    doc = tmp_path / "eval.json"
    doc.write_text(res.to_json())
    child = textwrap.dedent(
        f"""
        import os
        from foresight import fileio
        from foresight.leaderboard import store
        fileio.os.replace = lambda *a: os._exit(3)   # die right before the atomic rename
        store.add_result({str(doc)!r}, {str(store)!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", child], cwd=REPO, capture_output=True, timeout=60)
    assert proc.returncode == 3, proc.stderr.decode()
    temps = [p for p in store.iterdir() if p.name.startswith(fileio.TMP_PREFIX)]
    assert len(temps) == 1 and temps[0].read_text() == res.to_json()
    assert not (store / result_filename(res.to_dict())).exists()
    assert {n: b for n, b in snapshot(store).items() if n != temps[0].name} == before
    assert [s.result.method for s in load_results(store)] == ["dp"]  # the temp file is ignored
    add_result(doc, store)  # and the evaluation can be filed afterwards
    assert {s.result.method for s in load_results(store)} == {"dp", "clad"}


def test_load_refuses_hand_edited_files_naming_them(store):
    (path,) = list(store.glob("*.json"))
    renamed = path.with_name("libero__libero_10__dp__reproduced__0000000000000000.json")
    path.rename(renamed)
    with pytest.raises(ResultValidationError, match="file name does not match its content"):
        load_results(store)
    d = json.loads(renamed.read_text())
    d["wall_time_s"] = -1
    renamed.rename(path)
    path.write_text(json.dumps(d))
    with pytest.raises(ResultValidationError) as err:
        load_results(store)
    assert path.name in str(err.value) and "wall_time_s" in str(err.value)


def test_the_repository_store_holds_only_valid_results():
    assert all(s.result.kind in ("reproduced", "oracle") for s in load_results(REPO / "leaderboard" / "results"))
