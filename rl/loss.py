"""The clipped GRPO policy loss with the k3 KL penalty (pure function).

loss_i = -min(rho_i A, clip(rho_i, 1 - eps_low, 1 + eps_high) A) + beta * k3_i,  rho_i = exp(s_i - s_i^old),
k3_i = exp(s_ref - s) - (s_ref - s) - 1, averaged over all completion tokens of the batch (up to and including EOS).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PolicyLoss:
    loss: torch.Tensor  # scalar
    kl: torch.Tensor  # scalar, mean k3 over completion tokens (0 when there is no reference)
    clip_low: torch.Tensor  # fraction of tokens clipped at 1 - eps_low with A < 0
    clip_high: torch.Tensor  # fraction clipped at 1 + eps_high with A > 0
    clip_region: torch.Tensor  # either


def grpo_loss(
    logps: torch.Tensor,  # [N, C] current estimate s(theta)
    old_logps: torch.Tensor,  # [N, C] estimate under the rollout policy
    ref_logps: torch.Tensor | None,  # [N, C] estimate under the frozen reference, or None when beta = 0
    advantages: torch.Tensor,  # [N]
    completion_mask: torch.Tensor,  # [N, C] bool
    epsilon_low: float,
    epsilon_high: float,
    beta: float,
) -> PolicyLoss:
    mask = completion_mask.float()
    n_tokens = mask.sum().clamp_min(1.0)
    A = advantages[:, None]  # [N, 1]
    rho = torch.exp(logps - old_logps)  # [N, C]
    clipped = rho.clamp(1 - epsilon_low, 1 + epsilon_high)
    per_token = -torch.min(rho * A, clipped * A)  # [N, C]
    kl = torch.zeros((), device=logps.device)
    if ref_logps is not None and beta != 0.0:
        delta = ref_logps - logps
        k3 = torch.exp(delta) - delta - 1  # [N, C]
        per_token = per_token + beta * k3
        kl = (k3 * mask).sum() / n_tokens
    low = ((rho < 1 - epsilon_low) & (A < 0)).float()
    high = ((rho > 1 + epsilon_high) & (A > 0)).float()
    return PolicyLoss(
        loss=(per_token * mask).sum() / n_tokens,
        kl=kl.detach(),
        clip_low=(low * mask).sum() / n_tokens,
        clip_high=(high * mask).sum() / n_tokens,
        clip_region=((low + high) * mask).sum() / n_tokens,
    )
