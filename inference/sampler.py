"""The masked-diffusion sampler: LLaDA's semi-autoregressive generate, fixed-token infill, and Fast-dLLM fast modes.

At temperature 0 (and for random remasking with the same torch.Generator) `generate` commits exactly the tokens of
LLaDA's reference sampler: same block/step schedule, confidences and top-k commits. Deliberate differences:
- the reference's bugs are fixed: confidence_eos_eot_inf gives both EOS and EOT probability 0 in the confidence (the
  reference's chained assignment only reached EOT), and cfg_scale > 0 works without an attention mask;
- the [MASK] token itself is never predicted (the reference can commit [MASK], leaving a hole);
- Gumbel noise (temperature > 0) is drawn only for the positions that can be committed, not for all [B, L, V]
  logits, so sampled outputs have the reference's distribution but not its random stream;
- a step in which no row has anything to commit is skipped (it cannot change the output), so NFE counts real work.
Fast modes (off by default): `threshold` commits, per step, the most confident eligible position plus every one
whose probability >= threshold (Fast-dLLM: at least one token per step, the step count adapts and `steps` is not
used); `use_cache` runs the full sequence once per block and reuses the keys/values of the prefix; `dual_cache`
reuses those of the prefix and of the later blocks, and the other steps run the block alone (Fast-dLLM's DualCache);
`refresh_every` also rebuilds either cache every n-th step of a block (inference/sampler_forward.py).
Revision (`revise`, off by default; CORE-style remasking during generation, repair/core.py): after a step, a hook may
return committed generated tokens to re-mask; they are denoised again within the remaining steps of the current block
(the schedule is recomputed), or of the next block when the block just ended, so the step count is unchanged and NFE
grows only by the hook's own forward passes. Never after the last step of the last block.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from inference.adapters import ModelAdapter, get_adapter
from inference.generators import Generators, check_generators, per_row, uniform_rows
from inference.sampler_forward import Forward, forward
from inference.sampler_output import GenerationOutput
from inference.sampler_output import check_padding as _check_padding

# After a step: (x [B, L], confidences [B, L], attention [B, L] | None) -> (committed positions to re-mask [B, L],
# forward passes the hook ran for each row [B]).
Reviser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], tuple[torch.Tensor, torch.Tensor]]

@dataclass
class StepOptions:
    """The per-step knobs shared by generate and infill."""

    temperature: float = 0.0
    remasking: str = "low_confidence"
    mask_id: int = 0
    eos_id: int | None = None
    eot_id: int | None = None
    logits_eos_inf: bool = False
    confidence_eos_eot_inf: bool = False
    threshold: float | None = None
    generator: Generators = None
    revise: Reviser | None = None


@dataclass
class _State:
    x: torch.Tensor  # [B, L]
    attention_mask: torch.Tensor | None  # [B, L]
    confidences: torch.Tensor  # [B, L] float32
    nfe: int = 0
    row_nfe: torch.Tensor | None = None  # [B]
    trajectory: list[torch.Tensor] | None = None
    predictions: list[torch.Tensor] | None = None
    commit_step: torch.Tensor | None = None  # [B, L] the executed step that last committed it, -1: none
    steps_done: int = 0  # executed steps (the trajectory's length)


def random_scores(p: torch.Tensor, generator: Generators, att: torch.Tensor | None) -> torch.Tensor:
    """U(0, 1) for every position [B, L], as the reference (a fixed generator gives its exact draws); per-row
    generators draw only the row's unpadded part (after its left padding, att [B, L]), so padding does not shift them."""
    if not per_row(generator):
        return torch.rand(p.shape, device=p.device, generator=generator)
    lead = [0] * p.shape[0] if att is None else (att == 0).sum(dim=1).tolist()
    scores = torch.zeros(p.shape, device=p.device)
    for b, g in enumerate(generator):
        scores[b, lead[b]:] = torch.rand(p.shape[1] - lead[b], device=p.device, generator=g)
    return scores


# Ranking scores for the top-k commit, by remasking mode: (probabilities [B, L], generator(s), attention) -> [B, L].
REMASKING: dict[str, Callable[[torch.Tensor, Generators, torch.Tensor | None], torch.Tensor]] = {
    "low_confidence": lambda p, g, att: p,
    "random": random_scores,
}


