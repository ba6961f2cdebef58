"""Tables, McNemar tests, edit distances and figures of a repair evaluation, from its jsonl files alone.

python -m repair.report --out DIR        # regenerates DIR/results.json, DIR/report.md, DIR/figure2_*.png, DIR/figure3_*.png

`repair.evaluate` calls `write_report` at the end of every run; this entry point redoes it from the streamed rows
(DIR/runs/<strategy>.seed<seed>.jsonl, one row per problem) without touching a model, e.g. for a partial run.
Statistics:
- pass@1 is the held-out pass rate per (strategy, seed); across seeds the mean and the sample std (ddof=1);
- NFE is the sampler's own count per problem (generate + infill), reported as mean per problem and total;
- McNemar between trace-guided and each baseline pairs the same (seed, task) and uses the exact two-sided binomial
  test on the discordant counts (scipy.stats.binomtest, b ~ Bin(b + c, 1/2)); the chi2 statistic with continuity
  correction is reported next to it for reference. Per seed, and pooled over seeds as the paper does (its "72 vs 24,
  p < 0.001" over seeds 0-2): the discordant counts summed over the seeds both strategies ran, every (seed, task)
  pair counted as one pair;
- edit distance is Levenshtein (rapidfuzz) on the completion's token ids before the first repair round and after
  the last, over problems where a repair was attempted.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from rapidfuzz.distance import Levenshtein
from scipy import stats

from data.usage import UsageError, run_cli
from repair.formats import describe as describe_format
from repair.report_figures import figure2, figure3
from repair.run_files import load_runs

MAIN = ("no-repair", "global-low-confidence", "core-reimpl", "best-of-2", "trace-guided")
ERROR_TYPES = ("syntax", "runtime", "assertion")
LOC_METHODS = ("exception", "syntax", "assertion", "fallback")
REFERENCE = "trace-guided"
# The paper's Table 1 (LLaDA-8B-Base), pass@1 in %, shown next to ours in the report header.
# Their CORE row is the original CORE; ours is core-reimpl (repair/core.py), a re-implementation from one sentence.
PAPER = {"mbpp": {"no-repair": 19.84, "global-low-confidence": 19.84, "core-reimpl": 26.98, "best-of-2": 9.52,
                  "trace-guided": 31.22},
         "humaneval": {"no-repair": 1.83, "global-low-confidence": 2.44, "core-reimpl": 3.05, "best-of-2": 0.00,
                       "trace-guided": 2.64}}
PAPER_NFE = {"no-repair": 128, "global-low-confidence": 160, "core-reimpl": 136, "best-of-2": 160,
             "trace-guided": 294}
CORE_NOTE = ("core-reimpl is our re-implementation of CORE (code not public) from the seed's one-line description, "
             "scoring during generation: 8 perturbation passes spread over stage 1 (a random half of the committed "
             "tokens hidden) score each hidden token's probability drop c_i - p_i; the K / 8 least robust per pass are "
             "re-masked and denoised again within the same N steps, for every problem (NFE N + 8, the paper's 136 at "
             "N = 128). core-posthoc (Table 2) scores once after generation and infills with S = 8 (NFE N + 4 + 8). "
             "The paper's CORE row is the original method. Details: repair/core.py.")
# ---- statistics (pure) ----
@dataclass(frozen=True)
class McNemar:
    b: int  # reference passes, baseline fails
    c: int  # baseline passes, reference fails
    p_exact: float  # two-sided exact binomial
    chi2: float  # (|b - c| - 1)^2 / (b + c), continuity-corrected
    p_chi2: float


def mcnemar(b: int, c: int) -> McNemar:
    n = b + c
    if n == 0:
        return McNemar(b, c, 1.0, 0.0, 1.0)
    p_exact = float(stats.binomtest(b, n, 0.5, alternative="two-sided").pvalue)
    chi2 = (abs(b - c) - 1) ** 2 / n
    return McNemar(b, c, min(1.0, p_exact), float(chi2), float(stats.chi2.sf(chi2, df=1)))


def discordant(ref: list[dict], other: list[dict]) -> tuple[int, int]:
    """(b, c) over the tasks present in both runs."""
    a = {r["task_id"]: bool(r["passed"]) for r in ref}
    o = {r["task_id"]: bool(r["passed"]) for r in other}
    common = a.keys() & o.keys()
    return sum(a[t] and not o[t] for t in common), sum(o[t] and not a[t] for t in common)


def pooled_discordant(runs: dict, other: str, reference: str = REFERENCE) -> tuple[int, int, list[int]]:
    """(b, c, seeds): the discordant counts of `reference` vs `other` summed over the seeds both ran."""
    seeds = sorted(seed for (s, seed) in runs if s == other and (reference, seed) in runs)
    pairs = [discordant(runs[(reference, seed)], runs[(other, seed)]) for seed in seeds]
    return sum(b for b, _ in pairs), sum(c for _, c in pairs), seeds


def token_edit_distance(before: list[int], after: list[int]) -> int:
    return int(Levenshtein.distance(before, after))


def edit_distances(rows: list[dict]) -> list[int]:
    """Per problem with at least one repair round: token edit distance of the completion, first vs last."""
    return [token_edit_distance(r["initial_tokens"], r["final_tokens"]) for r in rows if r["rounds"]]


def mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


# ---- summaries ----
def summarize(runs: dict[tuple[str, int], list[dict]]) -> dict:
    """results.json content: per strategy, per seed and across seeds."""
    by_strategy: dict[str, dict] = defaultdict(lambda: {"seeds": {}})
    for (strategy, seed), rows in sorted(runs.items()):
        if not rows:
            continue
        nfe = [r["nfe"] for r in rows]
        passed = sum(bool(r["passed"]) for r in rows)
        by_strategy[strategy]["seeds"][str(seed)] = {
            "problems": len(rows), "passed": passed, "pass@1": 100.0 * passed / len(rows),
            "nfe_mean": statistics.fmean(nfe), "nfe_total": sum(nfe),
            "seconds_total": round(sum(r["seconds"] for r in rows), 3)}  # generation + tests + repair, wall
    for entry in by_strategy.values():
        seeds = entry["seeds"].values()
        entry["pass@1_mean"], entry["pass@1_std"] = mean_std([s["pass@1"] for s in seeds])
        entry["nfe_mean"] = statistics.fmean(s["nfe_mean"] for s in seeds)
        entry["nfe_total"] = sum(s["nfe_total"] for s in seeds)
        entry["seconds_total"] = round(sum(s["seconds_total"] for s in seeds), 3)
        entry["seconds_per_problem"] = entry["seconds_total"] / sum(s["problems"] for s in seeds)
    return dict(by_strategy)


def by_error_type(rows: list[dict]) -> dict[str, tuple[int, int]]:
    """error type of the initial feedback failure -> (count, problems whose final program passes held-out)."""
    out = {}
    for kind in ERROR_TYPES:
        hit = [r for r in rows if r.get("error_type") == kind]
        out[kind] = (len(hit), sum(bool(r["passed"]) for r in hit))
    return out


def localization_counts(rows: list[dict]) -> Counter:
    """Method of the first localization per problem that needed one (later rounds re-localize the repaired code)."""
    return Counter(r["rounds"][0]["method"] for r in rows if r["rounds"] and r["rounds"][0]["method"] in LOC_METHODS)


def _pooled(runs: dict, strategy: str) -> list[dict]:
    return [r for (s, _), rows in sorted(runs.items()) if s == strategy for r in rows]


# ---- markdown ----
def _pct(x: float) -> str:
    return "-" if x != x else f"{x:.2f}"


def table1(summary: dict, dataset: str) -> list[str]:
    """With the paper's columns only for MBPP+ / HumanEval+ (a --problems file has no paper figures to compare)."""
    paper = PAPER.get(dataset)
    head = "| strategy | pass@1 (%) mean ± std | seeds | problems | NFE / problem | NFE total | s / problem |"
    lines = [head + (" paper pass@1 | paper NFE |" if paper else ""), "|---" * (9 if paper else 7) + "|"]
    for name in [s for s in MAIN if s in summary]:
        e = summary[name]
        probs = "/".join(str(s["problems"]) for s in e["seeds"].values())
        row = (f"| {name} | {_pct(e['pass@1_mean'])} ± {_pct(e['pass@1_std'])} | {len(e['seeds'])} | {probs} "
               f"| {e['nfe_mean']:.1f} | {e['nfe_total']} | {e['seconds_per_problem']:.2f} |")
        lines.append(row + (f" {paper.get(name, '-')} | {PAPER_NFE.get(name, '-')} |" if paper else ""))
    return lines


