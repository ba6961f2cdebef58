"""RL, synthesis and evaluation with the model on a second device: every generator and every tensor meets the model
where it is (issue 28: on CUDA a CPU generator or a CPU mask fails at the first sampled token / the first masked
forward; on this CPU-only machine they never differ, so nothing else would catch it).

`meta` stands in for the second device: like CUDA it refuses to mix devices in one op, but it holds no data and no
torch.Generator. So the policy below only checks its inputs' device and returns meta logits of the right shape, the
samplers are replaced by spies that check their inputs and generators and return completions (what a sampler would
have returned), and `torch.Generator` records the device each generator was asked for (`declared`) while drawing on
the CPU. The jobs run as far as the data-independent path goes: up to the first backward of an RL step.
"""

from argparse import Namespace
from contextlib import contextmanager

import pytest
import torch
from transformers import AutoConfig, AutoTokenizer

import inference  # noqa: F401  (registers model_type "llada")
from inference.adapters import get_adapter
from inference.sampler import GenerationOutput

META = torch.device("meta")


class Reached(Exception):
    """Raised where the data-independent path ends (a backward, a sampler's first data-dependent step)."""


@pytest.fixture()
def declared_generators(monkeypatch):
    """torch.Generator(device=...) records the device asked for in `.declared` and draws on the CPU."""
    real = torch.Generator

    class Declared(real):
        def __new__(cls, device=None):
            g = real.__new__(cls, "cpu")
            g.declared = torch.device("cpu" if device is None else device)
            return g

        def __init__(self, device=None):
            pass

    monkeypatch.setattr(torch, "Generator", Declared)


class MetaPolicy(torch.nn.Module):
    """A policy on `meta`: forward checks every input is there and returns meta logits [B, L, V]."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.weight = torch.nn.Parameter(torch.zeros(1, device=META))
        self.forwards, self.reference_forwards, self.disabled = 0, 0, False

    def forward(self, input_ids, attention_mask=None, **_):
        for t in (input_ids, attention_mask):
            assert t is None or t.device == META, f"a model input {tuple(t.shape)} on {t.device}"
        self.forwards += 1
        self.reference_forwards += self.disabled
        return Namespace(logits=torch.zeros(*input_ids.shape, self.config.vocab_size, device=META) * self.weight)

    @contextmanager
    def disable_adapter(self):
        self.disabled = True
        yield
        self.disabled = False


class MetaEngine:
    """DeepSpeed's engine as RL uses it: device, module, forward, backward (where this test stops), step."""

    device = META

    def __init__(self, module: MetaPolicy):
        self.module = module

    def __call__(self, **kw):
        return self.module(**kw)

    def backward(self, loss):
        assert loss.device == META and loss.requires_grad
        raise Reached


def check_sampler_inputs(model, ids, att, generator) -> int:
    """The sampler draws on the model's device with every generator it is given: all must be there."""
    dev = next(model.parameters()).device
    assert ids.device == dev and (att is None or att.device == dev), (ids.device, None if att is None else att.device)
    gens = generator if isinstance(generator, list) else [generator]
    assert gens and all(g.declared == dev for g in gens), [g.declared for g in gens]
    return len(gens)


def rollout_sampler(calls: list):
    """A sampler spy returning random completions on the CPU (meta holds no data)."""

    def sample(model, prompt_ids, attention_mask=None, gen_length=8, generator=None, **_):
        calls.append((prompt_ids.shape[0], check_sampler_inputs(model, prompt_ids, attention_mask, generator)))
        B, P = prompt_ids.shape
        completion = torch.randint(5, 50, (B, gen_length), generator=torch.Generator(device="cpu").manual_seed(B))
        return GenerationOutput(torch.cat([torch.zeros(B, P, dtype=torch.long), completion], 1),
                                torch.zeros(B, gen_length), nfe=1)

    return sample


@pytest.mark.parametrize("sampler", ["llada", "dream"])
def test_rl_step_keeps_generators_masks_and_log_probs_on_the_model_device(sampler, tiny_model_dir, tiny_dream_dir,
                                                                          declared_generators, monkeypatch):
    from rl import grpo, rewards, rollout
    from rl.rewards import RewardConfig

    model_dir = tiny_model_dir if sampler == "llada" else tiny_dream_dir
    calls = []
    monkeypatch.setitem(rollout.SAMPLERS, sampler, rollout_sampler(calls))
    monkeypatch.setitem(rewards.REWARD_FUNCS, "parity", lambda p, c, ids, **_: [float(i.sum() % 2) for i in ids])
    policy = MetaPolicy(AutoConfig.from_pretrained(model_dir))
    cfg = grpo.Config(model=str(model_dir), sampler=sampler, prompts_per_rank=2, num_generations=4,
                      micro_batch_size=4, max_completion_length=8, diffusion_steps=8, block_length=8, beta=0.01,
                      rewards=RewardConfig(funcs=["parity"], weights=[1.0]))
    problems = [{"prompt": "def f(x):\n", "tests": []}, {"prompt": "def g(a, b):\n    return", "tests": []}]
    with pytest.raises(Reached):  # the first optimization step's backward, with a meta loss
        grpo.rl_step(cfg, MetaEngine(policy), AutoTokenizer.from_pretrained(model_dir), get_adapter(policy.config),
                     problems, step=0)
    assert calls == [(8, 8)]  # all 8 rollouts in one sampler batch, one generator per rollout, on the model's device
    # the reference pass over both micro-batches (adapter disabled), then the first optimization micro-batch
    assert (policy.reference_forwards, policy.forwards) == (2, 3)


