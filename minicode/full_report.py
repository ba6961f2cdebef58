"""The full minicode report (scripts/minicode.sh --full): each paper's table in miniature beside the paper's numbers.

Reads what the entry points wrote under RUN_DIR (see minicode/full.sh for the layout); runs no model.
Every number is as measured; the paper columns are the papers' own (other models, other benchmarks), for orientation.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from minicode.figures import (
    MAIN_STAGES,
    eval_figures,
    paired_gain,
    read_json,
    read_metrics,
    rl_figures,
    sft_figures,
    stage_seconds,
)
from minicode.summary import summary

# TreeDiff (seed 002), LLaDA-8B-Instruct at T=512: HE+ / MBPP+ pass@1 %
TREEDIFF_PAPER = {"uniform": "32.3 / 32.8", "ast": "36.6 / 33.3", "ast-span": "? / 31.5 (MBPP 39.7 vs 41.5 random)"}
TRACE_PAPER = {"no-repair": 19.84, "global-low-confidence": 19.84, "best-of-2": 9.52, "trace-guided": 31.22,
               "core-reimpl": 26.98}

TRACE_ORDER = ("no-repair", "global-low-confidence", "core-reimpl", "best-of-2", "trace-guided")  # then ablations


def binomial_halfwidth(pct: float, n: int) -> float:
    """95% normal-approximation half-width of a pass@1 in percent (the seed-to-seed noise we cannot average out)."""
    p = pct / 100
    return 100 * 1.96 * math.sqrt(max(p * (1 - p), 1e-12) / max(n, 1))


def _pass(figs: dict | None, strategy: str = "no-repair") -> tuple[float, int] | None:
    e = (figs or {}).get(strategy)
    return (e["pass@1"], e["problems"]) if e else None


def _pass_cell(res: tuple[float, int] | None) -> str:
    """A pass@1 with its 95% half-width and problem count, as every minicode table prints it."""
    return f"{res[0]:.1f} (± {binomial_halfwidth(*res):.1f}, n={res[1]})" if res else "not run"


def treediff_table(run: Path) -> list[str]:
    lines = ["| masker (curriculum schedule) | SFT steps | final loss | no-repair pass@1 % (95% CI) | paper HE+ / MBPP+ (LLaDA-8B, T=512) |",
             "|---|---|---|---|---|"]
    for masker, sft_dir, eval_dir in (("uniform", "sft", "eval"), ("ast", "sft-ast", "eval-sft-ast"),
                                      ("ast-span", "sft-ast-span", "eval-sft-ast-span")):
        sft, res = sft_figures(run / sft_dir), _pass(eval_figures(run / eval_dir))
        if sft is None or res is None:
            lines.append(f"| {masker} | not run | | | {TREEDIFF_PAPER[masker]} |")
            continue
        lines.append(f"| {masker} | {sft['steps']} | {sft['loss_last']:.3f} | {_pass_cell(res)} "
                     f"| {TREEDIFF_PAPER[masker]} |")
    return lines


def full_recipe_table(run: Path) -> list[str]:
    """The full recipe (stage `full`): the main job's SFT config at more steps, no-repair and trace-guided pass@1."""
    sft, figs = sft_figures(run / "sft-full"), eval_figures(run / "eval-sft-full")
    lines = ["| SFT steps | final loss | tokens/s | no-repair pass@1 % (95% CI) | trace-guided pass@1 % (95% CI) "
             "| trace-guided NFE / problem |", "|---|---|---|---|---|---|"]
    if sft is None or figs is None:
        return lines + ["| not run | | | | | |"]
    cells = [_pass_cell(_pass(figs, strategy)) for strategy in ("no-repair", "trace-guided")]
    nfe = figs.get("trace-guided", {}).get("nfe_per_problem", "")
    return lines + [f"| {sft['steps']} | {sft['loss_last']:.4f} | {sft['tokens_per_s_median']} | {cells[0]} "
                    f"| {cells[1]} | {nfe} |"]


ESTIMATORS = (("coupled", 2), ("independent", 2), ("d1", 2))  # minicode/full.sh: name, forward passes per estimate
RL_SEEDS = (0, 1)


