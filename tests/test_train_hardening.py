"""Issue #14, items 1-4: data paths never written into, resumes that check what they resume, numeric checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_train import demo_path, run  # noqa: F401  (the module fixture and the tiny two-stage method)

from foresight import checkpoint
from foresight.config import compose, validate
from foresight.data import DataError
from foresight.data.config import DataConfig, load_data_config
from foresight.data.demo import MANIFEST, build_demo_dataset
from foresight.resume import RESUMES_FILE, unfinished_note
from foresight.train import EXIT_STOPPED, main

# ------------------------------------------------------------------ 1. data.path without data= is detected


def test_data_path_alone_detects_the_format_instead_of_building_the_demo(tmp_path):
    libero = build_demo_dataset(tmp_path / "libero", num_tasks=1, episodes_per_task=1, length=4, image_size=8)
    (libero / MANIFEST).unlink()  # now an ordinary folder of LIBERO files
    before = sorted(p.name for p in libero.iterdir())
    cfg = load_data_config([f"data.path={libero}"])
    assert (cfg.format, cfg.name) == ("auto", "auto")
    assert validate(compose([f"data.path={libero}"]).data, DataConfig, "data").format == "auto"
    explicit = validate(compose(["data=demo", f"data.path={libero}"]).data, DataConfig, "data")
    assert explicit.format == "demo"  # an explicit choice still wins
    from foresight.data import open_dataset

    dataset = open_dataset(cfg)
    assert len(dataset.episodes) == 1 and dataset.info.tasks == ("DEMO_reach_the_red_dot",)
    assert sorted(p.name for p in libero.iterdir() if p.name != ".foresight") == before


def test_demo_builder_never_writes_into_a_users_folder_or_onto_a_file(tmp_path):
    users = tmp_path / "real"
    users.mkdir()
    (users / "KITCHEN_SCENE3_turn_on_the_stove_demo.hdf5").write_bytes(b"not ours")
    with pytest.raises(DataError, match=r"already holds files \(KITCHEN_SCENE3_turn_on_the_stove_demo\.hdf5\)"):
        build_demo_dataset(users, num_tasks=1, episodes_per_task=1, length=4, image_size=8)
    assert [p.name for p in users.iterdir()] == ["KITCHEN_SCENE3_turn_on_the_stove_demo.hdf5"]
    with pytest.raises(DataError, match="is a file, but format 'demo' builds"):
        build_demo_dataset(users / "KITCHEN_SCENE3_turn_on_the_stove_demo.hdf5", num_tasks=1, length=4)
    # its own folder (with the manifest) is rebuilt in place with other arguments
    own = build_demo_dataset(tmp_path / "own", num_tasks=1, episodes_per_task=1, length=4, image_size=8)
    assert build_demo_dataset(own, num_tasks=1, episodes_per_task=2, length=4, image_size=8) == own


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "typo", "does not exist"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "cannot tell the format"),
    ],
)
def test_data_path_that_holds_nothing_recognisable_is_one_error_and_creates_nothing(tmp_path, capsys, make, message):
    path = make(tmp_path)
    existed = path.exists()
    args = ["method=tiny_two_stage", f"data.path={path}", f"run_dir={tmp_path / 'r'}", "train.logger=none"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and "Traceback" not in err
    assert path.exists() == existed and not (tmp_path / "r" / "a").exists()


# --------------------------------------------------------------------------- 2. resume checks what it resumes


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ("train.lr=0.5", "train.lr: None in the checkpoint, 0.5 now"),
        ("train.batch_size=4", "train.batch_size"),
        ("method.hidden=32", "method.hidden: 16 in the checkpoint, 32 now"),
    ],
)
def test_resume_with_a_changed_config_is_refused_naming_the_key_and_the_way_out(
    demo_path,  # noqa: F811
    tmp_path,
    capsys,
    change,
    key,
):
    assert run(demo_path, tmp_path / "r", "train.stop_at_step=2") == EXIT_STOPPED
    capsys.readouterr()
    assert run(demo_path, tmp_path / "r", change) == 2
    err = capsys.readouterr().err
    assert key in err and "train.resume=never" in err and "another run_dir" in err
    assert "Traceback" not in err and "size mismatch" not in err
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path / "r" / "a")] == ["step_0000002"]


def test_resume_on_other_data_is_refused(demo_path, tmp_path, capsys):  # noqa: F811
    assert run(demo_path, tmp_path / "r", "train.stop_at_step=2") == EXIT_STOPPED
    copy = shutil.copytree(demo_path, tmp_path / "copy", ignore=shutil.ignore_patterns(".foresight"))
    for f in copy.glob("*.hdf5"):  # same names and sizes, other bytes: the fingerprint sees new file times
        f.touch()
    capsys.readouterr()
    assert run(copy, tmp_path / "r") == 2
    err = capsys.readouterr().err
    assert "it was trained on data" in err and "fingerprint" in err and "train.resume=never" in err


def test_more_steps_on_resume_is_allowed_and_recorded(demo_path, tmp_path):  # noqa: F811
    assert run(demo_path, tmp_path / "r", "train.stop_at_step=2") == EXIT_STOPPED
    assert run(demo_path, tmp_path / "r", "train.steps=8") == 0
    final = checkpoint.final_checkpoint(tmp_path / "r" / "a")
    assert json.loads((final / checkpoint.META_FILE).read_text())["step"] == 8
    records = [json.loads(line) for line in (tmp_path / "r" / "a" / RESUMES_FILE).read_text().splitlines()]
    assert len(records) == 1 and records[0]["step"] == 2
    assert records[0]["changed"]["train.steps"] == {"checkpoint": None, "now": 8}
    assert records[0]["changed"]["train.stop_at_step"] == {"checkpoint": 2, "now": None}


def test_resume_with_no_step_left_to_train_is_refused(demo_path, tmp_path, capsys):  # noqa: F811
    assert run(demo_path, tmp_path / "r", "train.stop_at_step=4") == EXIT_STOPPED
    capsys.readouterr()
    assert run(demo_path, tmp_path / "r", "train.steps=3") == 2
    err = capsys.readouterr().err
    assert "it is at step 4 and this stage is planned for 3 steps, so nothing is left to train" in err
    assert checkpoint.final_checkpoint(tmp_path / "r" / "a") is None


# ------------------------------------------------- 3. resume from another stage; a stopped run's exit and eval note


def test_resume_from_a_checkpoint_of_another_stage_is_an_error(demo_path, tmp_path, capsys):  # noqa: F811
    assert run(demo_path, tmp_path / "done") == 0
    stage_b = checkpoint.final_checkpoint(tmp_path / "done" / "b")
    capsys.readouterr()
    assert run(demo_path, tmp_path / "new", f"train.resume={stage_b}") == 2
    err = capsys.readouterr().err
    assert "is a checkpoint of stage 'b', but this run trains stage 'a'" in err and "stage=b" in err
    assert not checkpoint.list_checkpoints(tmp_path / "new" / "a")  # nothing trained from scratch


def test_a_stopped_run_exits_distinctly_and_evaluation_notes_it(demo_path, tmp_path, capsys):  # noqa: F811
    assert run(demo_path, tmp_path / "r", "train.stop_at_step=2") == EXIT_STOPPED
    assert "re-run the same command to resume" in capsys.readouterr().err
    ckpt = checkpoint.resolve(tmp_path / "r")
    meta = checkpoint.load_json(ckpt / checkpoint.META_FILE)
    assert unfinished_note(ckpt, meta) == f"{ckpt} is step 2 of 6 of stage 'a': training did not finish"
    assert run(demo_path, tmp_path / "r", "stage=a") == 0  # stage a done, b not started
    ckpt = checkpoint.resolve(tmp_path / "r")
    note = unfinished_note(ckpt, checkpoint.load_json(ckpt / checkpoint.META_FILE))
    assert note == f"{ckpt} is from stage 'a', but the run's last stage ('b') has not finished"
    assert run(demo_path, tmp_path / "r") == 0
    ckpt = checkpoint.resolve(tmp_path / "r")
    assert unfinished_note(ckpt, checkpoint.load_json(ckpt / checkpoint.META_FILE)) is None


# -------------------------------------------------------------------------------------- 4. numeric checks


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("train.steps=-1", "train.steps=-1: expected a number >= 1 (or null)"),
        ("train.batch_size=0", "train.batch_size=0: expected a number >= 1 (or null)"),
        ("train.lr=-1", "train.lr=-1.0: expected a number > 0 (or null)"),
        ("train.num_workers=-1", "train.num_workers=-1: expected a number >= 0"),
        ("train.warmup_steps=-3", "train.warmup_steps=-3: expected a number >= 0 (or null)"),
        ("train.grad_clip=0", "train.grad_clip=0.0: expected a number > 0 (or null)"),
        ("train.keep_last=-1", "train.keep_last=-1: expected a number >= 0"),
        ("data.val_fraction=1.5", "data.val_fraction=1.5: expected a number in [0, 1)"),
        ("data.max_episodes=0", "data.max_episodes=0: expected a number >= 1 (or null)"),
        ("data.image_size=[64]", "data.image_size=[64]: expected [H, W] (or null)"),
    ],
)
def test_numeric_fields_out_of_range_are_one_line(demo_path, tmp_path, capsys, arg, message):  # noqa: F811
    assert run(demo_path, tmp_path / "r", arg) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_a_validation_fraction_that_leaves_no_training_episode_is_one_line(demo_path, tmp_path, capsys):  # noqa: F811
    assert run(demo_path, tmp_path / "r", "data.val_fraction=0.99") == 2
    err = capsys.readouterr().err
    assert "cannot hold out" in err and "Traceback" not in err


def test_config_value_errors_escaping_validation_become_one_line(monkeypatch, capsys):
    import foresight.train as train_module

    def broken(_cfg):
        raise ValueError("a check outside validate")

    monkeypatch.setattr(train_module, "Trainer", broken)
    assert main(["train.logger=none"]) == 2
    assert capsys.readouterr().err == "foresight train: error: a check outside validate\n"


def test_data_config_path_alone_keeps_other_data_overrides(tmp_path):
    cfg = load_data_config([f"data.path={tmp_path}", "data.val_fraction=0.0", "data.name=mine"])
    assert (cfg.format, cfg.name, cfg.val_fraction, cfg.path) == ("auto", "mine", 0.0, str(tmp_path))
    assert Path(cfg.path) == tmp_path


def test_val_fraction_zero_trains_on_every_demonstration():
    from foresight.data import split_episodes

    assert split_episodes(50, 0.0, seed=42) == (list(range(50)), [])
    train, held_out = split_episodes(500, 0.1, seed=42)  # LIBERO-LONG: 10 tasks x 50 demonstrations
    assert len(held_out) == 50 and len(train) == 450
