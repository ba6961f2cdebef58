"""The full minicode report (scripts/minicode.sh --full): each paper's table in miniature beside the paper's numbers.

Reads what the entry points wrote under RUN_DIR (see minicode/full.sh for the layout); runs no model.
Every number is as measured; the paper columns are the papers' own (other models, other benchmarks), for orientation.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from minicode import full_plots, full_tables
from minicode.figures import (
    eval_figures,
    paired_gain,
    read_json,
    read_metrics,
    rl_figures,
    sft_figures,
    stage_seconds,
)
from minicode.full_tables import ESTIMATORS, RL_SEEDS, seeds_on_disk
from minicode.stats import ci_cell, diff_cell, interval, min_detectable_difference, paired_difference


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


def estimator_table(run: Path) -> tuple[list[str], dict[str, list[dict]]]:
    """Per estimator and seed: probe reward first -> last (greedy, held-out rl prompts), and held-out no-repair pass@1
    of the RL model paired against the SFT model on the same problems (McNemar b / c / p)."""
    lines = ["| estimator | passes | seed | RL steps | probe reward start -> end | no-repair pass@1 % SFT -> RL "
             "(change) | McNemar b / c, p |", "|---|---|---|---|---|---|---|"]
    curves = {}
    for name, passes in ESTIMATORS:
        for seed in seeds_on_disk(run, "rl-*", RL_SEEDS):
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


# CodeFusion (seed 001), 45M CF denoiser + decoder, Python: Table 1 any / best / vote % (sketch, execution) and
# Table 3 pass@1 / 3 / 5; its Python snippets have no ground truth, so these two columns use BIFI's criterion.
CODEFUSION_PAPER = ("65.3 / 60.4 / 61.2", "68.1 / 62.0 / 62.4", "68.1 / 70.5 / 72.4")
CF_ARMS = (("sft", "SFT model (no repair training)"), ("diffusion", "+ diffusion pairs"),
           ("rule", "+ rule-based pairs"))


def cf_models(run: Path, arm: str) -> list[str]:
    """The repair models of an arm: the SFT model, or the repair SFT of each seed with a resume run
    (repair-sft-KIND-sSEED, in seed order)."""
    if arm == "sft":
        return ["sft"]
    found = {p.name.removeprefix("cf_resume_").split("_on_")[0]
             for p in run.glob(f"cf_resume_repair-sft-{arm}-s*_on_*.jsonl")}
    return sorted(found, key=lambda m: int(m.rsplit("-s", 1)[1]))


def _cf_label(arm_label: str, model: str) -> str:
    return f"{arm_label}, seed {model.rsplit('-s', 1)[1]}" if model.startswith("repair-sft-") else arm_label


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
    for model, label in ((m, _cf_label(label, m)) for arm, label in CF_ARMS for m in cf_models(run, arm) or [arm]):
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



def _commit() -> str:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def settings_lines(run: Path) -> list[str]:
    """The --full knobs of the run (RUN/full_settings.json, written by minicode/full.sh), loudly if overridden."""
    knobs = read_json(run / "full_settings.json")
    if not knobs:
        return []
    lines = ["Settings (minicode/full.sh knobs): " + ", ".join(f"{k}={v!r}" for k, v in knobs.items()) + "."]
    if knobs.get("SFT_ARGS") or knobs.get("RL_ARGS"):
        lines[0] += (" **SFT_ARGS / RL_ARGS override the recipes: a wiring check, whose figures mean nothing.**")
    return lines + [""]


def header(run: Path) -> list[str]:
    """Run, commit, timings and the power statement every section's intervals and tests refer to."""
    cfg = read_json(run / "eval" / "config.json") or {}
    stages = stage_seconds(run, None)
    pairs, p = 3 * 400, 0.45
    bound, typical = min_detectable_difference(pairs, 2 * p * (1 - p)), min_detectable_difference(pairs, 0.2)
    return ["# minicode: the papers in miniature", "",
            f"Run directory `{run}`, written at commit {_commit()}; evaluation command of the SFT model: "
            f"`{cfg.get('command', '?')}`.", "",
            "How to read it. Every figure is measured on this run; paper columns are the papers' own results on their "
            "models and benchmarks, for orientation. A pass@1 is the mean over seeds x problems with a 95% percentile "
            "bootstrap interval that resamples seeds and problems (per seed figures in parentheses; with 3 seeds the "
            "seed level is crude). A comparison gives the paired difference with its bootstrap interval (one resample "
            "shared by both arms), McNemar's exact test on the discordant (seed, problem) pairs pooled over seeds "
            "(it holds the trained models fixed: training-seed spread is in the interval, not in p), and the smallest "
            "difference that many pairs detect at 80% power and two-sided 5%, at the pair's measured discordance.",
            "", f"Power at this size: 3 seeds x 400 problems = {pairs} pairs at pass@1 ~45% detect {bound:.1f} points "
            f"when the two arms agree on no problem beyond chance (discordance 2p(1-p) = {2 * p * (1 - p):.2f}, the "
            f"unpaired bound) and {typical:.1f} points when 20% of pairs are discordant; one seed x 400: "
            f"{min_detectable_difference(400, 2 * p * (1 - p)):.1f} / {min_detectable_difference(400, 0.2):.1f}.", "",
            *settings_lines(run),
            f"Wall time of the finished stages {sum(stages.values()) / 3600:.2f} h; per stage (s): {stages}.", ""]