def estimator_table(run: Path) -> tuple[list[str], dict[str, list[dict]]]:
    """Per estimator and seed: probe reward first -> last (greedy, held-out rl prompts), and held-out no-repair pass@1
    of the RL model paired against the SFT model on the same problems (McNemar b / c / p)."""
    lines = ["| estimator | passes | seed | RL steps | probe reward start -> end | no-repair pass@1 % SFT -> RL "
             "(change) | McNemar b / c, p |", "|---|---|---|---|---|---|---|"]
    curves = {}
    for name, passes in ESTIMATORS:
        for seed in RL_SEEDS:
            tag = f"{name}-s{seed}"
            rl = rl_figures(run / f"rl-{tag}")
            curves[tag] = read_metrics(run / f"rl-{tag}" / "metrics.jsonl")
            gain = paired_gain(run / "eval", run / f"eval-rl-{tag}") if (run / f"eval-rl-{tag}").exists() else None
            if rl is None:
                lines.append(f"| {name} | {passes} | {seed} | not run | | | |")
                continue
            cells = (f"{gain['before']} -> {gain['after']} ({gain['change_points']:+.1f})",
                     f"{gain['b']} / {gain['c']}, {gain['p_exact']:.3g}") if gain else ("not evaluated", "")
            lines.append(f"| {name} | {passes} | {seed} | {rl['steps']} | {rl['probe_first']} -> {rl['probe_last']} "
                         f"| {cells[0]} | {cells[1]} |")
    return lines, curves


