"""RL with plain vs fast rollouts (threshold, prefix cache): time/generate per step and both reward curves, one run.

    python scripts/bench/rl_rollouts.py [--model DIR] [--steps 6] [--threshold 0.9] [--no-cache]
        [--head-scale 500] [--config configs/rl/tiny.yaml] [key=value ...]

Two GRPO runs of the same config (rl/grpo.py, one rank, same seed, same problems), one with `rollout.threshold`
and `rollout.use_cache` set, trained side by side in one process with their steps interleaved (plain, fast, fast,
plain, ...), so the machine's load hits both alike. Per step: time/generate, the sampler's NFE, the whole step's
time and the reward of each run; then median (min, max) of the fast/plain ratios.

A random model's confidences are ~1/V, so the threshold never fires on it and the fast run differs only by the
prefix cache: the first table runs the model as loaded, the second the same model with its LM head scaled by
--head-scale (sharper, trained-like confidences: a stand-in for a trained model, not one, as in
scripts/bench/sampler.py). Pass --model (and --head-scale 1) for a trained model; key=value overrides the config.
Takes about 2 minutes on 2 CPU cores with the defaults.
Measured 2026-12-04, quiet machine, the minicode SFT model (`--model RUN/sft/final/merged --config
configs/rl/minicode.yaml --head-scale 1 --steps 6`: 4 prompts x 8, 96 tokens, 48 steps, threshold 0.9 + prefix cache):
time/generate fast/plain 0.12 (0.09-0.13) (9.0-11.9 s -> 0.8-1.3 s per step), NFE 0.18, step time 0.27
(0.22-0.29); mean reward over the 6 steps plain 1.133, fast 1.265.
"""

from __future__ import annotations

import argparse
import statistics
from contextlib import contextmanager
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def heads_scaled(engines: list, scale: float):
    """Every engine's (frozen) LM head multiplied by `scale`, restored on exit."""
    heads = [e.module.get_output_embeddings().weight for e in engines]
    saved = [h.detach().clone() for h in heads]
    with torch.no_grad():
        for h in heads:
            h.mul_(scale)
    try:
        yield
    finally:
        with torch.no_grad():
            for h, s in zip(heads, saved):
                h.copy_(s)


def build(args, overrides: list[str], fast: bool):
    from rl import grpo
    from train.config import load_config
    from train.engine import build_engine

    rollout = ([f"rollout.threshold={args.threshold}", f"rollout.use_cache={not args.no_cache}"] if fast
               else ["rollout.threshold=null", "rollout.use_cache=false"])
    cfg = load_config(grpo.Config, ["--config", args.config, f"model={args.model}", f"max_steps={args.steps}",
                                    "use_wandb=false", *overrides, *rollout])
    grpo.validate(cfg)
    torch.manual_seed(cfg.seed)  # same LoRA init in both runs
    engine, tokenizer, adapter = build_engine(cfg, cfg.max_steps * cfg.num_iterations)
    return cfg, engine, tokenizer, adapter


def run_table(args, overrides: list[str], problems: list[dict], scale: float) -> dict[str, list[dict]]:
    from rl import grpo

    runs = {"plain": build(args, overrides, False), "fast": build(args, overrides, True)}
    rows: dict[str, list[dict]] = {name: [] for name in runs}
    with heads_scaled([r[1] for r in runs.values()], scale):
        for step in range(args.steps):
            order = ("plain", "fast") if step % 2 == 0 else ("fast", "plain")
            for name in order:
                cfg, engine, tokenizer, adapter = runs[name]
                n = cfg.prompts_per_rank
                batch = [problems[(step * n + i) % len(problems)] for i in range(n)]
                m = grpo.rl_step(cfg, engine, tokenizer, adapter, batch, step)
                m["step_time"] = sum(m[f"time/{k}"] for k in ("generate", "reward", "reference", "optimize"))
                rows[name].append(m)
    print(f"{'step':>4} | {'gen s plain':>11} {'fast':>7} | {'NFE plain':>9} {'fast':>5} | {'step s plain':>12} "
          f"{'fast':>6} | {'reward plain':>12} {'fast':>6}")
    for i, (p, f) in enumerate(zip(rows["plain"], rows["fast"])):
        print(f"{i + 1:>4} | {p['time/generate']:>11.2f} {f['time/generate']:>7.2f} | {p['rollout/nfe']:>9.0f} "
              f"{f['rollout/nfe']:>5.0f} | {p['step_time']:>12.2f} {f['step_time']:>6.2f} | {p['reward']:>12.3f} "
              f"{f['reward']:>6.3f}")
    return rows


def ratios(rows: dict[str, list[dict]], key: str) -> str:
    r = [f[key] / p[key] for p, f in zip(rows["plain"], rows["fast"])]
    return f"{statistics.median(r):.2f} ({min(r):.2f}-{max(r):.2f})"


def summary(label: str, rows: dict[str, list[dict]]) -> str:
    return (f"{label}: fast/plain time/generate {ratios(rows, 'time/generate')}, NFE {ratios(rows, 'rollout/nfe')}, "
            f"step time {ratios(rows, 'step_time')}; mean reward plain "
            f"{statistics.mean(m['reward'] for m in rows['plain']):.3f}, fast "
            f"{statistics.mean(m['reward'] for m in rows['fast']):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model dir (default: build the tiny model in a temp dir)")
    parser.add_argument("--config", default=str(REPO / "configs/rl/tiny.yaml"))
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--no-cache", action="store_true", help="fast = threshold only (no prefix cache)")
    parser.add_argument("--head-scale", type=float, default=500.0, help="LM-head scale of the sharpened table")
    args, overrides = parser.parse_known_args()
    import inference  # noqa: F401  (registers the model types)
    from inference.tiny import model_dir_or_tiny
    from rl import grpo
    from rl.problems import load_rl_problems
    from train import dist

    args.model = model_dir_or_tiny(args.model)
    dist.init_distributed()
    from train.config import load_config

    cfg = load_config(grpo.Config, ["--config", args.config, f"model={args.model}", *overrides])
    problems = load_rl_problems(cfg.data)
    print(f"config {args.config} {' '.join(overrides)}: {cfg.prompts_per_rank} prompts x {cfg.num_generations}, "
          f"{cfg.max_completion_length} tokens, {cfg.diffusion_steps} steps, block {cfg.block_length}, temperature "
          f"{cfg.temperature}; fast = threshold {args.threshold}{'' if args.no_cache else ' + prefix cache'}; "
          f"threads {torch.get_num_threads()}")
    print("\n== model as loaded ==")
    tables = {"model as loaded": run_table(args, overrides, problems, 1.0)}
    if args.head_scale != 1.0:
        print(f"\n== LM head x{args.head_scale:g} (sharpened stand-in for a trained model) ==")
        tables[f"sharpened stand-in (head x{args.head_scale:g})"] = run_table(args, overrides, problems, args.head_scale)
    print()
    for label, rows in tables.items():
        print(summary(label, rows))


if __name__ == "__main__":
    main()
