"""Dream's `diffusion_generate` as a sampler mode: the whole completion is one canvas, unmasked on a time schedule.

Schedule (Dream-org/Dream generation_utils): timesteps linspace(1, eps, steps + 1); at step i (t = ts[i], s = ts[i+1]):
- alg "origin": every masked position is committed independently with probability 1 - s / t (all at the last step),
  its token sampled from the (temperature / top_p / top_k shaped) distribution;
- alg "maskgit_plus" / "topk_margin" / "entropy": every masked position gets a token and a confidence (its probability,
  top1 - top2 probability margin, or negative entropy); the k = int(mean masked per row * (1 - s / t)) most confident
  positions of each row are committed (all the rest at the last step); alg_temp > 0 samples the k positions from
  softmax(confidence / alg_temp) instead of taking the top k.
At temperature 0 (and with the same torch.Generator for the random parts) the committed tokens equal a transcription of
the reference (tests/inference/reference_dream_sampler.py). Deliberate differences, as in inference/sampler.py:
- the mask token is never picked as a token (the reference can commit <|mask|>, leaving a hole); it keeps its mass in
  the softmax, so confidences are the reference's;
- a step whose schedule commits nothing (k = 0, e.g. the first step when steps == gen_length) is skipped without a
  forward pass: at temperature 0 the output is unchanged and NFE counts real work;
- a row with fewer masks than k commits only its masks (the reference would write <|mask|> over committed tokens);
- the padding mask is a 2D key-padding mask and positions are the model's cumsum(mask) - 1, which gives the same
  logits at every real position as the reference's 4D mask (tests/inference/test_dream_modeling.py).
Prompt positions holding the mask token are filled too (Dream's infill convention).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from inference.adapters import get_adapter, token_logits
from inference.generators import Generators, check_generators, multinomial_rows, per_row, uniform_rows
from inference.sampler_output import GenerationOutput
from inference.sampler_output import check_padding as _check_padding


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest prefix of the sorted distribution whose mass exceeds top_p (the first token always)."""
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # [N, V]
    drop_sorted = torch.zeros_like(cum, dtype=torch.bool)
    drop_sorted[..., 1:] = cum[..., :-1] > top_p  # a token goes once the ones before it already exceed top_p
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, torch.finfo(logits.dtype).min)


def top_k_filter(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]  # [N, 1]
    return logits.masked_fill(logits < kth, torch.finfo(logits.dtype).min)


def token_distribution(logits: torch.Tensor, temperature: float, top_p: float | None,
                       top_k: int | None) -> torch.Tensor:
    """probs [N, V]: logits / temperature (when > 0), then top_p, then top_k, then softmax (the reference's order)."""
    if temperature > 0:
        logits = logits / temperature
    if top_p is not None and top_p < 1:
        logits = top_p_filter(logits, top_p)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    return logits.softmax(dim=-1)


def pick_tokens(probs: torch.Tensor, temperature: float, mask_id: int, generator: Generators,
                rows: torch.Tensor | None = None) -> torch.Tensor:
    """x0 [N]: argmax at temperature 0, else one categorical draw per row; never the mask token. rows [N]: the
    batch row of each (ascending; needed with per-row generators)."""
    pick = probs.clone()
    pick[:, mask_id] = 0.0
    if temperature > 0:
        return multinomial_rows(pick, 1, rows, generator, replacement=True).squeeze(-1)
    return pick.argmax(dim=-1)


def _margin(probs: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    top2 = probs.topk(2, dim=-1).values
    return top2[:, 0] - top2[:, 1]


# Confidence of a predicted position by algorithm: (probs [N, V], x0 [N]) -> [N], higher = commit earlier.
CONFIDENCE: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "maskgit_plus": lambda probs, x0: probs.gather(-1, x0[:, None]).squeeze(-1),
    "topk_margin": _margin,
    "entropy": lambda probs, x0: (probs * torch.log(probs + 1e-10)).sum(dim=-1),  # negative entropy
}
ALGORITHMS = ("origin", *CONFIDENCE)


def transfer_count(masked: torch.Tensor, t: torch.Tensor, s: torch.Tensor, last: bool) -> int:
    """Tokens to commit per row this step: int(mean masked per row * (1 - s / t)), everything at the last step."""
    n = masked.sum() / masked.shape[0]  # float32 batch mean, computed as the reference does
    return int(n) if last else int(n * (1 - s / t))


