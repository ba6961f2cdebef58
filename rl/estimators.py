"""Per-token log-probability estimators for masked-diffusion policies (pure functions).

A diffusion LM has no exact sequence likelihood; RL needs a per-token score s_i(theta) for each completion token o_i.
Every estimator here scores o_i from forward passes on partially masked copies of [prompt | completion]:

- coupled (DiffuCoder): t ~ U(t_min, t_max), u_i ~ U(0,1); pass 1 masks {u_i < t}, pass 2 the exact complement, so
  each completion token is scored exactly once. passes=2: s_i = M_i l1_i / t + (1 - M_i) l2_i / (1 - t) (or unweighted);
  passes=3 (the reference trainer's formula): s_i = 1/2 (l0_i + M_i l1_i / t + (1 - M_i) l2_i / (1 - t)), l0 from a
  fully masked completion.
- d1: one pass, completion fully masked, prompt tokens masked iid with p_mask_prompt (0.15).
- independent: `passes` passes with independent draws t_k, masks u^k_i < t_k; s_i = mean_k M^k_i l^k_i / t_k.

The mask draw is a `MaskDraw` made once per rollout and stored with it, so old / reference / current estimates of one
sample see the same masks (no global reseeding). Draws are made on the device of the completion mask they are given
(RL: the CPU, from a CPU generator, so a seed gives the same masks on any machine) and `estimate_logps` moves them to
the device of the ids they meet. The model adapter decides the logit alignment (LLaDA vs Dream).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from corruption.maskers import complementary_masks

LogitsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (ids [N, L], attention_mask [N, L]) -> [N, L, V]


@dataclass
class MaskDraw:
    """Which completion tokens each pass masks, plus the per-pass weights 1/t (stored with the rollout)."""

    completion_masks: torch.Tensor  # [K, N, C] bool: pass k masks these completion positions
    prompt_masks: torch.Tensor | None  # [K, N, P] bool (d1 only)
    pass_weights: torch.Tensor  # [K, N] float: multiplier of l^k_i where pass k masks token i
    constant: float  # overall factor (1/2 for the 3-pass formula, 1/K for independent)

    def index(self, rows: torch.Tensor | slice) -> MaskDraw:
        """The draw restricted to a subset of rollouts (for micro-batching)."""
        return MaskDraw(self.completion_masks[:, rows], None if self.prompt_masks is None else self.prompt_masks[:, rows],
                        self.pass_weights[:, rows], self.constant)

    def to(self, device: torch.device) -> MaskDraw:
        """The draw on `device` (where the ids and logits it meets live)."""
        return MaskDraw(self.completion_masks.to(device),
                        None if self.prompt_masks is None else self.prompt_masks.to(device),
                        self.pass_weights.to(device), self.constant)


def _uniform(shape, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=device)


def draw_coupled(completion_mask: torch.Tensor, generator: torch.Generator | None = None, t_min: float = 0.2,
                 t_max: float = 0.8, passes: int = 3, weighted: bool = True) -> MaskDraw:
    """completion_mask [N, C] bool: the positions the noise covers (for RL, every completion position, see
    rl.rollout.draw_rollout_masks). passes 2: the complementary pair; 3: + fully masked."""
    N, C = completion_mask.shape
    dev = completion_mask.device
    t = t_min + (t_max - t_min) * _uniform((N,), generator, dev)  # [N]
    m1, m2 = complementary_masks(completion_mask, t, generator)  # [N, C] each, exact complements
    ones = torch.ones(N, device=dev)
    w1, w2 = (1.0 / t, 1.0 / (1.0 - t)) if weighted else (ones, ones)
    if passes == 2:
        return MaskDraw(torch.stack([m1, m2]), None, torch.stack([w1, w2]), 1.0)
    if passes == 3:
        return MaskDraw(torch.stack([completion_mask, m1, m2]), None, torch.stack([ones, w1, w2]), 0.5)
    raise ValueError(f"coupled estimator supports passes 2 or 3, got {passes}")


def draw_d1(completion_mask: torch.Tensor, prompt_len: int, generator: torch.Generator | None = None,
            p_mask_prompt: float = 0.15, passes: int = 1) -> MaskDraw:
    """d1's one-pass estimate (passes = 1), or the mean of `passes` of them with independent prompt masks: d1 at the
    forward-pass budget of another estimator (an equal-compute comparison)."""
    N, dev = completion_mask.shape[0], completion_mask.device
    prompt_masks = _uniform((passes, N, prompt_len), generator, dev) < p_mask_prompt  # [K, N, P]
    return MaskDraw(completion_mask.expand(passes, N, -1).clone(), prompt_masks, torch.ones(passes, N, device=dev),
                    1.0 / passes)


def draw_independent(completion_mask: torch.Tensor, generator: torch.Generator | None = None, passes: int = 2,
                     t_min: float = 0.2, t_max: float = 0.8) -> MaskDraw:
    N, C = completion_mask.shape
    t = t_min + (t_max - t_min) * _uniform((passes, N), generator, completion_mask.device)  # [K, N]
    masks = (_uniform((passes, N, C), generator, completion_mask.device) < t[..., None]) & completion_mask
    return MaskDraw(masks, None, 1.0 / t, 1.0 / passes)


def masked_inputs(prompt_ids: torch.Tensor, completion_ids: torch.Tensor, draw: MaskDraw, mask_id: int) -> torch.Tensor:
    """[K * N, P + C]: pass-major copies of [prompt | completion] with each pass's masks applied."""
    K = draw.completion_masks.shape[0]
    completion = completion_ids.expand(K, *completion_ids.shape).masked_fill(draw.completion_masks, mask_id)
    prompt = prompt_ids.expand(K, *prompt_ids.shape)
    if draw.prompt_masks is not None:
        prompt = prompt.masked_fill(draw.prompt_masks, mask_id)
    return torch.cat([prompt, completion], dim=-1).flatten(0, 1)


