"""Start and finish of a training run, shared by every entry point (SFT, RL).

start: resume from the newest complete checkpoint in output_dir (if any), save the resolved config, open the
metrics log (dropping rows past the resumed step). finish: final checkpoint and Hugging Face export.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from train import dist
from train.checkpoint import export_final, latest_checkpoint, load_checkpoint, save_checkpoint
from train.config import save_config
from train.engine import RunSettings
from train.metrics import MetricsLogger


def start_run(cfg: RunSettings, engine) -> tuple[dict, MetricsLogger]:
    """({step, data_position} to continue from, the metrics logger)."""
    output_dir = Path(cfg.output_dir)
    state = {"step": 0, "data_position": 0}
    ckpt = latest_checkpoint(output_dir)
    if ckpt is not None:
        state = load_checkpoint(engine, ckpt)
        dist.print0(f"resumed from {ckpt} at step {state['step']}")
    if dist.is_main():
        save_config(cfg, output_dir / "config.yaml")
    logger = MetricsLogger(output_dir, asdict(cfg), cfg.use_wandb, cfg.wandb_project, cfg.run_name,
                           resume_step=state["step"])
    return state, logger


def finish_run(cfg: RunSettings, engine, tokenizer, logger: MetricsLogger, step: int, data_position: int) -> Path:
    """Save the final checkpoint (unless save_final_state is off) and export (a run from init_adapter exports merged
    weights only)."""
    if cfg.save_final_state:
        save_checkpoint(engine, cfg.output_dir, step, data_position, cfg.keep_last)
    final = export_final(engine, tokenizer, cfg.output_dir, cfg.export_merged or bool(cfg.init_adapter),
                         adapter=not cfg.init_adapter)
    logger.close()
    return final