def choose_positions(confidence: torch.Tensor, masked: torch.Tensor, k: int, alg_temp: float | None,
                     generator: Generators) -> torch.Tensor:
    """[B, L] bool: per row the k most confident masked positions (or k drawn from softmax(confidence / alg_temp))."""
    full = torch.full(masked.shape, -torch.inf, dtype=confidence.dtype, device=masked.device)
    full[masked] = confidence
    if alg_temp is None or alg_temp == 0:
        idx = full.topk(k, dim=-1).indices  # [B, k]
    else:
        rows = torch.arange(masked.shape[0], device=masked.device)  # [B] one draw of k per batch row
        idx = multinomial_rows(F.softmax(full / alg_temp, dim=-1), k, rows, generator)
    chosen = torch.zeros_like(masked).scatter(1, idx, True)
    return chosen & masked


def _predictions(x: torch.Tensor, logits: torch.Tensor, mask_id: int) -> torch.Tensor:
    pred = x.clone()
    still = x == mask_id
    pred[still] = logits[still].index_fill(-1, torch.tensor([mask_id], device=x.device), -torch.inf).argmax(-1)
    return pred


@torch.no_grad()
def diffusion_generate(model, prompt_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, steps: int = 128,
                       gen_length: int = 128, temperature: float = 0.0, top_p: float | None = None,
                       top_k: int | None = None, alg: str = "origin", alg_temp: float | None = None,
                       eps: float = 1e-3, mask_id: int | None = None, generator: Generators = None,
                       return_trajectory: bool = False, record_order: bool = False) -> GenerationOutput:
    """Dream-style generation of gen_length tokens after left-padded prompts [B, P] (attention_mask [B, P]).

    `generator`: one stream for the batch (the reference's), or one per row: a row's draws then depend on that row
    alone (the k of a step is the batch mean of masked positions, equal for every row of a batch that starts with
    the same number of masks, e.g. unmasked prompts).
    `record_order`: also return `commit_step` [B, gen_length], the executed step that committed each position (even
    with steps == gen_length the schedule commits the last two positions in one step: not one token per step)."""
    if alg not in ALGORITHMS:
        raise ValueError(f"unknown alg {alg!r}; known: {list(ALGORITHMS)}")
    adapter = get_adapter(model.config)
    mask_id = adapter.mask_token_id if mask_id is None else mask_id
    _check_padding(prompt_ids, attention_mask, mask_id)
    check_generators(generator, prompt_ids.shape[0])
    B, P = prompt_ids.shape
    x = torch.cat([prompt_ids, prompt_ids.new_full((B, gen_length), mask_id)], dim=1)  # [B, L]
    att = None
    if attention_mask is not None and not bool(attention_mask.all()):
        att = torch.cat([attention_mask, attention_mask.new_ones(B, gen_length)], dim=1)  # [B, L]
    conf = torch.zeros(x.shape, device=x.device)
    commit_step = torch.full_like(x, -1) if record_order else None  # [B, L]
    trajectory, predictions = ([], []) if return_trajectory else (None, None)
    timesteps = torch.linspace(1, eps, steps + 1, device=x.device)
    nfe = 0
    for i in range(steps):
        masked = x == mask_id  # [B, L]
        if not masked.any():
            break
        t, s, last = timesteps[i], timesteps[i + 1], i == steps - 1
        k = None if alg == "origin" else transfer_count(masked, t, s, last)
        if k == 0:
            continue
        logits = token_logits(model, x, att, adapter)  # [B, L, V] row i scores token i
        nfe += 1
        rows = logits[masked]  # [N, V]
        row_ids = masked.nonzero()[:, 0] if per_row(generator) else None  # [N] batch row of each
        if alg == "origin":
            go = uniform_rows((rows.shape[0],), row_ids, generator, x.device) < (1.0 if last else 1 - s / t)
            probs = token_distribution(rows[go], temperature, top_p, top_k)
            x0 = pick_tokens(probs, temperature, mask_id, generator, None if row_ids is None else row_ids[go])
            chosen = torch.zeros_like(masked)
            chosen[masked] = go
        else:
            probs = token_distribution(rows, temperature, top_p, top_k)
            x0 = pick_tokens(probs, temperature, mask_id, generator, row_ids)
            chosen = choose_positions(CONFIDENCE[alg](probs, x0), masked, k, alg_temp, generator)
            keep = chosen[masked]  # [N] which predicted rows are committed
            probs, x0 = probs[keep], x0[keep]
        x[chosen] = x0
        if commit_step is not None:
            commit_step[chosen] = nfe - 1  # one forward per executed step: the trajectory's index
        conf[chosen] = probs.gather(-1, x0[:, None]).squeeze(-1).float()
        if trajectory is not None:
            trajectory.append(x.clone())
            predictions.append(_predictions(x, logits, mask_id))
    order = None if commit_step is None else commit_step[:, P:]
    return GenerationOutput(x, conf[:, P:], nfe, trajectory, predictions, commit_step=order)
