"""A LoRA run's checkpoints hold the adapter and its optimizer state, not the frozen base, and a run resumed from one
continues exactly as the uninterrupted run (in process, one rank; the 2-rank kill-and-resume test is test_sft.py)."""

from pathlib import Path

import pytest
import torch

from train import sft
from train.checkpoint import latest_checkpoint
from train.config import load_config
from train.metrics import read_metrics

REPO = Path(__file__).resolve().parents[2]


def _cfg(model_dir, out, *extra):
    return load_config(sft.Config, ["--config", str(REPO / "configs/sft/tiny.yaml"), f"model={model_dir}",
                                    f"output_dir={out}", "max_steps=4", "save_every=2", "keep_last=5",
                                    "grad_accum=1", "micro_batch_size=2", "data.max_examples=16", "use_wandb=false",
                                    "max_length=96", "optim.lr=3e-3", *extra])


def _bytes(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def test_lora_checkpoint_holds_no_frozen_base(tiny_model_dir, tmp_path):
    sft.main(_cfg(tiny_model_dir, tmp_path, "max_steps=2"))
    ckpt = latest_checkpoint(tmp_path)
    base_bytes = (tiny_model_dir / "model.safetensors").stat().st_size
    assert _bytes(ckpt) < 0.25 * base_bytes, (_bytes(ckpt), base_bytes)  # was > 2x: module + frozen fragments
    state = torch.load(next(ckpt.glob("mp_rank_*_model_states.pt")), weights_only=False)
    assert state["module"] and all("lora_" in k for k in state["module"]), [k for k in state["module"]][:5]
    assert not state.get("frozen_param_fragments")


class Killed(Exception):
    pass


def test_resume_from_a_lora_checkpoint_matches_the_uninterrupted_run(tiny_model_dir, tmp_path, monkeypatch, capsys):
    sft.main(_cfg(tiny_model_dir, tmp_path / "a"))
    reference = {r["step"]: r["loss"] for r in read_metrics(tmp_path / "a")}

    save = sft.save_checkpoint

    def save_then_die(engine, output_dir, step, *args, **kwargs):
        path = save(engine, output_dir, step, *args, **kwargs)
        if step == 2:
            raise Killed  # a crash right after the step-2 checkpoint is complete
        return path

    monkeypatch.setattr(sft, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        sft.main(_cfg(tiny_model_dir, tmp_path / "b"))
    monkeypatch.setattr(sft, "save_checkpoint", save)
    capsys.readouterr()
    sft.main(_cfg(tiny_model_dir, tmp_path / "b"))  # resumes at step 2: base from the model path, LoRA from ckpt
    assert "step_000002 at step 2" in capsys.readouterr().out
    resumed = {r["step"]: r["loss"] for r in read_metrics(tmp_path / "b")}
    assert sorted(resumed) == [1, 2, 3, 4]
    for step in (3, 4):
        assert resumed[step] == pytest.approx(reference[step], rel=1e-6, abs=1e-7), step


def test_a_checkpoint_of_other_lora_settings_is_refused(tiny_model_dir, tmp_path):
    sft.main(_cfg(tiny_model_dir, tmp_path, "max_steps=2"))
    with pytest.raises(ValueError, match="checkpoint does not match the model"):
        sft.main(_cfg(tiny_model_dir, tmp_path, "max_steps=3", "lora.target_modules=.*q_proj"))
