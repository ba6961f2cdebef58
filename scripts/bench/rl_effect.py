"""RL's effect measured against its lr = 0 control (issue 31): paired per-step training reward differences, the probe
curves of both runs, and held-out no-repair pass@1 before and after RL with the exact McNemar test.

    python scripts/bench/rl_effect.py --model runs/minicode/sft/final/merged --config configs/rl/minicode.yaml \\
        --steps 40 --eval-num 400 --eval-seed 1 --out runs/rl_effect/minicode [key=value ...]

What it runs, each piece skipped when its output is complete (a rerun resumes; a half-done launch resumes from its
own checkpoint, a half-done evaluation from its rows):
1. the eval problems: --eval-problems FILE, or --eval-num problems of minicode's eval split (--eval-seed) -> OUT/eval.jsonl;
2. two launches of the real entry point `deepspeed --num_gpus N rl/grpo.py --config CONFIG model=MODEL max_steps=STEPS
   probe.num_prompts=P probe.every=E [key=value ...]`: OUT/rl, and OUT/control with optim.lr=0. Same config and seed,
   so both see the same prompts in the same order with the same sampler and mask seeds; the control's policy stays
   the starting model, so step 1 is identical in both and later differences are the updates' doing;
3. `python -m repair.evaluate --strategies no-repair` with the plain sampler (temperature 0, no threshold, no cache;
   generation length = steps = block = the config's max_completion_length unless --gen-length) on the same problems
   and seeds: the starting model (OUT/eval_before) and the trained model's merged export (OUT/eval_after).
Then it prints every figure beside its settings and writes OUT/summary.json and OUT/rl_effect.png.

Reading it: the per-step difference pairs the same prompts and seeds, so prompt difficulty cancels out of it (with lr = 0
the per-step reward itself has sd ~0.27 on minicode); its SE treats the steps as independent. The probe is greedy on
prompts held out of training: the control's probe line is flat, so any move of the trained run's line is the update's.
Overfit check (issue 31 item 0): add `data.max_problems=128` (with the 64 probe prompts held out of them, 64 fixed
training prompts seen again and again): the paired training reward must then rise clearly above 0, even where
nothing transfers to the probe or to held-out problems.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from data.usage import UsageError, check_options, number_list, run_cli  # noqa: E402
from repair.report import mcnemar, pooled_discordant  # noqa: E402
from repair.run_files import load_runs  # noqa: E402
from train.metrics import read_metrics  # noqa: E402

STRATEGY = "no-repair"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/bench/rl_effect.py", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="the starting model (merged dir); also the 'before' of pass@1")
    p.add_argument("--config", required=True, help="the GRPO recipe, e.g. configs/rl/minicode.yaml")
    p.add_argument("--steps", type=int, default=40, help="max_steps of both launches")
    p.add_argument("--out", required=True, help="output directory (rerun with the same --out to resume)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--eval-problems", help="held-out problems jsonl (evalplus schema or assert-style)")
    source.add_argument("--eval-num", type=int, default=400, help="else: this many minicode eval-split problems")
    p.add_argument("--eval-seed", type=int, default=1, help="minicode generator seed of those problems")
    p.add_argument("--eval-seeds", default="0", help="repair.evaluate --seeds (McNemar pools over them)")
    p.add_argument("--gen-length", type=int, default=None, help="default: the config's max_completion_length")
    p.add_argument("--eval-batch-size", type=int, default=8)
    p.add_argument("--eval-workers", type=int, default=2)
    p.add_argument("--probe-prompts", type=int, default=64, help="probe.num_prompts of both launches")
    p.add_argument("--probe-every", type=int, default=5, help="probe.every of both launches")
    p.add_argument("--num-gpus", type=int, default=2, help="ranks of each launch (CPU ranks where there is no GPU)")
    p.add_argument("--master-port", type=int, default=29500)
    p.add_argument("--no-control", action="store_true",
                   help="skip the lr = 0 launch (a recipe search ranked on held-out pass@1 alone; no paired reward)")
    p.add_argument("overrides", nargs="*", help="key=value overrides of the recipe (both launches)")
    args = p.parse_args(argv)
    check_options(args, positive=("steps", "eval_num", "eval_batch_size", "eval_workers", "probe_every", "num_gpus"),
                  non_negative=("probe_prompts",))
    number_list(args.eval_seeds, "--eval-seeds")
    bad = [o for o in args.overrides if "=" not in o]
    if bad:
        raise UsageError(f"overrides must be key=value, got {bad}")
    return args


# ---- pure statistics ----
def paired_differences(rl: list[dict], control: list[dict], key: str = "reward") -> list[dict]:
    """{step, rl, control, diff} for every step both runs logged `key` at."""
    theirs = {r["step"]: r[key] for r in control if key in r}
    return [{"step": r["step"], "rl": r[key], "control": theirs[r["step"]], "diff": r[key] - theirs[r["step"]]}
            for r in rl if key in r and r["step"] in theirs]


def mean_se(values: list[float]) -> tuple[float, float]:
    """(mean, standard error = sample sd / sqrt(n)); SE is nan below 2 values."""
    if not values:
        return math.nan, math.nan
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.nan
    return statistics.fmean(values), se


def probe_curves(rl: list[dict], control: list[dict]) -> list[dict]:
    """{step, reward_rl, reward_control, pass_rl, pass_control} at the steps both runs probed."""
    rewards = paired_differences(rl, control, "probe/reward")
    passes = {d["step"]: d for d in paired_differences(rl, control, "probe/pass_rate")}
    return [{"step": d["step"], "reward_rl": d["rl"], "reward_control": d["control"],
             "pass_rl": passes.get(d["step"], {}).get("rl"), "pass_control": passes.get(d["step"], {}).get("control")}
            for d in rewards]


def held_out(before: dict, after: dict) -> dict:
    """pass@1 before / after over the seeds both ran, with the exact McNemar test on the pooled discordant pairs
    (repair.report's functions; b = passes after RL only, c = passes before only)."""
    runs = {("after", seed): rows for (s, seed), rows in after.items() if s == STRATEGY}
    runs.update({("before", seed): rows for (s, seed), rows in before.items() if s == STRATEGY})
    b, c, seeds = pooled_discordant(runs, "before", reference="after")
    out = {"seeds": seeds, "mcnemar": asdict(mcnemar(b, c))}
    for name in ("before", "after"):
        rows = [r for seed in seeds for r in runs[(name, seed)]]
        passed = sum(bool(r["passed"]) for r in rows)
        out[name] = {"passed": passed, "n": len(rows), "pass@1": passed / len(rows) if rows else math.nan}
    out["change_points"] = 100 * (out["after"]["pass@1"] - out["before"]["pass@1"])
    return out


def summarize(rl: list[dict], control: list[dict], before: dict, after: dict, settings: dict) -> dict:
    paired = paired_differences(rl, control)
    mean, se = mean_se([d["diff"] for d in paired])
    return {"settings": settings, "paired_reward": {"mean": mean, "se": se, "n": len(paired), "steps": paired},
            "probe": probe_curves(rl, control), "held_out": held_out(before, after) if before and after else None}


# ---- printing and plotting ----
def _f(x: float | None, fmt: str = ".3f") -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def report_lines(summary: dict) -> list[str]:
    s = summary["settings"]
    run = (f"{s['config']} from {s['model']}, {s['steps']} steps x {s['prompts_per_step']} prompts x "
           f"{s['num_generations']} rollouts (ranks: {s['ranks']}), lr {s['lr']}, seed {s['seed']}, "
           f"overrides {s['overrides'] or 'none'}")
    lines = [f"rl      = {run}", "control = the same launch with optim.lr=0", "",
             "training reward per step (same prompts and sampler seeds in both runs):",
             f"  {'step':>5} {'rl':>8} {'control':>8} {'rl-ctrl':>8}"]
    lines += [f"  {d['step']:5d} {d['rl']:8.3f} {d['control']:8.3f} {d['diff']:+8.3f}"
              for d in summary["paired_reward"]["steps"]]
    p = summary["paired_reward"]
    lines.append(f"paired reward difference rl - control [{p['n']} steps, {s['prompts_per_step']} prompts x "
                 f"{s['num_generations']} rollouts a step, lr {s['lr']} vs 0]: {_f(p['mean'], '+.3f')} +- "
                 f"{_f(p['se'])} (mean +- SE)")
    lines += ["", f"probe [{s['probe_prompts']} prompts held out of training, temperature {s['probe_temperature']}, "
              f"every {s['probe_every']} steps]:",
              f"  {'step':>5} {'reward rl':>10} {'control':>8} {'diff':>8} {'pass rl':>8} {'control':>8}"]
    lines += [f"  {c['step']:5d} {c['reward_rl']:10.3f} {c['reward_control']:8.3f} "
              f"{c['reward_rl'] - c['reward_control']:+8.3f} {_f(c['pass_rl'], '8.1%')} {_f(c['pass_control'], '8.1%')}"
              for c in summary["probe"]]
    h = summary["held_out"]
    if h is None:
        return lines + ["", "held-out pass@1: not evaluated"]
    m = h["mcnemar"]
    lines += ["", f"held-out no-repair pass@1 [{h['before']['n'] // max(1, len(h['seeds']))} problems of "
              f"{s['eval_problems']}, seeds {h['seeds']}, plain sampler: gen {s['gen_length']} / steps "
              f"{s['gen_length']} / block {s['gen_length']}, temperature 0]:",
              f"  before ({s['before_model']}): {h['before']['pass@1']:.1%} ({h['before']['passed']}/{h['before']['n']})",
              f"  after  ({s['after_model']}): {h['after']['pass@1']:.1%} ({h['after']['passed']}/{h['after']['n']})"
              f"   change {h['change_points']:+.1f} points",
              f"  McNemar pooled over seeds {h['seeds']}: b = {m['b']} (pass after RL only), c = {m['c']} (before "
              f"only), exact p = {m['p_exact']:.3g} (chi2 {m['chi2']:.2f}, p = {m['p_chi2']:.3g})"]
    return lines


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    p, s = summary["paired_reward"], summary["settings"]
    x = [d["step"] for d in p["steps"]]
    for key, style in (("rl", "-"), ("control", "--")):
        axes[0].plot(x, [d[key] for d in p["steps"]], style, marker=".", label=key)
    axes[0].set(title="training reward per step (same prompts, seeds)", xlabel="step", ylabel="reward")
    axes[1].plot(x, [d["diff"] for d in p["steps"]], marker=".", label="rl - control")
    axes[1].axhline(p["mean"], color="k", lw=1, label=f"mean {_f(p['mean'], '+.3f')} +- {_f(p['se'])} SE")
    axes[1].axhline(0, color="grey", lw=0.5)
    axes[1].set(title="paired reward difference", xlabel="step", ylabel="reward difference")
    probe = summary["probe"]
    for key, style in (("reward_rl", "-"), ("reward_control", "--")):
        axes[2].plot([c["step"] for c in probe], [c[key] for c in probe], style, marker="o",
                     label=key.replace("reward_", ""))
    axes[2].set(title=f"probe reward ({s['probe_prompts']} held-out prompts, T={s['probe_temperature']})",
                xlabel="step", ylabel="reward")
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- launches ----
def resolved_config(args: argparse.Namespace, overrides: list[str]):
    """The recipe as rl/grpo.py will resolve it (a bad key or value fails here, before any launch)."""
    from rl import grpo
    from train.config import load_config

    return load_config(grpo.Config, ["--config", args.config, *overrides])


def launch_overrides(args: argparse.Namespace, name: str) -> list[str]:
    """key=value list of one launch: ours, then the user's (they win), then what must differ between the two."""
    ours = [f"model={args.model}", f"max_steps={args.steps}", f"probe.num_prompts={args.probe_prompts}",
            f"probe.every={args.probe_every}"]
    last = [f"output_dir={Path(args.out) / name}", f"run_name=rl_effect-{name}"]
    last += ["export_merged=true"] if name == "rl" else ["optim.lr=0.0"]
    return ours + list(args.overrides) + last


def _run(name: str, cmd: list[str]) -> None:
    print(f"[{name}] {' '.join(cmd)}", flush=True)
    rc = subprocess.run(cmd, cwd=REPO).returncode
    if rc:
        raise UsageError(f"[{name}] exited with status {rc} (its output is above); rerun the same command to resume")


def launch_done(run_dir: Path, steps: int) -> bool:
    rows = read_metrics(run_dir)
    return (run_dir / "final").is_dir() and any(r["step"] == steps and "reward" in r for r in rows)


def launch(args: argparse.Namespace, name: str) -> None:
    run_dir = Path(args.out) / name
    if launch_done(run_dir, args.steps):
        print(f"[{name}] done: {run_dir}, skipped")
        return
    cmd = ["deepspeed", "--log_level=warning", "--num_gpus", str(args.num_gpus), "--master_port",
           str(args.master_port), "rl/grpo.py", "--config", args.config, *launch_overrides(args, name)]
    _run(name, cmd)


def eval_problems(args: argparse.Namespace) -> Path:
    if args.eval_problems:
        return Path(args.eval_problems)
    path = Path(args.out) / "eval.jsonl"
    if not path.exists():
        from data.minicode import generate_problems

        rows = generate_problems("eval", args.eval_num, args.eval_seed)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        tmp.replace(path)
    return path


def evaluate(args: argparse.Namespace, model: str, out: Path, problems: Path, gen_length: int) -> dict:
    """repair.evaluate's no-repair rows {(strategy, seed): rows}; runs it unless every seed has every problem."""
    n = sum(1 for line in problems.read_text().splitlines() if line.strip())
    seeds = number_list(args.eval_seeds, "--eval-seeds")
    runs = load_runs(out)
    if all(len(runs.get((STRATEGY, seed), [])) == n for seed in seeds):
        print(f"[eval] done: {out}, skipped")
        return runs
    cmd = [sys.executable, "-m", "repair.evaluate", "--model", model, "--problems", str(problems), "--out", str(out),
           "--strategies", STRATEGY, "--seeds", args.eval_seeds, "--gen-length", str(gen_length), "--block-length",
           str(gen_length), "--steps", str(gen_length), "--temperature", "0", "--batch-size",
           str(args.eval_batch_size), "--workers", str(args.eval_workers)]
    _run(f"eval {out.name}", cmd)
    return load_runs(out)


def settings_of(args: argparse.Namespace, cfg, problems: Path, gen_length: int) -> dict:
    before = cfg.init_adapter or cfg.model
    return {"model": args.model, "config": args.config, "overrides": list(args.overrides), "steps": args.steps,
            "ranks": args.num_gpus, "prompts_per_step": args.num_gpus * cfg.prompts_per_rank,
            "num_generations": cfg.num_generations, "lr": cfg.optim.lr, "seed": cfg.seed,
            "probe_prompts": cfg.probe.num_prompts, "probe_every": cfg.probe.every,
            "probe_temperature": cfg.probe.temperature, "eval_problems": str(problems), "eval_seeds": args.eval_seeds,
            "gen_length": gen_length, "before_model": before, "after_model": str(Path(args.out) / "rl/final/merged")}


def _no_nan(x):
    """JSON has no NaN: an undefined figure (an SE of one value) is written as null."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _no_nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_no_nan(v) for v in x]
    return x


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = resolved_config(args, launch_overrides(args, "rl"))
    resolved_config(args, launch_overrides(args, "control"))
    problems = eval_problems(args)
    gen_length = args.gen_length or cfg.max_completion_length
    settings = settings_of(args, cfg, problems, gen_length)
    for name in ("rl",) if args.no_control else ("rl", "control"):
        launch(args, name)
    before = evaluate(args, settings["before_model"], out / "eval_before", problems, gen_length)
    after = evaluate(args, settings["after_model"], out / "eval_after", problems, gen_length)
    summary = summarize(read_metrics(out / "rl"), read_metrics(out / "control"), before, after, settings)
    print("\n".join(report_lines(summary)))
    (out / "summary.json").write_text(json.dumps(_no_nan(summary), indent=2))
    plot(summary, out / "rl_effect.png")
    print(f"summary -> {out / 'summary.json'}, plot -> {out / 'rl_effect.png'}")
    return summary


if __name__ == "__main__":
    run_cli(main)
