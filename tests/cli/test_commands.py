"""One CLI (issue 11): every bad input ends with exit code 2 and one ``error:`` line, no traceback, nothing created;
read-only commands create no files; help pages name the subcommands; missing extras name the install line."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from rlhf_robotics.cli.app import UsageError, config_groups, require_extra
from rlhf_robotics.cli.main import SUBCOMMANDS
from rlhf_robotics.cli.train import CONF_DIR, _needed_plugins, experiment_config
from rlhf_robotics.preference.records import Judgment, Query
from rlhf_robotics.preference.store import PreferenceStore
from rlhf_robotics.typed_config import ConfigError


def cli(*args: str, cwd: Path, prelude: str = "", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``rlhf-robotics *args`` in a fresh interpreter; ``prelude`` runs first (e.g. to hide a module)."""
    code = f"import sys\n{prelude}\nfrom rlhf_robotics.cli.main import entry\nsys.exit(entry(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "MUJOCO_GL": "egl"})


def assert_usage_error(r: subprocess.CompletedProcess[str], message: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its content hash."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    """A run directory whose store holds two text pairs and one answer."""
    root = tmp_path / "run"
    with PreferenceStore(root / "preferences.sqlite") as store:
        ids = store.add_queries([
            Query(f"a{k}", f"b{k}", selector="uniform", meta={"texts": {"prompt": f"{k}+{k}=", "first": str(2 * k),
                                                                        "second": "7"}})
            for k in range(2)
        ])
        store.add_judgment(Judgment(query_id=ids[0], label="first", annotator="human:ann"))
    return root


# -- training: validation before anything is created ---------------------------------------------------------


def test_bad_ppo_batch_size_exits_2_and_creates_no_folder(tmp_path: Path) -> None:
    r = cli("ppo.batch_size=0", cwd=tmp_path)
    assert_usage_error(r, "error: ppo.batch_size=0: must be >= 2")
    assert list(tmp_path.iterdir()) == [], "a rejected command leaves no runs/<date>/<time> (nor log) behind"


def test_unknown_key_and_option_exit_2_and_create_nothing(tmp_path: Path) -> None:
    assert_usage_error(cli("labels.budget=5", cwd=tmp_path), "Could not override 'labels.budget'")
    assert_usage_error(cli("teacher=perfectionist", cwd=tmp_path), "perfectionist")
    assert list(tmp_path.iterdir()) == []


def _compose(overrides: list[str]) -> object:
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return experiment_config(compose(config_name="config", overrides=overrides))


@pytest.mark.parametrize("override,message", [
    ("ppo.batch_size=1", r"ppo.batch_size=1: must be >= 2"),
    ("ppo.n_epochs=0", r"ppo.n_epochs=0: must be >= 1"),
    ("ppo.learning_rate=0", r"ppo.learning_rate=0.0: must be > 0"),
    ("ppo.gamma=1.5", r"ppo.gamma=1.5: must be >= 0 and <= 1"),
    ("ppo.gae_lambda=-0.1", r"ppo.gae_lambda=-0.1: must be >= 0 and <= 1"),
    ("ppo.clip_range=0", r"ppo.clip_range=0.0: must be > 0"),
    ("ppo.net_arch=[64,0]", r"ppo.net_arch\[1\]=0: must be >= 1"),
    ("env.n_envs=0", r"env.n_envs=0: must be >= 1"),
    ("env.segment_seconds=0", r"env.segment_seconds=0.0: must be > 0"),
    ("env.max_segment_steps=10", r"env.max_segment_steps=10: must be >= 15"),
    ("labels.initial_fraction=2", r"labels.initial_fraction must be in \[0, 1\]"),
    ("labels.buffer_steps=0", r"labels.buffer_steps=0: must be >= 1"),
    ("selection.oversampling=0.5", r"selection.oversampling=0.5: must be >= 1"),
    ("reward_model.refit_epochs=0", r"reward_model.refit_epochs=0: must be >= 1"),
    ("reward_model.trainer.lr=0", r"reward_model.trainer.lr=0.0: must be > 0"),
    ("reward_model.trainer.noise=2", r"reward_model.trainer.noise=2.0: must be >= 0 and <= 1"),
    ("reward_model.mlp.dropout=1", r"reward_model.mlp.dropout=1.0: must be >= 0 and < 1"),
    ("reward_model.mlp.output=sigmoid", r"reward_model.mlp.output='sigmoid': choose one of linear, tanh"),
    ("reward_model.mlp.ignore_inputs=[3,-1]", r"reward_model.mlp.ignore_inputs=\[3, -1\]: give each .* none negative"),
    ("reward_model.mlp.ignore_inputs=[3,3]", r"reward_model.mlp.ignore_inputs=\[3, 3\]: give each"),
    ("seed=-1", r"seed=-1: must be >= 0"),
    ("eval_episodes=0", r"eval_episodes=0: must be >= 1"),
    ("torch_threads=0", r"torch_threads=0: must be >= 1"),
])
def test_every_numeric_knob_is_range_checked(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _compose([override])


def test_default_run_dir_is_dated_and_computed_only_after_validation() -> None:
    config = _compose([])
    assert re.fullmatch(r"runs/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d", config.run_dir)  # type: ignore[attr-defined]


def test_a_sweep_without_its_launcher_names_the_extra(tmp_path: Path) -> None:
    assert _needed_plugins(["-m", "+sweep=smoke"]) == ["hydra_plugins.hydra_joblib_launcher"]
    assert _needed_plugins(["-m", "+sweep=optuna_reward_model"]) == [
        "hydra_plugins.hydra_optuna_sweeper", "hydra_plugins.hydra_joblib_launcher"]
    assert _needed_plugins(["-m", "hydra/launcher=ray_local"]) == ["hydra_plugins.hydra_ray_launcher"]
    assert _needed_plugins(["-m", "seed=0,1"]) == [], "the basic launcher is Hydra's own"
    hide = "sys.modules['hydra_plugins.hydra_joblib_launcher'] = None"
    r = cli("-m", "+sweep=smoke", cwd=tmp_path, prelude=hide)
    assert_usage_error(r, "pip install 'rlhf_robotics[sweep]'")
    assert list(tmp_path.iterdir()) == []


def test_require_extra_names_the_install_line() -> None:
    with pytest.raises(UsageError, match=r"needs the 'ui' extra \(no_such_module_x is not installed\); install it "
                                         r"with: pip install 'rlhf_robotics\[ui\]'"):
        require_extra("ui", "this", ["no_such_module_x"])
    require_extra("ui", "this", ["json"])  # present: no error


# -- label ----------------------------------------------------------------------------------------------------


def test_label_port_out_of_range_leaves_the_run_as_it_was(run: Path) -> None:
    before = snapshot(run)
    assert_usage_error(cli("label", f"run={run}", "port=99999", cwd=run.parent), "error: port=99999: expected a TCP port")
    assert snapshot(run) == before


def test_label_on_a_busy_port_exits_2_and_leaves_the_run_as_it_was(run: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        before = snapshot(run)
        r = cli("label", f"run={run}", f"port={busy.getsockname()[1]}", cwd=run.parent)
        assert_usage_error(r, f"error: cannot listen on 127.0.0.1:{busy.getsockname()[1]}")
        assert "port=0 for a free one" in r.stderr
        assert snapshot(run) == before, "no clips/, app database or store was created"
    finally:
        busy.close()


def test_label_port_0_prints_the_real_port(run: Path) -> None:
    code = "import sys\nfrom rlhf_robotics.cli.main import entry\nsys.exit(entry(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, "label", f"run={run}", "port=0", "min_watch_s=0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match and int(match.group(1)) > 0, line
        for _ in range(100):  # the URL is printed just before uvicorn starts serving
            try:
                with urllib.request.urlopen(f"{match.group(0)}api/status", timeout=5) as response:
                    assert response.status == 200
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"nothing answers at {match.group(0)}")
    finally:
        proc.terminate()
        proc.wait(30)


def test_export_to_a_missing_folder_exits_2(run: Path, tmp_path: Path) -> None:
    before = snapshot(run)
    r = cli("label", "export", f"run={run}", f"out={tmp_path}/missing/dir/x.jsonl", cwd=tmp_path)
    assert_usage_error(r, "folder")
    assert "missing/dir' does not exist" in r.stderr
    assert snapshot(run) == before and not (tmp_path / "missing").exists()


def test_read_only_commands_create_no_files(run: Path, tmp_path: Path) -> None:
    before = snapshot(run)
    out = tmp_path / "labels.jsonl"
    r = cli("label", "export", f"run={run}", f"out={out}", cwd=run)
    assert r.returncode == 0, r.stderr
    r = cli("label", "stats", f"run={run}", cwd=run)
    assert r.returncode == 0 and '"judgments": 1' in r.stdout, r.stderr
    assert snapshot(run) == before, "export and stats wrote nothing in the run (cwd) but out="
    kinds = [json.loads(line)["kind"] for line in out.read_text().splitlines()]
    assert kinds == ["meta", *["item"] * 4, "query", "query", "judgment"]  # the two pairs' four texts are items
    assert_usage_error(cli("label", "stats", f"run={tmp_path / 'nothing'}", cwd=tmp_path), "no such folder")
    (tmp_path / "empty").mkdir()
    assert_usage_error(cli("label", "stats", f"run={tmp_path / 'empty'}", cwd=tmp_path), "holds no preferences.sqlite")
    assert list((tmp_path / "empty").iterdir()) == [], "a read-only command never creates a store"


def test_export_needs_no_web_server_but_serving_names_the_ui_extra(run: Path, tmp_path: Path) -> None:
    hide = "sys.modules['starlette'] = None; sys.modules['uvicorn'] = None"
    r = cli("label", "export", f"run={run}", f"out={tmp_path / 'x.jsonl'}", cwd=tmp_path, prelude=hide)
    assert r.returncode == 0, r.stderr
    r = cli("label", f"run={run}", cwd=tmp_path, prelude=hide)
    assert_usage_error(r, "needs the 'ui' extra")
    assert "pip install 'rlhf_robotics[ui]'" in r.stderr


# -- help: one page per command, naming every command ----------------------------------------------------------


def test_help_pages_name_the_command_its_own_groups_and_every_subcommand(tmp_path: Path) -> None:
    pages = {
        "train": cli("--help", cwd=tmp_path),
        "lm": cli("lm", "--help", cwd=tmp_path),
        "label export": cli("label", "export", "--help", cwd=tmp_path),
        "gallery": cli("gallery", "-h", cwd=tmp_path),
    }
    for command, r in pages.items():
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"rlhf-robotics {command if command != 'lm' else 'lm pipeline'}:")
        assert "powered by Hydra" not in r.stdout
        for name in SUBCOMMANDS:
            assert f"rlhf-robotics {name} " in r.stdout, (command, name)
    train, lm = pages["train"].stdout, pages["lm"].stdout
    assert re.search(r"^  env +ant,", train, re.M) and "lm/" not in train and "dpo " not in train
    assert re.search(r"^  dpo +default, ipo, sigmoid", lm, re.M) and not re.search(r"^  env ", lm, re.M)
    assert list(tmp_path.iterdir()) == []


def test_lm_without_a_command_and_a_misspelt_key_exit_2(tmp_path: Path) -> None:
    assert_usage_error(cli("lm", cwd=tmp_path), "needs a command first, one of pipeline")
    assert_usage_error(cli("lm", "pretrain", "pretrain.stepz=3", cwd=tmp_path), "pretrain.stepz")
    assert_usage_error(cli("lm", "pretrain", "threads=0", f"run_dir={tmp_path}/r", cwd=tmp_path), "threads=0")
    assert list(tmp_path.iterdir()) == []


def test_config_groups_lists_options_and_leaves_out_other_commands_roots() -> None:
    groups = config_groups(Path(CONF_DIR), ("lm", "label"))
    assert groups["selection"] == ["disagreement", "entropy", "kcenter_disagreement", "logit_variance", "uniform"]
    assert "hydra/launcher" not in groups and not any(g.split("/")[0] in ("lm", "label") for g in groups)
    assert "labels" in groups


def test_label_import_round_trips_an_export_and_refuses_a_run_with_labels(run: Path, tmp_path: Path) -> None:
    from rlhf_robotics.cli.main import entry

    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    assert entry(["label", "export", f"run={run}", f"out={first}"]) == 0
    assert entry(["label", "import", f"run={tmp_path / 'copy'}", f"file={first}"]) == 0
    assert entry(["label", "export", f"run={tmp_path / 'copy'}", f"out={second}"]) == 0
    strip = [{k: v for k, v in json.loads(line).items() if k != "created"} for line in first.read_text().splitlines()]
    again = [{k: v for k, v in json.loads(line).items() if k != "created"} for line in second.read_text().splitlines()]
    assert again == strip and len(again) == 8  # same items, queries (ids kept) and judgment

    before = snapshot(run)
    r = cli("label", "import", f"run={run}", f"file={first}", cwd=tmp_path)
    assert_usage_error(r, "already holds labels")
    assert snapshot(run) == before
    assert_usage_error(cli("label", "import", f"run={tmp_path / 'new'}", f"file={tmp_path / 'none.jsonl'}", cwd=tmp_path),
                       "no such file")
    assert not (tmp_path / "new").exists()
