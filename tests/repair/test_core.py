"""CORE scored during generation (issue 29.5): the perturbation passes score the sampler's intermediate states, their
re-masked tokens are denoised again by the same N steps (NFE N + P), and the post-hoc version stays as core-posthoc."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest
import torch

from data.problems import problem_from_row, split_tests
from data.tiny_problems import TINY_PROBLEMS
from repair import core
from repair.execution import Limits
from repair.loop import LoopConfig, initial, make_task
from repair.strategies import STRATEGIES, run_strategy

LIMITS = Limits(timeout_per_test=2.0, timeout_per_problem=10.0, grace=0.5)
# 4 blocks of 8 tokens, 4 steps each (2 commits per step); P = 4 passes, at 32 * j / 5 committed tokens
CFG = LoopConfig(steps=16, gen_length=32, block_length=8, budget_k=8, core_passes=4)


def task_of(engine, pool, i=0, seed=0):
    problem = problem_from_row(dict(TINY_PROBLEMS[i]), dataset="")
    return make_task(engine, problem, split_tests(problem).feedback, seed, limits=LIMITS, pool=pool)


@pytest.fixture()
def revisers(monkeypatch):
    """Every PerturbationReviser core-reimpl builds, for inspection."""
    made = []

    class Recording(core.PerturbationReviser):
        def __post_init__(self):
            super().__post_init__()
            made.append(self)

    monkeypatch.setattr(core, "PerturbationReviser", Recording)
    return made


def test_scores_come_from_the_intermediate_states_of_generation(engine, pool, revisers, monkeypatch):
    task = task_of(engine, pool)
    initial(engine, [task], CFG)  # the plain generation (the row's "initial") first, outside the spy
    seen, forward = [], engine.model.forward

    def spy(*args, **kw):
        seen.append(kw["input_ids"].clone())
        return forward(*args, **kw)

    monkeypatch.setattr(engine.model, "forward", spy)
    (out,) = run_strategy("core-reimpl", engine, [task], CFG)
    (reviser,) = revisers
    events, mask, G, P = reviser.events, engine.mask_id, CFG.gen_length, CFG.core_passes
    assert len(events) == P and out.nfe == CFG.steps + P == len(seen)  # one forward per pass, no extra step
    assert [e.committed * (P + 1) >= (j + 1) * G for j, e in enumerate(events)] == [True] * P
    for e in events:
        gen = e.state[-G:]
        assert (gen == mask).any() and (gen != mask).any()  # a state from the middle of generation
        # the pass's input is that state with the hidden tokens masked, and generation steps follow it
        k = next(k for k, x in enumerate(seen) if torch.equal(x[0], e.state.masked_fill(e.hidden, mask)))
        assert k < len(seen) - 1
        # by hand: d_i = c_i - p(y_i | perturbed state) at the hidden tokens
        with torch.no_grad():
            logits = forward(input_ids=seen[k]).logits[0].float()
        p = torch.softmax(logits, -1).gather(-1, e.state[:, None]).squeeze(-1)
        assert e.hidden.any() and not e.hidden[:-G].any() and bool((e.state[e.hidden] != mask).all())
        assert bool((e.confidences[e.hidden] > 0).all())  # committed tokens, with their commit confidences
        torch.testing.assert_close(e.drops[e.hidden], (e.confidences - p)[e.hidden])
        # the re-masked tokens: the largest positive drops, at most K / P, and [MASK] in the next step's input
        k_max = CFG.budget_k // P
        assert int(e.remasked.sum()) == min(k_max, int((e.drops > 0).sum()))
        if e.remasked.any():
            rest = e.drops[e.hidden & ~e.remasked]
            assert rest.numel() == 0 or e.drops[e.remasked].min() >= rest.max()
            assert bool((seen[k + 1][0][e.remasked] == mask).all())
    assert (
        len({e.committed for e in events}) == P
    )  # four different states, not one final one scored four times
    # the first pass sees plain generation's own intermediate state: its committed tokens and their confidences
    plain, first = out.initial, events[0]
    done = first.state[-G:] != mask
    assert torch.equal(first.state[-G:][done], plain.sequence[0, -G:][done])
    torch.testing.assert_close(first.confidences[-G:][done], plain.confidences[0, -G:][done])
    assert not (out.final.sequence == mask).any()
    (rnd,) = out.rounds
    assert rnd.method == "core" and rnd.nfe == P
    remasked = sorted(
        {int(i) - (len(events[0].state) - G) for e in events for i in e.remasked.nonzero().flatten()}
    )
    assert rnd.positions == remasked and remasked
    assert out.initial is initial(engine, [task], CFG)[0][0][0]  # the generation CORE departs from


def test_without_passes_core_is_the_plain_generation(engine, pool):
    task = task_of(engine, pool, 1)
    (out,) = run_strategy("core-reimpl", engine, [task], replace(CFG, core_passes=0))
    assert torch.equal(out.final.sequence, out.initial.sequence) and out.nfe == CFG.steps


def test_batched_rows_revise_as_alone(engine, pool):
    alone = [run_strategy("core-reimpl", engine, [task_of(engine, pool, i)], CFG)[0] for i in (0, 3)]
    batched = run_strategy("core-reimpl", engine, [task_of(engine, pool, i) for i in (0, 3)], CFG)
    for a, b in zip(alone, batched):
        assert a.final.completion_ids == b.final.completion_ids and a.nfe == b.nfe
        assert a.rounds[0].positions == b.rounds[0].positions


def test_core_reimpl_is_table1s_core_row_and_posthoc_an_option():
    from repair.report import render
    from repair.strategies import ABLATIONS, MAIN

    assert "core-reimpl" in MAIN and "core-posthoc" in ABLATIONS
    assert STRATEGIES["core-reimpl"].configure(LoopConfig()).core_passes == 8  # NFE 128 + 8 = the paper's 136
    row = {
        "task_id": "t",
        "passed": False,
        "nfe": 136,
        "seconds": 0.0,
        "error_type": None,
        "initial_tokens": [1],
        "final_tokens": [2],
        "rounds": [asdict(core.RoundRecord("core", [], [0], 8))],
    }
    text, _ = render(
        {("core-reimpl", 0): [row], ("core-posthoc", 0): [dict(row, nfe=140)]},
        {"dataset": "mbpp", "steps": 128},
    )
    table1 = text.split("## Table 1")[1].split("## Table 2")[0]
    assert "| core-reimpl | 0.00 ± 0.00 | 1 | 1 | 136.0 |" in table1 and "| 26.98 | 136 |" in table1
    assert "during generation" in table1 and "core-posthoc" in text.split("## Table 2")[1].split("##")[0]


def test_cli_refuses_core_with_the_prefix_cache(tiny_model_dir):
    from data.usage import UsageError
    from repair.evaluate import check_inputs, parse_args

    args = parse_args(
        [
            "--model",
            str(tiny_model_dir),
            "--dataset",
            "mbpp",
            "--out",
            "/tmp/unused",
            "--prefix-cache",
            "--strategies",
            "no-repair,core-reimpl",
        ]
    )
    with pytest.raises(UsageError, match="prefix-cache"):
        check_inputs(args)