def table2(summary: dict, ablations: list[str]) -> list[str]:
    lines = ["| configuration | pass@1 (%) mean ± std | passed (per seed) | NFE / problem |", "|---|---|---|---|"]
    for name in [REFERENCE] + ablations:
        if name in summary:
            e = summary[name]
            passed = "/".join(str(s["passed"]) for s in e["seeds"].values())
            label = "full method (trace-guided)" if name == REFERENCE else name
            lines.append(f"| {label} | {_pct(e['pass@1_mean'])} ± {_pct(e['pass@1_std'])} | {passed} "
                         f"| {e['nfe_mean']:.1f} |")
    return lines


def table3(runs: dict, strategies: list[str]) -> list[str]:
    counts_from = REFERENCE if REFERENCE in strategies else strategies[0]
    base = by_error_type(_pooled(runs, counts_from))
    total = sum(n for n, _ in base.values()) or 1
    lines = ["| error type (initial feedback failure) | count | " + " | ".join(strategies) + " |",
             "|---|---|" + "---|" * len(strategies)]
    per = {s: by_error_type(_pooled(runs, s)) for s in strategies}
    for kind in ERROR_TYPES:
        n = base[kind][0]
        cells = [f"{100.0 * per[s][kind][1] / per[s][kind][0]:.1f}% ({per[s][kind][1]}/{per[s][kind][0]})"
                 if per[s][kind][0] else "-" for s in strategies]
        lines.append(f"| {kind} | {n} ({100.0 * n / total:.1f}%) | " + " | ".join(cells) + " |")
    return lines


