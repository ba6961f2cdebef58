"""Noise schedules: the per-sample masking level P_mask [B] for a training step.

- linear (LLaDA GUIDELINES.md): t ~ U(0, 1), p = (1 - eps) t + eps, eps = 1e-3.
- curriculum (TreeDiff appendix A.2): eps_t cosine-annealed over training from eps_max = 0.1 to eps_min = 0.001,
  P_mask = (1 - eps_t) lambda + eps_t, lambda ~ U(0, 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def _device(generator: torch.Generator | None) -> torch.device | None:
    """Draws are made where their generator lives (the default device without one)."""
    return None if generator is None else generator.device


def linear(batch_size: int, step: int, total_steps: int, generator: torch.Generator | None = None,
           eps: float = 1e-3) -> torch.Tensor:
    t = torch.rand(batch_size, generator=generator, device=_device(generator))  # [B]
    return (1 - eps) * t + eps


def curriculum_eps(step: int, total_steps: int, eps_max: float = 0.1, eps_min: float = 0.001) -> float:
    """Cosine annealing of the base rate: eps_max at step 0, eps_min at the last step."""
    progress = min(max(step / max(total_steps - 1, 1), 0.0), 1.0)
    return eps_min + 0.5 * (eps_max - eps_min) * (1 + math.cos(math.pi * progress))


def curriculum(batch_size: int, step: int, total_steps: int, generator: torch.Generator | None = None,
               eps_max: float = 0.1, eps_min: float = 0.001) -> torch.Tensor:
    eps_t = curriculum_eps(step, total_steps, eps_max, eps_min)  # same base rate for the whole batch
    lam = torch.rand(batch_size, generator=generator, device=_device(generator))  # [B]
    return (1 - eps_t) * lam + eps_t


Schedule = Callable[..., torch.Tensor]  # (batch_size, step, total_steps, generator, **kwargs) -> P_mask [B]
SCHEDULES: dict[str, Schedule] = {"linear": linear, "curriculum": curriculum}


def sample_p_mask(name: str, batch_size: int, step: int, total_steps: int, generator: torch.Generator | None = None,
                  **kwargs) -> torch.Tensor:
    """P_mask [B] from the named schedule."""
    if name not in SCHEDULES:
        raise ValueError(f"schedule must be one of {sorted(SCHEDULES)}, got {name!r}")
    return SCHEDULES[name](batch_size, step, total_steps, generator, **kwargs)