def treediff_section(run: Path, data: dict) -> list[str]:
    table, data["treediff"] = full_tables.treediff_table(run)
    fig = full_plots.treediff_figure(data["treediff"]["intervals"], run / "figure_treediff.png")
    return (["## 1. TreeDiff: uniform vs AST vs AST-span masking, continued from one base", "",
             "As the paper, every arm starts from the same pretrained model (the paper: LLaDA-8B-Instruct, pretrained "
             "with uniform masking; here a base trained with uniform masking on half of minicode's families) and "
             "differs only in the forward process of its continued training, on families the base never saw "
             "(`python -m minicode.families`); each arm at 3 training seeds (mask draws and data order), evaluated "
             "with the plain sampler (one token per step) on fresh eval problems of the new families.", ""]
            + table + ([""] + ["![treediff](figure_treediff.png)"] if fig else [])
            + ["", "Masked CE per AST tier on the same held-out programs (`python -m train.tier_ce`, uniform masks at "
               "rates 0.1-0.9, the same masks for every model; paired differences to the uniform arm of the same "
               "seed with 95% bootstrap intervals over rows). The review's question: ast masks the skeleton tier "
               "(constants, punctuation) less often than uniform; if that explains a pass@1 gap, the ast arm's "
               "skeleton CE is higher than the uniform arm's while the other tiers are not.", ""]
            + full_tables.tier_ce_table(run) + [""])


def trace_section(run: Path) -> list[str]:
    report = run / "eval" / "report.md"
    return (["## 2. Trace-guided repair: Tables 1-3 on the SFT model", "",
             "Table 1 strategies at every seed run, each paired with no-repair; the ablations (Table 2) paired with "
             "trace-guided on the seeds both ran. core-reimpl decodes greedily like no-repair, so one seed. "
             f"Full evaluation report with McNemar per seed, edit distances and figures: [{report.relative_to(run)}]"
             f"({report.relative_to(run)}).", ""]
            + full_tables.trace_table(run) + [""] + full_tables.trace_details(run) + [""])


def diffucoder_section(run: Path) -> list[str]:
    est, curves = estimator_table(run)
    rewards = full_plots.reward_figure(curves, run / "figure_rl_rewards.png")
    reports = {t: r for t, _ in full_tables.ARNESS_MODELS if (r := read_json(run / f"arness-{t}.json"))}
    arness = full_plots.arness_figure(reports, run / "figure_arness.png")
    return (["## 3. DiffuCoder: log-prob estimators in coupled-GRPO, and the decoding order", "",
             "The RL recipe (configs/rl/minicode.yaml) with each estimator at 2 forward passes per estimate, "
             f"seeds {', '.join(map(str, seeds_on_disk(run, 'rl-*', RL_SEEDS)))}; held-out no-repair pass@1 after RL paired with the SFT model "
             "(the lr = 0 control: a LoRA policy at lr 0 is the SFT model). Paper: coupled-GRPO +4.4 points on "
             "EvalPlus over the instruct model.", ""]
            + full_tables.estimator_pooled_table(run) + ["", "Per RL run:", ""] + est
            + ([""] + ["![rewards](figure_rl_rewards.png)"] if rewards else [])
            + ["", "AR-ness@k of the decoding order (`python -m inference.arness`, DiffuCoder section 4.1 and "
               "Appendix A.2; plain sampler, one token per step, one block; mean over problems). Paper: both well "
               "below 1 and closer to 1 than to 0 for code, falling as the temperature rises (its Figures 3 and 5).",
               ""] + full_tables.arness_table(run) + ([""] + ["![arness](figure_arness.png)"] if arness else []) + [""])


def _cf_repaired(run: Path, model: str, test: str) -> dict[str, list[float | None]] | None:
    """Per invalid held-out program (the rows repair.lastmile scores) and metric: 1 when any of its candidates (every
    sample at every noise level) matches, the per-program event whose mean is the pooled pass@k at k = samples."""
    path = run / f"cf_resume_{model}_on_{test}.jsonl"
    if not path.exists():
        return None
    from data.jsonl import read_jsonl
    from repair.lastmile import invalid_only

    kept, _ = invalid_only(list(read_jsonl(path, "noise-and-resume repairs")))
    return {key: [None if r.get(key) is None else float(any(any(level) for level in r[key])) for r in kept]
            for key in ("execution_match", "sketch_match")}


def _cf_runs(run: Path, test: str) -> dict[str, list[dict[str, list[float | None]]]]:
    """Arm -> its runs on one test set (the SFT model's one, a repair arm's one per seed), each read once."""
    return {arm: [r for r in (_cf_repaired(run, m, test) for m in cf_models(run, arm)) if r] for arm, _ in CF_ARMS}