def mcnemar_table(runs: dict, strategies: list[str]) -> list[str]:
    lines = [f"| {REFERENCE} vs | seed | b ({REFERENCE} only) | c (baseline only) | p exact | chi2 (cc) | p chi2 |",
             "|---|---|---|---|---|---|---|"]
    seeds = sorted({seed for (s, seed) in runs if s == REFERENCE})
    for other in strategies:
        for seed in seeds:
            if other == REFERENCE or (other, seed) not in runs:
                continue
            m = mcnemar(*discordant(runs[(REFERENCE, seed)], runs[(other, seed)]))
            lines.append(f"| {other} | {seed} | {m.b} | {m.c} | {m.p_exact:.4g} | {m.chi2:.3f} | {m.p_chi2:.4g} |")
        b, c, pooled = pooled_discordant(runs, other) if other != REFERENCE else (0, 0, [])
        if len(pooled) > 1:
            m = mcnemar(b, c)
            lines.append(f"| {other} | **pooled** ({','.join(map(str, pooled))}) | {m.b} | {m.c} | {m.p_exact:.4g} "
                         f"| {m.chi2:.3f} | {m.p_chi2:.4g} |")
    return lines


def localization_table(runs: dict, strategies: list[str]) -> list[str]:
    lines = ["| strategy | " + " | ".join(LOC_METHODS) + " | problems localized |", "|---" * (len(LOC_METHODS) + 2) + "|"]
    for s in strategies:
        c = localization_counts(_pooled(runs, s))
        n = sum(c.values())
        if n:
            cells = [f"{c[m]} ({100.0 * c[m] / n:.1f}%)" for m in LOC_METHODS]
            lines.append(f"| {s} | " + " | ".join(cells) + f" | {n} |")
    return lines


def edit_table(runs: dict, strategies: list[str]) -> list[str]:
    lines = ["| strategy | repaired problems | mean token edit distance | median | zero-edit fraction |",
             "|---|---|---|---|---|"]
    for s in strategies:
        d = edit_distances(_pooled(runs, s))
        if d:
            zero = sum(x == 0 for x in d) / len(d)
            lines.append(f"| {s} | {len(d)} | {statistics.fmean(d):.2f} | {statistics.median(d):g} "
                         f"| {100.0 * zero:.1f}% |")
    return lines