@pytest.mark.parametrize("name", ["coupled", "d1", "independent"])
def test_stored_cpu_mask_draw_meets_ids_on_the_model_device(name):
    """RL stores the mask draw on the CPU (one stream on any machine); the estimator moves it to the ids' device."""
    from rl.estimators import EstimatorConfig, estimate_logps
    from rl.grpo import Config, mask_generator
    from rl.rollout import Rollout, draw_rollout_masks

    completion = torch.tensor([[7, 8, 2, 2], [9, 2, 2, 2]])
    r = Rollout(["p", "q"], ["", ""], torch.tensor([[3, 4], [5, 6]]), completion, torch.ones(2, 6, dtype=torch.long),
                torch.ones(2, 4, dtype=torch.bool))
    draw = draw_rollout_masks(EstimatorConfig(name=name), r, mask_generator(Config(), 0))
    assert draw.completion_masks.device.type == "cpu"

    def logits_fn(ids, att):
        assert ids.device == META and att.device == META
        return torch.zeros(*ids.shape, 16, device=META)

    s = estimate_logps(logits_fn, r.prompt_ids.to(META), completion.to(META), r.attention_mask.to(META), draw, 1)
    assert s.device == META and s.shape == (2, 4)


def test_synthesis_generates_with_a_generator_on_the_model_device(tiny_model_dir, declared_generators, monkeypatch):
    from inference.loading import LoadedModel
    from repair import synthesize
    from repair.pairs import PairFilter

    policy = MetaPolicy(AutoConfig.from_pretrained(tiny_model_dir))
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    loaded = LoadedModel(policy, tok, get_adapter(policy.config), META, "base")
    calls = []

    def generate(model, ids, generator=None, attention_mask=None, **_):
        calls.append(check_sampler_inputs(model, ids, attention_mask, generator))
        raise Reached

    monkeypatch.setattr("inference.sampler.generate", generate)
    args = Namespace(seed=0, steps=8, gen_length=8, block_length=8, temperature=1.0, model="m", check_tests=False)
    with pytest.raises(Reached):
        synthesize.synthesize_one(loaded, {"id": "0", "prompt": "def f(x):\n", "tests": None}, 0, args, PairFilter())
    assert calls == [1]


def test_evaluation_batch_generates_and_infills_with_generators_on_the_model_device(tiny_model_dir,
                                                                                    declared_generators, monkeypatch):
    """Evaluation keyed its generators to the model's device already: this keeps it so."""
    from inference.loading import LoadedModel
    from repair import loop
    from repair.loop import Candidate, Engine, LoopConfig, Task, initial, make_generator

    policy = MetaPolicy(AutoConfig.from_pretrained(tiny_model_dir))
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    engine = Engine.from_loaded(LoadedModel(policy, tok, get_adapter(policy.config), META, "base"))
    calls = []

    def generate(model, ids, attention_mask=None, generator=None, **_):
        calls.append(check_sampler_inputs(model, ids, attention_mask, generator))
        raise Reached

    def infill(model, sequence, positions, attention_mask=None, generator=None, **_):
        assert positions.device == META
        calls.append(check_sampler_inputs(model, sequence, attention_mask, generator))
        raise Reached

    monkeypatch.setattr(loop, "generate", generate)
    monkeypatch.setattr(loop, "infill", infill)
    tasks = [Task(f"t{i}", p, engine.encode(p), None, seed=0) for i, p in enumerate(["def f(x):\n", "x = 1\ny ="])]
    assert all(t.prompt_ids.device == META for t in tasks)
    with pytest.raises(Reached):
        initial(engine, tasks, LoopConfig(steps=8, gen_length=8, block_length=8))
    cands = [Candidate(torch.zeros(1, n, dtype=torch.long, device=META), torch.ones(1, n, device=META), 2, [], "", [])
             for n in (6, 9)]
    positions = [torch.ones(1, n, dtype=torch.bool, device=META) for n in (6, 9)]
    with pytest.raises(Reached):
        engine.infill(cands, positions, 4, 0.2, ["", ""], [make_generator(engine.device, 0, t, "repair", 0)
                                                            for t in ("t0", "t1")])
    assert calls == [2, 2]
