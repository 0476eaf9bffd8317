"""A result of a policy trained on oracle imagination carries that label into its results file and its leaderboard
row; a policy that cannot imagine at evaluation is refused by the runner before any episode."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import contract
import pytest
import torch
from lb_factories import libero_result

from foresight.eval.config import EvalConfig
from foresight.eval.runner import evaluate
from foresight.leaderboard.board import build_board
from foresight.leaderboard.reported import load_reported
from foresight.leaderboard.schema import Result
from foresight.leaderboard.store import StoredResult
from foresight.methods.mola import MoLA
from foresight.methods.mola.imagination import ImaginationError
from foresight.methods.mola.method import ORACLE_LABEL
from foresight.methods.mola.tiny import tiny_config


def oracle_method(eval_backend: str = "svd") -> MoLA:
    torch.manual_seed(0)
    cfg = tiny_config(**{"imagination.backend": "oracle", "imagination.eval_backend": eval_backend})
    return MoLA(cfg, contract.INFO)


def test_an_oracle_result_carries_its_label_into_the_file_and_the_leaderboard_row(tmp_path):
    labels = oracle_method().result_labels()
    assert labels == (ORACLE_LABEL,)
    plain = libero_result("dp")
    oracle = Result(**{**plain.__dict__, "method": "mola", "labels": labels})
    document = json.loads(oracle.to_json())
    assert document["method"]["labels"] == [ORACLE_LABEL]
    loaded = Result.from_dict(document)  # the schema accepts it, and the label survives the round trip
    assert loaded.labels == labels and "labels" not in plain.to_dict()["method"]
    stored = [StoredResult(tmp_path / "a.json", loaded), StoredResult(tmp_path / "b.json", plain)]
    board = build_board(stored, load_reported(Path("/nonexistent.yaml")))
    rows = [row for section in board.sections for table in section.tables for row in table.rows]
    mola_rows = [r for r in rows if r.method == "mola"]
    assert mola_rows and all(ORACLE_LABEL in r.notes for r in mola_rows)
    assert all(ORACLE_LABEL not in r.notes for r in rows if r.method == "dp")


def test_the_schema_rejects_an_empty_label():
    document = libero_result("mola").to_dict()
    document["method"]["labels"] = [""]
    with pytest.raises(ValueError, match="labels"):
        Result.from_dict(document)


def test_the_runner_refuses_oracle_imagination_before_any_episode(tmp_path):
    loaded = SimpleNamespace(method=oracle_method(eval_backend="same"))
    with pytest.raises(ImaginationError, match="eval_backend=svd"):
        evaluate(None, loaded, EvalConfig(), tmp_path / "eval")  # the suite is never touched
    assert not (tmp_path / "eval").exists()
