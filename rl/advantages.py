"""Group advantages for G completions per prompt (rewards laid out prompt-major: [P * G])."""

from __future__ import annotations

import torch


def _grouped(rewards: torch.Tensor, G: int) -> torch.Tensor:
    if rewards.numel() % G:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {G}")
    return rewards.view(-1, G)  # [P, G]


def leave_one_out(rewards: torch.Tensor, G: int) -> torch.Tensor:
    """A_j = r_j - mean_{k != j} r_k (DiffuCoder's reference; TRL scale_rewards=False with an RLOO baseline)."""
    r = _grouped(rewards, G)
    return (r - (r.sum(1, keepdim=True) - r) / (G - 1)).flatten()


def group_scaled(rewards: torch.Tensor, G: int) -> torch.Tensor:
    """(r - mean_group) / (std_group + 1e-4) (TRL scale_rewards="group")."""
    r = _grouped(rewards, G)
    return ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)).flatten()


def batch_scaled(rewards: torch.Tensor, G: int) -> torch.Tensor:
    """(r - mean_group) / (std_batch + 1e-4) (TRL scale_rewards="batch")."""
    r = _grouped(rewards, G)
    return ((r - r.mean(1, keepdim=True)) / (rewards.std() + 1e-4)).flatten()


def centered(rewards: torch.Tensor, G: int) -> torch.Tensor:
    """r - mean_group (TRL scale_rewards="none")."""
    r = _grouped(rewards, G)
    return (r - r.mean(1, keepdim=True)).flatten()


ADVANTAGES = {"leave_one_out": leave_one_out, "group": group_scaled, "batch": batch_scaled, "none": centered}


def frac_zero_std(rewards: torch.Tensor, G: int) -> float:
    """Fraction of groups whose G rewards are all equal (they carry no learning signal)."""
    return (_grouped(rewards, G).std(1) == 0).float().mean().item()
