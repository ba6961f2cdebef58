"""`--help` of train/sft.py and rl/grpo.py (issue 30): every key of the typed configs, nested ones dotted, with its
type, default and meaning, generated from the dataclasses; exit 0; printed once under the deepspeed launcher."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rl import grpo
from train import sft
from train.config import load_config
from train.config_help import config_help, config_keys, launch_section

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
ENV.pop("RANK", None)
CONFIGS = {"train/sft.py": sft.Config, "rl/grpo.py": grpo.Config}


def all_keys(cls: type, prefix: str = "") -> list[str]:
    """Every field of cls, recursively, walked independently of the help generator."""
    keys = []
    instance = cls()
    for f in dataclasses.fields(cls):
        keys.append(prefix + f.name)
        value = getattr(instance, f.name)
        if dataclasses.is_dataclass(value):
            keys += all_keys(type(value), f"{prefix}{f.name}.")
    return keys


@pytest.mark.parametrize("script", sorted(CONFIGS))
def test_every_field_is_listed_with_a_meaning(script):
    cls = CONFIGS[script]
    text = config_help(cls)
    listed = {line.split(":")[0].strip() for line in text.splitlines() if line.startswith("  ") and
              not line.startswith("      ")}
    expected = all_keys(cls)
    assert len(expected) > 50 and set(expected) <= listed, set(expected) - listed
    rows = config_keys(cls)
    assert [key for key, *_ in rows] == expected  # the same keys, in declaration order
    assert [key for key, _, _, meaning in rows if not meaning] == []  # a field without a comment fails here
    assert "(no description)" not in text
    assert launch_section(text).startswith(f"Launch:  deepspeed [--num_gpus N] {script} --config")


def test_types_defaults_and_nested_keys_as_written_in_yaml():
    text = config_help(grpo.Config)
    for line in ("  lora.r: int = 64", "  data.name: str = tiny", "  epsilon_high: float | None = null",
                 "  rewards.funcs: list[str] = [code, format]", "  rewards.weights: list[float] = [2.0, 0.5]",
                 "  data.prompt_template: str = '{prompt}'", "  rollout.use_cache: bool = false",
                 "  estimator: EstimatorConfig", "  save_every: int = 50"):
        assert line in text.splitlines(), line
    meanings = dict((key, meaning) for key, _, _, meaning in config_keys(grpo.Config))
    assert meanings["save_every"].startswith("steps between resumable checkpoints")  # grpo's own line
    assert meanings["seed"].startswith("seeds data order")  # inherited from RunSettings
    sft_text = config_help(sft.Config).splitlines()
    assert "  data.prompt_template: str = ''" in sft_text and "  tiers: dict[str, float] = {}" in sft_text


@dataclass
class Inner:
    a: int = 1  # the a
    # above
    # the b
    b: str = "x"


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)  # nested
    c: float | None = None
    d: bool = True  # trailing wins
    # not used


def test_comment_convention_trailing_else_block_above():
    rows = {key: (tp, default, meaning) for key, tp, default, meaning in config_keys(Outer)}
    assert rows == {"inner": ("Inner", "", "nested"), "inner.a": ("int", "1", "the a"),
                    "inner.b": ("str", "x", "above the b"), "c": ("float | None", "null", ""),
                    "d": ("bool", "true", "trailing wins")}


def test_load_config_help_prints_on_rank_0_and_exits_0(capsys, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit) as e:
        load_config(sft.Config, ["--config", "no-such.yaml", "--help"])  # help wins over a bad config path
    assert e.value.code == 0
    assert "  data.name: str = embedded" in capsys.readouterr().out
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(SystemExit) as e:
        load_config(sft.Config, ["-h"])
    assert e.value.code == 0 and capsys.readouterr().out == ""


@pytest.mark.parametrize("script", sorted(CONFIGS))
def test_script_help_exits_0(script):
    proc = subprocess.run([sys.executable, script, "--help"], cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("\nKeys:\n") == 1 and "  optim.lr: float = 5e-05" in proc.stdout


@pytest.mark.deepspeed
def test_help_under_the_deepspeed_launcher_prints_once(master_port):
    port = master_port()
    cmd = [str(Path(sys.executable).parent / "deepspeed"), "--num_gpus", "2", "--master_port", str(port),
           "rl/grpo.py", "--help"]
    proc = subprocess.run(cmd, cwd=REPO, env={**ENV, "DS_ACCELERATOR": "cpu"}, capture_output=True, text=True,
                          timeout=600, start_new_session=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert out.count("Launch:  deepspeed") == 1 and out.count("  rewards.workers: int = 2") == 1, out[-4000:]
