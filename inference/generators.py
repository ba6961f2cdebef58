"""Random draws for the samplers with one stream per batch or one generator per row.

Its own module below inference/sampler.py and inference/sampler_dream.py (both draw through it, so neither imports the
other for it). Per-row generators make a row's draws depend on that row alone, never on which rows share its batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

# One stream for the whole batch (the reference's), or one generator per row: then a row's draws depend on that row
# alone, never on which other rows share the batch (batched evaluation gives the rows of batch size 1).
Generators = torch.Generator | Sequence[torch.Generator] | None


def per_row(generator: Generators) -> bool:
    return isinstance(generator, Sequence)


def check_generators(generator: Generators, batch: int) -> None:
    if per_row(generator) and len(generator) != batch:
        raise ValueError(f"{len(generator)} per-row generators for a batch of {batch} rows")


def _row_counts(rows: torch.Tensor, generator: Sequence[torch.Generator]) -> list[int]:
    """How many of the entries `rows` [N] (ascending batch rows) each row has: one host sync, not one per row."""
    return torch.bincount(rows, minlength=len(generator)).tolist()


def uniform_rows(shape: tuple[int, ...], rows: torch.Tensor, generator: Generators, device: torch.device,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """U(0, 1) of `shape` whose first dim belongs to batch rows `rows` [N] (ascending); per-row generators draw
    their rows' block."""
    if not per_row(generator):
        return torch.rand(shape, dtype=dtype, device=device, generator=generator)
    parts = [torch.rand((c, *shape[1:]), dtype=dtype, device=device, generator=g)
             for g, c in zip(generator, _row_counts(rows, generator)) if c]
    return torch.cat(parts) if parts else torch.empty(shape, dtype=dtype, device=device)


def multinomial_rows(probs: torch.Tensor, num_samples: int, rows: torch.Tensor | None, generator: Generators,
                     replacement: bool = False) -> torch.Tensor:
    """torch.multinomial over probs [N, V] whose rows belong to batch rows `rows` [N] (ascending); per-row
    generators draw their rows' block. -> [N, num_samples]"""
    if not per_row(generator):
        return torch.multinomial(probs, num_samples, replacement=replacement, generator=generator)
    counts = _row_counts(rows, generator)
    parts = [torch.multinomial(p, num_samples, replacement=replacement, generator=g)
             for p, g, c in zip(probs.split(counts), generator, counts) if c]
    return torch.cat(parts) if parts else probs.new_empty((0, num_samples), dtype=torch.long)
