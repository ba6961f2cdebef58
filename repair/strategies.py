"""The strategies compared in the evaluation, as ONE registry: name -> Strategy(run, configure).

`run(engine, task, cfg) -> Outcome` does the work; `configure(cfg) -> cfg` derives the strategy's settings from the
command line's (paper) defaults, so `--repair-steps` etc. apply to trace-guided and its ablations while the
baselines keep their own definitions:
- no-repair: one generation with N steps;
- global-low-confidence: if T_fb fails, remask the K globally lowest-confidence tokens once and infill with S = 32;
- trace-guided (ours): localize from the feedback tests' traces, remask <= K tokens of the region, infill with S
  steps, up to R rounds;
- best-of-2: two samples at N' = N * 80 / 128 steps (80 for the paper's N = 128), the higher T_fb pass rate wins;
- ablations: random-in-region (random K inside the region), wide-window (+-5 lines), s8 / s16 (S = 8 / 16).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from data.usage import UsageError
from repair.loop import Engine, LoopConfig, Outcome, Task, initial, repair

StrategyFn = Callable[[Engine, Task, LoopConfig], Outcome]


@dataclass(frozen=True)
class Strategy:
    run: StrategyFn
    configure: Callable[[LoopConfig], LoopConfig] = lambda cfg: cfg
    ablation: bool = False


def no_repair(engine: Engine, task: Task, cfg: LoopConfig) -> Outcome:
    cand, nfe = initial(engine, task, cfg)
    fb = task.feedback(cand.program, False)
    return Outcome(cand, cand, nfe, fb, fb, [])


def generate_then_repair(engine: Engine, task: Task, cfg: LoopConfig) -> Outcome:
    cand, nfe = initial(engine, task, cfg)
    return repair(engine, task, cand, nfe, cfg)


def best_of(engine: Engine, task: Task, cfg: LoopConfig) -> Outcome:
    """`cfg.samples` independent generations; the highest feedback pass rate wins (ties: the earlier sample)."""
    samples, nfe = [], 0
    for k in range(cfg.samples):
        cand, used = initial(engine, task, cfg, sample=k, temperature=cfg.sample_temperature)
        nfe += used
        samples.append((cand, task.feedback(cand.program, False)))
    best = max(range(len(samples)), key=lambda k: (samples[k][1].passed / max(1, samples[k][1].total), -k))
    return Outcome(samples[0][0], samples[best][0], nfe, samples[0][1], samples[best][1], [])


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
    "random-in-region": Strategy(generate_then_repair, lambda c: replace(c, selection="random"), ablation=True),
    "wide-window": Strategy(generate_then_repair, lambda c: replace(c, window=5), ablation=True),
    "s8": Strategy(generate_then_repair, lambda c: replace(c, repair_steps=8), ablation=True),
    "s16": Strategy(generate_then_repair, lambda c: replace(c, repair_steps=16), ablation=True),
}
MAIN = ["no-repair", "global-low-confidence", "best-of-2", "trace-guided"]
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


def run_strategy(name: str, engine: Engine, task: Task, base: LoopConfig) -> Outcome:
    strategy = STRATEGIES[name]
    return strategy.run(engine, task, strategy.configure(base))