def block_schedule(gen_length: int, block_length: int, steps: int) -> tuple[int, int]:
    """(number of blocks, steps per block), with the reference's divisibility rules."""
    if gen_length % block_length:
        raise ValueError(f"gen_length {gen_length} must be a multiple of block_length {block_length}")
    n_blocks = gen_length // block_length
    if steps % n_blocks:
        raise ValueError(f"steps {steps} must be a multiple of the number of blocks {n_blocks}")
    return n_blocks, steps // n_blocks


def fit_block_schedule(gen_length: int, block_length: int, steps: int,
                       names: tuple[str, str, str] = ("gen_length", "block_length", "steps")) -> int:
    """The block length to sample with, checked before any work: options the sampler cannot run together are a
    UsageError stating the rule (`names` are how the caller's user spells the three options).

    A block longer than the generation is clamped to it with a note (one block: the evident intent, and what the
    repair loop does); a generation that is not a whole number of blocks, or steps that do not divide evenly over the
    blocks, are refused: which of the numbers to change is the user's call.
    """
    from data.usage import UsageError, note

    gen_name, block_name, steps_name = names
    for name, value in zip(names, (gen_length, block_length, steps)):
        if value < 1:
            raise UsageError(f"{name} must be >= 1, got {value}")
    if block_length > gen_length:
        note(f"{block_name} {block_length} > {gen_name} {gen_length}: sampling one block of {gen_length}")
        block_length = gen_length
    if gen_length % block_length:
        raise UsageError(f"{gen_name} {gen_length} must be a multiple of {block_name} {block_length}")
    n_blocks = gen_length // block_length
    if steps % n_blocks:
        raise UsageError(f"{steps_name} {steps} must be a multiple of the number of blocks {n_blocks} "
                         f"({gen_name} {gen_length} / {block_name} {block_length})")
    return block_length


def step_schedule(masked: torch.Tensor, steps: int) -> torch.Tensor:
    """Tokens to commit per step [B, steps] for masked [B, W]: n // steps each, the first n % steps one more."""
    n = masked.sum(dim=1, keepdim=True)  # [B, 1]
    extra = torch.arange(steps, device=masked.device)[None, :] < (n % steps)  # [B, steps]
    return n // steps + extra.long()