def token_logps(logits: torch.Tensor, targets: torch.Tensor, chunk: int = 8) -> torch.Tensor:
    """log p(targets) [M, C] from logits [M, C, V], log-softmax computed in row chunks to bound fp32 memory."""
    out = [torch.log_softmax(lg.float(), -1).gather(-1, tg[..., None]).squeeze(-1)
           for lg, tg in zip(logits.split(chunk), targets.split(chunk))]
    return torch.cat(out)


def estimate_logps(logits_fn: LogitsFn, prompt_ids: torch.Tensor, completion_ids: torch.Tensor,
                   attention_mask: torch.Tensor, draw: MaskDraw, mask_id: int) -> torch.Tensor:
    """Per-token score s [N, C] (0 at padding positions) from one batched forward over all passes.

    prompt_ids [N, P], completion_ids [N, C], attention_mask [N, P + C] (padding: the reference omits it, a bug).
    The stored draw may live elsewhere (RL keeps it on the CPU): it is moved to the ids' device."""
    draw = draw.to(completion_ids.device)
    K = draw.completion_masks.shape[0]
    N, P = prompt_ids.shape
    ids = masked_inputs(prompt_ids, completion_ids, draw, mask_id)  # [K*N, P+C]
    logits = logits_fn(ids, attention_mask.repeat(K, 1))[:, P:]  # [K*N, C, V]
    logps = token_logps(logits, completion_ids.repeat(K, 1)).view(K, N, -1)  # [K, N, C]
    weights = draw.completion_masks.float() * draw.pass_weights[..., None]  # [K, N, C]
    return draw.constant * (weights * logps).sum(0)  # [N, C]


@dataclass
class EstimatorConfig:
    name: str = "coupled"  # per-token log-prob estimator: coupled (DiffuCoder) | d1 | independent
    # forward passes: coupled 2 (complementary pair) or 3 (+ fully masked, the reference formula); independent: K
    # draws; d1: K one-pass estimates averaged. None: each estimator's own default (coupled 3, independent 3, d1 1)
    passes: int | None = None
    weighted: bool = True  # coupled: weight pass scores by 1/t and 1/(1-t)
    t_min: float = 0.2  # coupled / independent: masking rate t ~ U(t_min, t_max)
    t_max: float = 0.8  # upper end of the masking rate
    p_mask_prompt: float = 0.15  # d1: rate at which prompt tokens are masked


DEFAULT_PASSES = {"coupled": 3, "independent": 3, "d1": 1}
DRAWS = {
    "coupled": lambda c, cm, plen, g, k: draw_coupled(cm, g, c.t_min, c.t_max, k, c.weighted),
    "d1": lambda c, cm, plen, g, k: draw_d1(cm, plen, g, c.p_mask_prompt, k),
    "independent": lambda c, cm, plen, g, k: draw_independent(cm, g, k, c.t_min, c.t_max),
}


def draw_masks(cfg: EstimatorConfig, completion_mask: torch.Tensor, prompt_len: int,
               generator: torch.Generator | None = None) -> MaskDraw:
    """The stored mask draw for a batch of rollouts, by estimator name."""
    if cfg.name not in DRAWS:
        raise ValueError(f"estimator must be one of {sorted(DRAWS)}, got {cfg.name!r}")
    passes = cfg.passes if cfg.passes is not None else DEFAULT_PASSES[cfg.name]
    if passes < 1:
        raise ValueError(f"estimator passes must be >= 1, got {passes}")
    return DRAWS[cfg.name](cfg, completion_mask, prompt_len, generator, passes)