# ---- the report ----
def _header(config: dict, summary: dict) -> list[str]:
    dataset = config.get("dataset") or config.get("problems") or "?"
    paper = PAPER.get(dataset, {})
    lines = [f"# Trace-guided repair evaluation: {config.get('model', '?')} on {dataset}", ""]
    if config.get("command"):
        lines += ["Command:", "", "```", config["command"], "```", ""]
    if config:
        lines += ["Settings: " + ", ".join(f"{k}={v}" for k, v in config.items() if k not in ("command",)), ""]
    ours = ", ".join(f"{s} {summary[s]['pass@1_mean']:.2f}" for s in MAIN if s in summary)
    if paper:
        ref = ", ".join(f"{s} {v:.2f}" for s, v in paper.items())
        lines.append(f"Paper (LLaDA-8B-Base, {dataset}+, pass@1 %): {ref}; trace-guided NFE 294.")
    lines += [f"This run (pass@1 %, mean over seeds): {ours}.", ""]
    return lines + describe_format(config) + readings(config) + stage1_mode(config) + [""]


def readings(config: dict) -> list[str]:
    """Which reading of the paper ran where its text allows several, one line each (a run recorded before an option
    existed ran what the code did then)."""
    known = "trace_reading" in config  # recorded since wrong-output events and syntax localization exist
    scope = config.get("global_scope", "all (recorded before the option existed)")
    reading = config.get("trace_reading", "distinct (recorded before the option existed)")
    m = config.get("max_trace_lines", 20)
    syntax = (("localized", ": the line the SyntaxError / IndentationError reports +-w, method 'syntax' in the "
               "localization table (the paper's text sends syntax errors to the fallback)") if known else
              ("fallback", " (recorded before syntax localization existed)"))
    return [f"- Wrong-output trace reading: **{reading}** (--trace-reading; 'events' = the last M = {m} executed line "
            "events before the failure, deduplicated after the cut, the paper's wording; 'distinct' = the last M "
            "distinct lines, for a short function its whole executed body).",
            f"- Global low-confidence / fallback selection scope: **{scope}** (--global-scope; 'completion' = the "
            "program's tokens and its first EOS; 'all' = every generated position incl. post-EOS padding, the "
            "paper's \"entire output\").",
            f"- Syntax errors: **{syntax[0]}**{syntax[1]}.", ""]


# The key/value caches of stage 1 (config key -> how the report names it): fast modes with approximate outputs.
STAGE1_CACHES = {"prefix_cache": "prefix key/value cache (--prefix-cache)",
                 "dual_cache": "DualCache, prefix and suffix keys/values (--dual-cache)"}


def stage1_mode(config: dict) -> list[str]:
    """How stage 1 ran: the paper's fixed N steps, or the threshold fast mode; and a key/value cache if one ran."""
    if config.get("threshold") is None:
        lines = [f"Stage 1: fixed N = {config.get('steps', '?')} denoising steps (the paper's setting; no-repair NFE = "
                 "N)."]
    else:
        lines = [f"**FAST MODE** stage 1: Fast-dLLM confidence threshold {config['threshold']} (>= 1 token per step, "
                 f"adaptive NFE below N = {config.get('steps', '?')}): NFE and best-of-2's matched budget are NOT "
                 "comparable to the paper's NFE column."]
    lines += [f"**FAST MODE** stage 1: Fast-dLLM {name}, refreshed at each block's start: the other steps reuse "
              "keys/values computed before their block's latest commits, so outputs approximate the uncached "
              "sampler's (every forward counts 1 NFE, full or cached)." for key, name in STAGE1_CACHES.items()
              if config.get(key)]
    return lines


def fast_mode(config: dict) -> bool:
    return config.get("threshold") is not None or any(config.get(key) for key in STAGE1_CACHES)


