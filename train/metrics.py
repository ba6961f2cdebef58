"""Run metrics: one JSON object per logged step in metrics.jsonl, mirrored to wandb when it is available.

Rank 0 only. On resume, rows past the restored step are dropped first, so no step is ever logged twice.
wandb: honours WANDB_MODE (offline works without a network; "disabled" turns it off) and is skipped cleanly if the
package is not installed or `use_wandb` is false.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from train import dist


class MetricsLogger:
    def __init__(self, output_dir: str | Path, config: dict, use_wandb: bool, project: str, run_name: str,
                 resume_step: int = 0):
        self.path = Path(output_dir) / "metrics.jsonl"
        self.active = dist.is_main()
        self.wandb_run = None
        if not self.active:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._truncate_after(resume_step)
        if use_wandb and os.environ.get("WANDB_MODE", "") != "disabled":
            self.wandb_run = _init_wandb(output_dir, config, project, run_name)

    def _truncate_after(self, step: int) -> None:
        if not self.path.exists():
            return
        rows = [line for line in self.path.read_text().splitlines() if line.strip()]
        kept = [r for r in rows if json.loads(r).get("step", 0) <= step]
        self.path.write_text("".join(r + "\n" for r in kept))

    def log(self, metrics: dict, step: int) -> None:
        if not self.active:
            return
        row = {"step": step, **{k: _plain(v) for k, v in metrics.items()}}
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if self.wandb_run is not None:
            self.wandb_run.log(row, step=step)

    def close(self) -> None:
        if self.wandb_run is not None:
            self.wandb_run.finish()


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def _init_wandb(output_dir, config: dict, project: str, run_name: str):
    try:
        import wandb
    except ImportError:
        dist.print0("wandb not installed: logging to metrics.jsonl only")
        return None
    # A stable id per output_dir makes a resumed run continue the same wandb run.
    run_id = "".join(c if c.isalnum() else "-" for c in Path(output_dir).resolve().name)[-64:]
    mode = os.environ.get("WANDB_MODE") or ("online" if _has_wandb_key() else "offline")
    if mode == "offline":
        dist.print0(f"wandb offline (no API key or WANDB_MODE=offline): sync later with `wandb sync {output_dir}/wandb`")
    return wandb.init(project=project, name=run_name, id=run_id, resume="allow", config=config,
                      dir=str(output_dir), mode=mode)


def _has_wandb_key() -> bool:
    netrc = Path.home() / ".netrc"
    return bool(os.environ.get("WANDB_API_KEY")) or (netrc.exists() and "api.wandb.ai" in netrc.read_text())


def read_metrics(output_dir: str | Path) -> list[dict]:
    path = Path(output_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
