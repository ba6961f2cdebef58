"""The strategies compared in the evaluation, as ONE registry: name -> Strategy(run, configure).

`run(engine, task, cfg) -> Outcome` does the work; `configure(cfg) -> cfg` derives the strategy's settings from the
command line's (paper) defaults, so `--repair-steps` etc. apply to trace-guided and its ablations while the
baselines keep their own definitions:
- no-repair: one generation with N steps;
- global-low-confidence: if T_fb fails, remask the K globally lowest-confidence tokens once and infill with S = 32;
- trace-guided (ours): localize from the feedback tests' traces, remask <= K tokens of the region, infill with S
  steps, up to R rounds;
- core-reimpl: our re-implementation of CORE from the seed's one-line description (repair/core.py says exactly what):
  P = 8 perturbation passes DURING generation score the committed tokens' instability and re-mask the least robust,
  which the same N steps denoise again (NFE N + 8), for every problem;
- core-posthoc (Table 2, to compare): the same scoring once after generation, K tokens remasked, S = 8;
- best-of-2: two samples at N' = N * 80 / 128 steps (80 for the paper's N = 128), the higher T_fb pass rate wins;
- ablations: random-in-region (random K inside the region), wide-window (+-5 lines), s8 / s16 (S = 8 / 16).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from data.usage import UsageError
from repair.core import core_posthoc, core_reimpl
from repair.loop import Engine, LoopConfig, Outcome, Task, initial, repair

StrategyFn = Callable[[Engine, list[Task], LoopConfig], list[Outcome]]  # a batch of tasks -> one outcome each


@dataclass(frozen=True)
class Strategy:
    run: StrategyFn
    configure: Callable[[LoopConfig], LoopConfig] = lambda cfg: cfg
    ablation: bool = False


def no_repair(engine: Engine, tasks: list[Task], cfg: LoopConfig) -> list[Outcome]:
    starts = [row[0] for row in initial(engine, tasks, cfg)]
    fbs = engine.feedback(tasks, [c.program for c, _ in starts], False)
    return [Outcome(c, c, nfe, fb, fb, []) for (c, nfe), fb in zip(starts, fbs)]


def generate_then_repair(engine: Engine, tasks: list[Task], cfg: LoopConfig) -> list[Outcome]:
    return repair(engine, tasks, [row[0] for row in initial(engine, tasks, cfg)], cfg)


def best_of(engine: Engine, tasks: list[Task], cfg: LoopConfig) -> list[Outcome]:
    """`cfg.samples` independent generations; the highest feedback pass rate wins (ties: the earlier sample)."""
    ks = tuple(range(cfg.samples))
    per_task = initial(engine, tasks, cfg, samples=ks, temperature=cfg.sample_temperature)
    flat = [(t, c) for t, row in zip(tasks, per_task) for c, _ in row]
    fbs = iter(engine.feedback([t for t, _ in flat], [c.program for _, c in flat], False))
    outcomes = []
    for row in per_task:
        samples = [(cand, next(fbs)) for cand, _ in row]
        best = max(ks, key=lambda k: (samples[k][1].passed / max(1, samples[k][1].total), -k))
        nfe = sum(used for _, used in row)
        outcomes.append(Outcome(samples[0][0], samples[best][0], nfe, samples[0][1], samples[best][1], []))
    return outcomes


def matched_steps(cfg: LoopConfig, fraction: float) -> int:
    """`fraction` of N, rounded to a multiple of the block count (the sampler splits steps evenly over blocks)."""
    blocks = max(1, cfg.gen_length // min(cfg.block_length, cfg.gen_length))
    return max(blocks, round(cfg.steps * fraction / blocks) * blocks)


STRATEGIES: dict[str, Strategy] = {
    "no-repair": Strategy(no_repair),
    "global-low-confidence": Strategy(generate_then_repair,
                                      lambda c: replace(c, localization="global", repair_steps=32, rounds=1)),
    "trace-guided": Strategy(generate_then_repair),
    "best-of-2": Strategy(best_of, lambda c: replace(c, samples=2, steps=matched_steps(c, 80 / 128))),
    "core-reimpl": Strategy(core_reimpl),
    "core-posthoc": Strategy(core_posthoc, lambda c: replace(c, repair_steps=8, rounds=1), ablation=True),
    "random-in-region": Strategy(generate_then_repair, lambda c: replace(c, selection="random"), ablation=True),
    "wide-window": Strategy(generate_then_repair, lambda c: replace(c, window=5), ablation=True),
    "s8": Strategy(generate_then_repair, lambda c: replace(c, repair_steps=8), ablation=True),
    "s16": Strategy(generate_then_repair, lambda c: replace(c, repair_steps=16), ablation=True),
}
MAIN = ["no-repair", "global-low-confidence", "core-reimpl", "best-of-2", "trace-guided"]
ABLATIONS = [name for name, s in STRATEGIES.items() if s.ablation]


def parse_strategies(text: str) -> list[str]:
    """Comma list of registry names; `main` and `ablations` expand to their groups."""
    names: list[str] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        group = {"main": MAIN, "ablations": ABLATIONS}.get(part, [part])
        unknown = [g for g in group if g not in STRATEGIES]
        if unknown:
            raise UsageError(f"unknown strategy {unknown[0]!r}; known: {', '.join(STRATEGIES)}, main, ablations")
        names += [g for g in group if g not in names]
    return names


def run_strategy(name: str, engine: Engine, tasks: list[Task], base: LoopConfig) -> list[Outcome]:
    """One strategy on a batch of tasks (one outcome per task, each as it would be alone up to float rounding)."""
    strategy = STRATEGIES[name]
    return strategy.run(engine, tasks, strategy.configure(base))