def reward_figure(curves: dict[str, list[dict]], path: Path) -> None:
    """Training reward (noisy: new prompts every step) and probe reward (fixed held-out prompts) per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for tag, rows in curves.items():
        style = "-" if tag.endswith("s0") else "--"
        for ax, key in zip(axes, ("reward", "probe/reward")):
            points = [(r["step"], r[key]) for r in rows if key in r]
            if points:
                ax.plot(*zip(*points), style, label=tag)
    axes[0].set(xlabel="RL step", ylabel="mean reward (code x2 + format x0.5)", title="training reward")
    axes[1].set(xlabel="RL step", ylabel="probe reward", title="probe: held-out rl prompts, greedy")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# CodeFusion (seed 001), 45M CF denoiser + decoder, Python: Table 1 any / best / vote % (sketch, execution) and
# Table 3 pass@1 / 3 / 5; its Python snippets have no ground truth, so these two columns use BIFI's criterion.
CODEFUSION_PAPER = ("65.3 / 60.4 / 61.2", "68.1 / 62.0 / 62.4", "68.1 / 70.5 / 72.4")
CF_MODELS = (("sft", "SFT model (no repair training)"), ("repair-sft-diffusion", "+ diffusion pairs"),
             ("repair-sft-rule", "+ rule-based pairs"))


def _cf_cells(m: dict | None) -> list[str]:
    """A metric of repair.resume_repair: any% (95% half-width) / best% / vote% with its n, and pooled pass@1/3/5."""
    if not m or not m.get("programs"):
        return ["no scorable program (n=0)", ""]
    n, pct = m["programs"], {k: 100 * m[k] for k in ("any", "best", "vote")}
    pk = " / ".join(f"{100 * m['pooled'][k]:.1f}" if k in m["pooled"] else "?" for k in ("pass@1", "pass@3", "pass@5"))
    return [f"{pct['any']:.1f} (± {binomial_halfwidth(pct['any'], n):.1f}) / {pct['best']:.1f} / {pct['vote']:.1f} "
            f"(n={n})", pk]


def codefusion_table(run: Path) -> list[str]:
    """Noise-and-resume repair on syntactically invalid programs only: execution and sketch match (the paper's
    metrics, repair/lastmile.py), each with its n, and the old last-mile criterion, labelled."""
    lines = ["| repair model | broken programs: invalid scored of rows (parseable dropped) | execution match % any "
             "(95% CI) / best / vote (n) | execution pass@1 / 3 / 5 | sketch match % any (95% CI) / best / vote (n) "
             "| sketch pass@1 / 3 / 5 | old criterion any % (BIFI: parses, edit distance <= 4) |",
             "|---|---|---|---|---|---|---|"]
    for model, label in CF_MODELS:
        for test in ("diffusion", "rule"):
            s = read_json(run / f"cf_resume_{model}_on_{test}.jsonl.summary.json")
            if s is None or "execution_match" not in s:
                lines.append(f"| {label} | {test} | {'not run' if s is None else 'old summary: rerun the stage'} "
                             "| | | | |")
                continue
            t, old = s["test_set"], s["last_mile_old"]
            old_cell = f"{100 * old['any']:.1f} (n={old['programs']})" if old["programs"] else "n=0"
            lines.append(f"| {label} | {test}: {t['programs']} of {t['input_rows']} ({t['dropped_parseable']}) | "
                         + " | ".join(_cf_cells(s["execution_match"]) + _cf_cells(s["sketch_match"]))
                         + f" | {old_cell} |")
    sketch, execution, pk = CODEFUSION_PAPER
    lines.append(f"| paper: CodeFusion 45M, Python (BIFI criterion) | 200 invalid | {execution} | {pk} | {sketch} "
                 "| | |")
    return lines


def fast_table(s: dict) -> list[str]:
    lines = ["| sampler | no-repair pass@1 % | NFE / problem | completion tokens / s (incl. tests) |", "|---|---|---|---|"]
    for name, e in s["fast_modes"].items():
        lines.append(f"| {name} | {e['pass@1']} | {e['nfe_per_problem']} | {e['tokens_per_s']} |" if e
                     else f"| {name} | not run | | |")
    return lines


def write_full_report(run: Path) -> Path:
    main = read_json(run / "summary.json") or summary(run, str(run / "sft/final/merged"),
                                                       str(run / "rl/final/merged"), [])
    cfg = read_json(run / "eval" / "config.json") or {}
    full_stages = {k: v for k, v in stage_seconds(run, None).items() if k not in MAIN_STAGES}
    md = ["# minicode: the papers in miniature", "",
          f"Run directory `{run}`; evaluation command: `{cfg.get('command', '?')}`.", "",
          "Every number is measured on this run (one SFT seed; 200 held-out eval problems, so a pass@1 near 50% has a "
          "95% interval of about ±7 points: differences below that are noise). Paper columns are the papers' own "
          "results on their models and benchmarks, for orientation only.", "",
          f"Main job wall time {main['total_seconds'] / 60:.1f} min; stages (s): {main['stage_seconds']}; "
          f"--full stages (s): {full_stages}", ""]
    md += ["## The full recipe: the main job's SFT config at more steps", "",
           "Trained from the same model, data order and seed as the main job, cosine to 0 over all its steps; the tables "
           "below use the main job's SFT model.", ""] + full_recipe_table(run) + [""]
    md += ["## TreeDiff Table 1: forward process at equal steps", ""] + treediff_table(run) + [""]
    trace = run / "eval" / "report.md"
    md += ["## Trace-guided repair Tables 1-3, McNemar, localization, edit distance", "",
           f"The full evaluation report is [{trace.relative_to(run)}]({trace.relative_to(run)}); Table 1 here:", ""]
    figs = eval_figures(run / "eval") or {}
    md += ["| strategy | pass@1 % | NFE / problem | paper MBPP+ pass@1 (LLaDA-8B-Base) |", "|---|---|---|---|"]
    order = [k for k in TRACE_ORDER if k in figs] + sorted(k for k in figs if k not in TRACE_ORDER)
    md += [f"| {k} | {figs[k]['pass@1']} | {figs[k]['nfe_per_problem']} | {TRACE_PAPER.get(k, '')} |" for k in order]
    est, curves = estimator_table(run)
    reward_figure(curves, run / "figure_rl_rewards.png")
    md += ["", "## DiffuCoder: log-prob estimators in coupled-GRPO", "", *est, "",
           "![rewards](figure_rl_rewards.png)", ""]
    md += ["## CodeFusion: noise-and-resume repair after repair SFT on diffusion vs rule-based pairs", "",
           "Scored as the paper scores last-mile repair (repair/lastmile.py quotes its definitions): only held-out "
           "programs that do not parse; execution match = the repair parses and passes the problem's tests (rows "
           "with tests), sketch match = it equals the known fixed program up to names and literals (rows with a "
           "fixed program); pooled over noise levels (any / best / vote, pass@k as the paper's Tables 1 and 3). "
           "The last column is the old criterion, kept for comparison only. Pair statistics: cf_pair_stats.json, "
           "cf_pair_stats.png.", ""]
    md += codefusion_table(run) + [""]
    md += ["## Fast-dLLM: sampler modes on the SFT model", ""] + fast_table(main) + [""]
    (run / "report.md").write_text("\n".join(md))
    (run / "report.json").write_text(json.dumps({"main": main}, indent=2))
    return run / "report.md"
