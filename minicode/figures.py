"""The figures of one minicode run, read from what the entry points wrote; runs no model.

metrics.jsonl of SFT / RL, results.json and config.json of repair.evaluate, the stage timings of minicode/main.sh
and minicode/full.sh (RUN/stages/NAME). The lowest module of the minicode recipe: summary.py and full_report.py build
on it.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def read_metrics(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


MAIN_STAGES = ("model", "sft", "eval", "rl", "synth", "fast")  # minicode/main.sh; --full adds its own stages


def stage_seconds(run: Path, names: tuple[str, ...] | None = MAIN_STAGES) -> dict[str, int]:
    """Wall seconds of the finished stages (RUN/stages/NAME), the main job's by default, None: all."""
    stages = run / "stages"
    found = {p.name: int(p.read_text().strip() or 0) for p in sorted(stages.iterdir())} if stages.exists() else {}
    return found if names is None else {k: v for k, v in found.items() if k in names}


def sft_figures(run_dir: Path) -> dict | None:
    rows = read_metrics(run_dir / "metrics.jsonl")
    if not rows:
        return None
    speeds = [r["tokens_per_s"] for r in rows if r.get("tokens_per_s")]
    return {"steps": rows[-1]["step"], "loss_first": rows[0]["loss"], "loss_last": rows[-1]["loss"],
            "tokens_per_s_median": round(statistics.median(speeds)) if speeds else None}


def eval_figures(out: Path) -> dict | None:
    """pass@1 %, NFE per problem and completion tokens/s (gen length x problems / wall seconds) per strategy."""
    results, config = read_json(out / "results.json"), read_json(out / "config.json") or {}
    if results is None:
        return None
    figures = {}
    for name, e in results["strategies"].items():
        problems = sum(s["problems"] for s in e["seeds"].values())
        figures[name] = {"pass@1": round(e["pass@1_mean"], 2), "problems": problems,
                         "nfe_per_problem": round(e["nfe_mean"], 1), "seconds": e["seconds_total"],
                         "tokens_per_s": round(problems * config.get("gen_length", 0) / max(e["seconds_total"], 1e-9), 1)}
    return figures


def paired_gain(before_out: Path, after_out: Path, strategy: str = "no-repair") -> dict | None:
    """pass@1 % of `strategy` in two repair.evaluate runs on the same problems and seeds, its change in points and
    the exact McNemar test on the discordant problems pooled over the seeds both ran (b: passes after only)."""
    from repair.report import mcnemar, pooled_discordant
    from repair.run_files import load_runs

    runs = {("before", seed): rows for (s, seed), rows in load_runs(before_out).items() if s == strategy}
    runs.update({("after", seed): rows for (s, seed), rows in load_runs(after_out).items() if s == strategy})
    b, c, seeds = pooled_discordant(runs, "before", reference="after")
    if not seeds:
        return None
    rates = {}
    for name in ("before", "after"):
        rows = [r for seed in seeds for r in runs[(name, seed)]]
        rates[name] = round(100 * sum(bool(r["passed"]) for r in rows) / len(rows), 2)
    m = mcnemar(b, c)
    return {**rates, "change_points": round(rates["after"] - rates["before"], 2), "problems": len(runs[("after", seeds[0])]),
            "seeds": seeds, "b": b, "c": c, "p_exact": m.p_exact}


def rl_figures(run_dir: Path, window: int = 3) -> dict | None:
    rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if "reward" in r]
    if not rows:
        return None
    first, last = rows[:window], rows[-window:]
    probes = [r["probe/reward"] for r in read_metrics(run_dir / "metrics.jsonl") if "probe/reward" in r]
    return {"steps": rows[-1]["step"], "reward_first": round(statistics.fmean(r["reward"] for r in first), 4),
            "reward_last": round(statistics.fmean(r["reward"] for r in last), 4),
            "probe_first": round(probes[0], 4) if probes else None,
            "probe_last": round(probes[-1], 4) if probes else None,
            "seconds_per_step_median": round(statistics.median(
                sum(v for k, v in r.items() if k.startswith("time/")) for r in rows), 2)}