def _cf_matrices(ra: list[dict], rb: list[dict], key: str) -> tuple[np.ndarray, np.ndarray] | None:
    """[S, P] 'repaired by any candidate' of two arms' runs on the P invalid programs every run of both can score;
    the SFT model (one model) is repeated against each repair seed, two repair arms are paired seed by seed."""
    if not ra or not rb:
        return None
    s = max(len(ra), len(rb)) if min(len(ra), len(rb)) == 1 else min(len(ra), len(rb))
    ra, rb = (r * s if len(r) == 1 else r[:s] for r in (ra, rb))
    programs = min(len(r[key]) for r in ra + rb)  # a run still going holds a prefix of the same programs
    cols = [i for i in range(programs) if all(r[key][i] is not None for r in ra + rb)]
    if not cols:
        return None
    return tuple(np.array([[r[key][i] for i in cols] for r in arm]) for arm in (ra, rb))


def codefusion_pairs_table(run: Path) -> list[str]:
    """Each arm's 'repaired by any candidate' (the pooled pass@k column at k = samples) over repair seeds and
    programs with its 95% interval, and the arms paired on the same invalid programs: difference with a bootstrap
    interval over seeds and programs, McNemar pooled over seeds."""
    labels, keys = dict(CF_ARMS), ("execution_match", "sketch_match")
    lines = ["| test set | arm, or comparison | execution match, any candidate: % [95% CI] (per seed; seeds x "
             "programs), or difference; McNemar; detectable | sketch match, any candidate |", "|---|---|---|---|"]
    for test in ("diffusion", "rule"):
        runs = _cf_runs(run, test)
        for arm, label in CF_ARMS:
            got = [_cf_matrices(runs[arm], runs[arm], key) for key in keys]
            if got[0] is not None or got[1] is not None:
                cells = [ci_cell(interval(m[0])) if m is not None else "n=0" for m in got]
                lines.append(f"| {test} | {label} | {cells[0]} | {cells[1]} |")
        for a, b in (("sft", "diffusion"), ("sft", "rule"), ("rule", "diffusion")):
            got = [_cf_matrices(runs[a], runs[b], key) for key in keys]
            if got[0] is None and got[1] is None:
                continue
            cells = [diff_cell(paired_difference(*m)) if m is not None else "n=0" for m in got]
            lines.append(f"| {test} | {labels[b]} - {labels[a]} | {cells[0]} | {cells[1]} |")
    return lines if len(lines) > 2 else []


def codefusion_section(run: Path) -> list[str]:
    return (["## 4. CodeFusion: noise-and-resume repair after repair SFT on diffusion vs rule-based pairs", "",
             "Scored as the paper scores last-mile repair (repair/lastmile.py quotes its definitions): only held-out "
             "programs that do not parse; execution match = the repair parses and passes the problem's tests (rows "
             "with tests), sketch match = it equals the known fixed program up to names and literals (rows with a "
             "fixed program); pooled over noise levels (any / best / vote, pass@k as the paper's Tables 1 and 3). "
             "The last column is the old criterion, kept for comparison only. Pair statistics: cf_pair_stats.json, "
             "cf_pair_stats.png. Each repair SFT runs at every seed of CF_SEEDS and every model repairs with the same "
             "noise draws; the second table pools the seeds (interval over seeds and programs, McNemar pooled over "
             "seeds; the SFT model, one model, is paired with each seed).", ""] + codefusion_table(run) + [""] + codefusion_pairs_table(run) + [""])


def fast_section(run: Path) -> list[str]:
    points = full_tables.fast_points(run)
    fig = full_plots.fast_curve_figure(points, run / "figure_fast_curve.png")
    block = (read_json(run / "fast-plain" / "config.json") or {}).get("block_length", "?")
    return (["## 5. Fast-dLLM: accuracy at speed on the SFT model", "",
             "Confidence-threshold commits with the prefix KV cache and with the dual cache (prefix and suffix, "
             f"Fast-dLLM's DualCache), against the plain sampler on the same problems, every point at block length "
             f"{block} (Fast-dLLM's 32; the other sections decode one block of 96); tokens/s = gen length x "
             "problems / the rows' summed seconds (generation and tests, batch 8), measured in one stage. Paper "
             "(LLaDA / Dream on GSM8K, MATH, HumanEval, MBPP): up to 27.6x throughput with little accuracy loss at "
             "threshold 0.9; peers report collapses on code at low thresholds (Dream-Instruct HumanEval 55.5 -> 5.5).",
             ""] + full_tables.fast_curve_table(points) + ([""] + ["![fast](figure_fast_curve.png)"] if fig else [])
            + [""])


def write_full_report(run: Path) -> Path:
    sft_model = {"sft": sft_figures(run / "sft"), "eval": eval_figures(run / "eval")}
    data: dict = {}
    md = header(run) + treediff_section(run, data) + trace_section(run) + diffucoder_section(run)
    md += codefusion_section(run) + fast_section(run)
    if (run / "sft-full").exists():
        md += ["## The full recipe: the main job's SFT config at more steps", ""] + full_recipe_table(run) + [""]
    (run / "report.md").write_text("\n".join(md))
    (run / "report.json").write_text(json.dumps({"sft_model": sft_model, **data}, indent=2, default=str))
    return run / "report.md"