def sample_tokens(rows: torch.Tensor, opts: StepOptions, row_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x0 [N] and its probability [N] for logits rows [N, V] of the positions that may be committed (batch rows
    row_ids [N], ascending; they pick the per-row generators)."""
    rows = rows.clone()
    if opts.logits_eos_inf and opts.eos_id is not None:
        rows[:, opts.eos_id] = -torch.inf
    # [MASK] is never picked, but it keeps its mass in the softmax below: confidences stay bit-identical to the
    # reference's, whose exact ties decide which position is committed.
    pick = rows.clone()
    pick[:, opts.mask_id] = -torch.inf
    if opts.temperature == 0:
        x0 = pick.argmax(dim=-1)
    else:
        # Gumbel-max in float64 as the reference: exp(l) / (-log U)^T (low precision makes ties and biases).
        u = uniform_rows(rows.shape, row_ids, opts.generator, rows.device, torch.float64)
        x0 = (pick.to(torch.float64).exp() / (-torch.log(u)) ** opts.temperature).argmax(dim=-1)
    if opts.confidence_eos_eot_inf:
        # Committed last: an EOS/EOT prediction scores probability 0 (x0 itself is unchanged).
        rows[:, [i for i in (opts.eos_id, opts.eot_id) if i is not None]] = -torch.inf
    p = F.softmax(rows, dim=-1).gather(-1, x0[:, None]).squeeze(-1)  # softmax in the logits' dtype, as the reference
    return x0, p


def excluded_ids(opts: StepOptions) -> list[int]:
    """Token ids generation never commits: [MASK] always, EOS when logits_eos_inf."""
    return [opts.mask_id] + ([opts.eos_id] if opts.logits_eos_inf and opts.eos_id is not None else [])


def argmax_excluding(logits: torch.Tensor, excluded: list[int]) -> torch.Tensor:
    """argmax over the last dim of logits [..., V] among the ids not in `excluded` (a top-(E+1) instead of a copy of
    the [..., V] logits with -inf columns, which the trajectory would pay for at every step)."""
    top = logits.topk(len(excluded) + 1, dim=-1).indices  # [..., E + 1]
    allowed = ~torch.isin(top, torch.tensor(excluded, device=top.device))
    first = allowed.to(torch.uint8).argmax(dim=-1, keepdim=True)  # the best-ranked allowed id
    return top.gather(-1, first).squeeze(-1)


def commit(scores: torch.Tensor, k: torch.Tensor, p: torch.Tensor, eligible: torch.Tensor,
           threshold: float | None) -> torch.Tensor:
    """Positions to commit [B, L]: the top-k[b] scores of each row, plus (fast mode) every eligible p >= threshold."""
    scores = scores.masked_fill(~eligible, -torch.inf)
    k = torch.minimum(k, eligible.sum(dim=1))  # [B] rows that finished early commit nothing
    chosen = torch.zeros_like(eligible)
    # One 1-D topk per row, as the reference: exact confidence ties do occur (near-identical masked positions) and
    # a batched [B, L] topk breaks them differently.
    for row, kr in enumerate(k.tolist()):
        if kr > 0:
            chosen[row, scores[row].topk(kr).indices] = True
    if threshold is not None:
        chosen |= eligible & (p >= threshold)
    return chosen


def denoise_step(st: _State, fw: Forward, opts: StepOptions, region: torch.Tensor, k: torch.Tensor,
                 refresh: bool) -> None:
    """One step: forward, predict the eligible positions (masked and in region [B, L]), commit, record."""
    x = st.x
    eligible = (x == opts.mask_id) & region  # [B, L]
    logits, offset, nfe = forward(fw, x, st.attention_mask, refresh)  # [B, W, V]
    st.nfe += nfe
    st.row_nfe += nfe * (k > 0).long()
    b, pos = eligible.nonzero(as_tuple=True)
    x0_rows, p_rows = sample_tokens(logits[b, pos - offset], opts, b)
    x0, p = torch.zeros_like(x), torch.zeros(x.shape, dtype=p_rows.dtype, device=x.device)  # [B, L]
    x0[b, pos], p[b, pos] = x0_rows, p_rows
    chosen = commit(REMASKING[opts.remasking](p, opts.generator, st.attention_mask), k, p, eligible, opts.threshold)
    x[chosen] = x0[chosen]
    st.confidences[chosen] = p[chosen].float()
    if st.commit_step is not None:
        st.commit_step[chosen] = st.steps_done
    st.steps_done += 1
    if st.trajectory is not None:
        st.trajectory.append(x.clone())
        st.predictions.append(step_predictions(x, logits, offset, st.predictions[-1] if st.predictions else None,
                                               opts))


def step_predictions(x: torch.Tensor, logits: torch.Tensor, offset: int, previous: torch.Tensor | None,
                     opts: StepOptions) -> torch.Tensor:
    """x [B, L] with its masks filled by the argmax of logits [B, W, V] (positions offset .. offset + W), never [MASK]
    (nor what generation excludes): a decoded intermediate state must be a concrete program. Masked positions this
    forward did not compute (a cached step's window) keep the previous step's prediction."""
    pred = x.clone()
    still = x == opts.mask_id  # [B, L]
    end = offset + logits.shape[1]
    inside = torch.zeros_like(still)
    inside[:, offset:end] = still[:, offset:end]
    best = argmax_excluding(logits, excluded_ids(opts))  # [B, W]
    pred[inside] = best[inside[:, offset:end]]
    if previous is not None:
        outside = still & ~inside
        pred[outside] = previous[outside]
    return pred


def apply_revision(st: _State, opts: StepOptions, region: torch.Tensor) -> bool:
    """Ask the revision hook after a step; re-mask the committed positions of `region` it names (count its NFE)."""
    positions, used = opts.revise(st.x, st.confidences, st.attention_mask)
    st.nfe += int(used.max()) if used.numel() else 0  # one batched pass serves every row that asked for it
    st.row_nfe += used.to(st.row_nfe.device)
    positions = positions.to(st.x.device) & region & (st.x != opts.mask_id)
    st.x[positions] = opts.mask_id
    st.confidences[positions] = 0.0
    if st.commit_step is not None:
        st.commit_step[positions] = -1  # committed again later: the order records that commit
    return bool(positions.any())


def denoise_region(st: _State, fw: Forward, opts: StepOptions, region: torch.Tensor, steps: int,
                   final: bool = True) -> None:
    """Unmask region [B, L]: `steps` scheduled steps, or (threshold mode) steps until it is filled.

    Threshold mode is Fast-dLLM's parallel decoding: each step commits the most confident position of every unfinished
    row plus every position with p >= threshold, and the step count is adaptive (it ignores `steps`).
    `final`: no step follows this region's last one (a revision there would leave masks).
    """
    if opts.threshold is not None:
        done = 0  # forwards run in this region: the cache refreshes by them
        while bool(((st.x == opts.mask_id) & region).any()):
            k = ((st.x == opts.mask_id) & region).any(dim=1).long()  # [B] one forced commit per unfinished row
            denoise_step(st, fw, opts, region, k, fw.refresh_due(done))
            done += 1
            if opts.revise is not None:
                apply_revision(st, opts, region)  # re-masked tokens keep the loop going
        return
    sched = step_schedule((st.x == opts.mask_id) & region, steps)  # [B, steps]
    done = 0
    for i in range(steps):
        if not bool(((st.x == opts.mask_id) & region).any()):
            break
        k = sched[:, i]
        if not bool(k.any()):
            continue  # nothing scheduled in any row: the step could not change x
        denoise_step(st, fw, opts, region, k, fw.refresh_due(done))
        done += 1
        if opts.revise is not None and (i < steps - 1 or not final):
            if apply_revision(st, opts, region) and i < steps - 1:  # else the next block's schedule takes them
                sched[:, i + 1:] = step_schedule((st.x == opts.mask_id) & region, steps - i - 1)


def _options(model, mask_id, eos_id, **kw) -> tuple[ModelAdapter, StepOptions]:
    adapter = get_adapter(model.config)
    if kw["remasking"] not in REMASKING:
        raise ValueError(f"unknown remasking {kw['remasking']!r}; known: {sorted(REMASKING)}")
    mask_id = adapter.mask_token_id if mask_id is None else mask_id
    if mask_id != adapter.mask_token_id:
        adapter = dataclasses.replace(adapter, mask_token_id=mask_id)
    eos_id = adapter.eos_token_id if eos_id is None else eos_id
    return adapter, StepOptions(mask_id=mask_id, eos_id=eos_id, **kw)


def _state(x: torch.Tensor, att: torch.Tensor | None, conf: torch.Tensor, trajectory: bool,
           record_order: bool = False) -> _State:
    return _State(x, att, conf, row_nfe=torch.zeros(x.shape[0], dtype=torch.long, device=x.device),
                  trajectory=[] if trajectory else None, predictions=[] if trajectory else None,
                  commit_step=torch.full_like(x, -1) if record_order else None)


def cache_mode(use_cache: bool, dual_cache: bool, refresh_every: int | None, revise: Reviser | None) -> str | None:
    """generate's cache options -> a sampler_forward.CACHES name, refusing what cannot run together."""
    if use_cache and dual_cache:
        raise ValueError("use_cache (prefix cache) and dual_cache are two cache modes: pick one")
    cache = "dual" if dual_cache else "prefix" if use_cache else None
    if revise is not None and cache is not None:
        raise ValueError(f"revise re-masks tokens of earlier blocks, which the {cache} cache would keep stale")
    if refresh_every is not None and (cache is None or refresh_every < 1):
        raise ValueError(f"refresh_every must be >= 1 and needs use_cache or dual_cache, got {refresh_every} "
                         f"with cache {cache}")
    return cache


@torch.no_grad()
def generate(model, prompt_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, steps: int = 128,
             gen_length: int = 128, block_length: int = 128, temperature: float = 0.0, cfg_scale: float = 0.0,
             remasking: str = "low_confidence", mask_id: int | None = None, logits_eos_inf: bool = False,
             confidence_eos_eot_inf: bool = False, eos_id: int | None = None, eot_id: int | None = None,
             generator: Generators = None, return_trajectory: bool = False,
             threshold: float | None = None, use_cache: bool = False, revise: Reviser | None = None,
             dual_cache: bool = False, refresh_every: int | None = None,
             record_order: bool = False) -> GenerationOutput:
    """Semi-autoregressive masked-diffusion generation for left-padded prompts [B, P] (attention_mask [B, P]).

    `record_order`: also return the decoding order, `commit_step` [B, gen_length] (inference/arness.py reads it)."""
    cache = cache_mode(use_cache, dual_cache, refresh_every, revise)
    adapter, opts = _options(model, mask_id, eos_id, temperature=temperature, remasking=remasking, eot_id=eot_id,
                             logits_eos_inf=logits_eos_inf, confidence_eos_eot_inf=confidence_eos_eot_inf,
                             threshold=threshold, generator=generator, revise=revise)
    n_blocks, block_steps = block_schedule(gen_length, block_length, steps)
    _check_padding(prompt_ids, attention_mask, opts.mask_id)
    check_generators(generator, prompt_ids.shape[0])
    B, P = prompt_ids.shape
    dev = prompt_ids.device
    x = torch.cat([prompt_ids, prompt_ids.new_full((B, gen_length), opts.mask_id)], dim=1)  # [B, L]
    att = None
    if attention_mask is not None:
        att = torch.cat([attention_mask, attention_mask.new_ones(B, gen_length)], dim=1)  # [B, L]
    st = _state(x, att, torch.zeros(x.shape, device=dev), return_trajectory, record_order)
    fw = Forward(model, adapter, cfg_scale, prompt_index=x != opts.mask_id, cache=cache, refresh_every=refresh_every)
    for blk in range(n_blocks):
        lo, hi = P + blk * block_length, P + (blk + 1) * block_length
        # Shifted-logit models score token i at row i - 1, so the query must start one row earlier.
        fw.window = (max(lo - int(adapter.shift_logits), 0), hi)
        region = torch.zeros_like(x, dtype=torch.bool)
        # With revision, the region reaches back to the start: re-masked tokens of earlier blocks are denoised again.
        region[:, (lo if revise is None else P):hi] = True
        denoise_region(st, fw, opts, region, block_steps, final=blk == n_blocks - 1)
    order = None if st.commit_step is None else st.commit_step[:, P:]
    return GenerationOutput(
        st.x, st.confidences[:, P:], st.nfe, st.trajectory, st.predictions, st.row_nfe.tolist(), order
    )


@torch.no_grad()
def infill(model, sequence: torch.Tensor, positions: torch.Tensor, steps: int, temperature: float = 0.0,
           attention_mask: torch.Tensor | None = None, remasking: str = "low_confidence",
           mask_id: int | None = None, generator: Generators = None,
           confidences: torch.Tensor | None = None, return_trajectory: bool = False,
           threshold: float | None = None, logits_eos_inf: bool = False, confidence_eos_eot_inf: bool = False,
           eos_id: int | None = None, eot_id: int | None = None) -> GenerationOutput:
    """Remask positions [B, L] of sequence [B, L] and resample only them over `steps` steps; the rest stays fixed.

    Mask tokens already in the (attended part of the) sequence are filled too, so the result has no masks.
    `confidences` [B, L] (e.g. from generate) are carried over for fixed positions (default 1: given tokens);
    steps with nothing to commit in any row are skipped, so NFE = min(steps, most positions in a row).
    """
    adapter, opts = _options(model, mask_id, eos_id, temperature=temperature, remasking=remasking, eot_id=eot_id,
                             logits_eos_inf=logits_eos_inf, confidence_eos_eot_inf=confidence_eos_eot_inf,
                             threshold=threshold, generator=generator)
    _check_padding(sequence, attention_mask, opts.mask_id)
    check_generators(generator, sequence.shape[0])
    region = positions.bool() | (sequence == opts.mask_id)  # [B, L]
    if attention_mask is not None:
        region &= attention_mask.bool()
    x = sequence.masked_fill(region, opts.mask_id)
    conf = torch.ones(x.shape, device=x.device) if confidences is None else confidences.float().clone()
    st = _state(x, attention_mask, conf, return_trajectory)
    denoise_region(st, Forward(model, adapter), opts, region, steps)
    return GenerationOutput(st.x, st.confidences, st.nfe, st.trajectory, st.predictions, st.row_nfe.tolist())


def _dream_generate(*args, **kwargs) -> GenerationOutput:
    # Imported on use: Dream's sampler loads only when a caller picks it.
    from inference.sampler_dream import diffusion_generate

    return diffusion_generate(*args, **kwargs)


# Sampler modes by name: LLaDA's semi-autoregressive blocks (generate above) or Dream's diffusion_generate schedule.
SAMPLERS: dict[str, Callable[..., GenerationOutput]] = {"llada": generate, "dream": _dream_generate}