def render(runs: dict, config: dict) -> tuple[str, dict]:
    summary = summarize(runs)
    strategies = list(dict.fromkeys(s for s, _ in sorted(runs)))
    main = [s for s in MAIN if s in strategies]
    ablations = [s for s in strategies if s not in MAIN]
    md = _header(config, summary)
    fast = " (FAST MODE stage 1)" if fast_mode(config) else ""
    md += [f"## Table 1: pass@1 on held-out tests and compute{fast}", ""]
    md += table1(summary, config.get("dataset", "")) + [""]
    if "core-reimpl" in summary:
        md += [CORE_NOTE, ""]
    md += ["## Table 2: ablations", ""] + table2(summary, ablations) + [""]
    md += ["## Table 3: repair success by error type of the initial failure",
           "", "Share of problems whose initial candidate failed the feedback tests with that error type and whose "
           "final program passes the held-out tests (pooled over seeds).", ""] + table3(runs, main + ablations) + [""]
    md += ["## McNemar tests", "", "Exact two-sided binomial test on the discordant pairs (scipy.stats.binomtest); "
           "chi2 with continuity correction for reference. Per seed, then pooled over the seeds (discordant counts "
           "summed, each (seed, task) one pair), as the paper reports it.", ""] + mcnemar_table(runs, main + ablations)
    md += [""]
    md += ["## Localization methods (Figure 2)", "", "![figure 2](figure2_localization.png)", ""]
    md += localization_table(runs, main + ablations) + [""]
    md += ["## Edit distance of repairs (Figure 3)", "", "Levenshtein distance (rapidfuzz) between the completion's "
           "token ids before the first and after the last repair round.", "",
           "![figure 3](figure3_edit_distance.png)", ""] + edit_table(runs, main + ablations) + [""]
    return "\n".join(md), summary


def write_report(out: str | Path, config: dict | None = None) -> dict:
    """Write results.json, report.md and both figures into `out` from its jsonl files; returns the summary."""
    out = Path(out)
    if config is None:
        path = out / "config.json"
        config = json.loads(path.read_text()) if path.exists() else {}
    runs = load_runs(out)
    text, summary = render(runs, config)
    mcn = {f"{REFERENCE} vs {s} seed {seed}": asdict(mcnemar(*discordant(runs[(REFERENCE, seed)], rows)))
           for (s, seed), rows in sorted(runs.items()) if s != REFERENCE and (REFERENCE, seed) in runs}
    for other in dict.fromkeys(s for s, _ in sorted(runs) if s != REFERENCE):
        b, c, seeds = pooled_discordant(runs, other)
        if seeds:
            mcn[f"{REFERENCE} vs {other} pooled"] = dict(asdict(mcnemar(b, c)), seeds=seeds)
    results = {"dataset": config.get("dataset"), "strategies": summary, "mcnemar": mcn,
               "edit_distance": {s: edit_distances(_pooled(runs, s)) for s in summary}}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "report.md").write_text(text)
    ds = config.get("dataset", "")
    counts = {s: localization_counts(_pooled(runs, s)) for s in summary}
    shown = {s: c for s, c in counts.items() if sum(c.values())} or {REFERENCE: counts.get(REFERENCE, Counter())}
    figure2(shown, LOC_METHODS, out / "figure2_localization.png", f"Localization methods ({ds})")
    figure3({s: edit_distances(_pooled(runs, s)) for s in (REFERENCE, "global-low-confidence")},
            out / "figure3_edit_distance.png", f"Edit distance of repairs ({ds})")
    return summary


def print_summary(summary: dict, out: Path) -> None:
    for name, e in summary.items():
        print(f"{name:24s} pass@1 {e['pass@1_mean']:6.2f} ± {e['pass@1_std']:.2f}  NFE/problem {e['nfe_mean']:.1f}"
              f"  wall {e['seconds_total']:.1f} s ({e['seconds_per_problem']:.2f} s/problem)")
    print(f"report -> {out / 'report.md'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m repair.report", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="the --out directory of a repair.evaluate run")
    args = parser.parse_args(argv)
    if not any(Path(args.out).glob("runs/*.jsonl")):
        raise UsageError(f"{args.out} holds no runs/*.jsonl; give the --out directory of a repair.evaluate run")
    print_summary(write_report(args.out), Path(args.out))


if __name__ == "__main__":
    run_cli(main)
