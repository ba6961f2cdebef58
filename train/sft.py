"""Masked-diffusion SFT with DeepSpeed ZeRO-2 + LoRA and AST-weighted masking (TreeDiff) as the forward process.

Launch:  deepspeed [--num_gpus N] train/sft.py --config configs/sft/tiny.yaml [key=value ...]
         (plain `python train/sft.py ...` runs one rank.)

Loss (LLaDA GUIDELINES.md): sum over masked answer tokens of CE / p, normalised by answer length per row ("answer_length",
LLaDA) or by the maskable tokens of the global batch ("token"). Deviations from the papers, on purpose:
- with the AST maskers, p is the sample's actual masking rate N/L (TreeDiff does not say how it weights its loss);
- the EOS right-padding of LLaDA is per micro-batch (pad to the longest row), not to a fixed length; so the number
  of padded EOS targets a row gets depends on its batch-mates, and `group_by_length=true` (less padding, off in the
  LLaDA recipes) leaves most rows with their own EOS only (`min_eos` sets a floor; docs/sft.md, "Length
  grouping"); `eos_canvas=N` instead pads every row to its own canvas, uniform in [its answer's length, N] and
  fixed by the seed, so grouped batches keep EOS runs of every length up to N (the minicode recipe: N = the
  generation length).
Resume is automatic: if output_dir holds a checkpoint, training continues from it (same step count, data order, RNG).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from corruption.maskers import MASKERS, pad_spans
from corruption.schedules import sample_p_mask
from data.collate import collate
from data.sources import SourceConfig
from data.usage import run_cli
from inference.adapters import selected_token_logits
from inference.loading import load_tokenizer
from train import dist
from train.checkpoint import save_checkpoint
from train.config import ConfigError, load_config
from train.engine import RunSettings, build_engine, check_engine_settings, count_parameters, grad_norm
from train.loss import llada_loss, loss_parts, token_loss
from train.run import finish_run, start_run
from train.sft_data import SampleOrder, load_sft_rows, row_lengths, row_prompt_lengths


@dataclass
class Config(RunSettings):
    output_dir: str = "runs/sft"  # checkpoints, metrics, config.yaml, data_cache, the export (OUTPUT/final)
    run_name: str = "sft"  # wandb run name
    data: SourceConfig = field(default_factory=SourceConfig)  # where the training examples come from
    max_length: int = 512  # tokens of prompt + completion; longer examples are skipped and counted
    chat_template: bool = False  # wrap prompts in the tokenizer's chat template (instruct models)
    pad_with_eos: bool = True  # LLaDA: right-pad with EOS that is attended, maskable and supervised
    # Length-grouped sampling (docs/sft.md, "Length grouping"): micro-batches of rows of similar length, less
    # padding. With pad_with_eos it also removes most padded EOS targets, so the LLaDA recipes keep it off.
    group_by_length: bool = False  # micro-batches of rows of similar length (less padding, fewer padded EOS)
    group_bucket_batches: int = 64  # a length bucket holds this many micro-batches (sorted within, longest first)
    min_eos: int = 0  # with pad_with_eos: at least this many supervised EOS per row (own EOS + extra padding)
    # with pad_with_eos: each row's answer is EOS-padded to a canvas of C tokens, C uniform in [own answer length,
    # eos_canvas] and fixed per row by the seed, in place of the batch's longest row (0: off). Every row keeps
    # supervised EOS runs of all lengths up to the canvas (evaluation's generation length: set it to that), and
    # with group_by_length the padding between rows goes (docs/sft.md, "Length grouping").
    eos_canvas: int = 0  # EOS-pad each answer to its own random canvas of up to N tokens (0: off)
    masker: str = "ast"  # the forward process (corruption.maskers.MASKERS): uniform | ast | ast-span | ...
    schedule: str = "linear"  # masking-rate schedule: linear (LLaDA) | curriculum (TreeDiff)
    tiers: dict[str, float] = field(default_factory=dict)  # AST tier weight overrides, e.g. {control: 0.7}
    normalize: str = "answer_length"  # loss normaliser: answer_length (LLaDA SFT) | token (maskable tokens)
    epochs: int = 1  # passes over the data (when max_steps <= 0)
    max_steps: int = -1  # optimizer steps; > 0 overrides epochs


LOSS_FNS = {
    "answer_length": lambda parts, global_tokens, micro_per_step: llada_loss(parts),
    "token": token_loss,
}


def validate(cfg: Config) -> None:
    if cfg.masker not in MASKERS:
        raise ConfigError(f"masker must be one of {sorted(MASKERS)}, got {cfg.masker!r}")
    if cfg.normalize not in LOSS_FNS:
        raise ConfigError(f"normalize must be one of {sorted(LOSS_FNS)}, got {cfg.normalize!r}")
    if cfg.group_bucket_batches < 1 or cfg.min_eos < 0 or cfg.eos_canvas < 0:
        raise ConfigError("group_bucket_batches must be >= 1, min_eos and eos_canvas >= 0")
    if cfg.eos_canvas and (not cfg.pad_with_eos or cfg.min_eos):
        raise ConfigError("eos_canvas needs pad_with_eos=true and min_eos=0 (it sets every row's EOS padding)")
    check_engine_settings(cfg)


def canvas_ends(cfg: Config, rows) -> list[int] | None:
    """Per row, where its EOS padding ends with `eos_canvas` (prompt + canvas, at most max_length); else None."""
    if not cfg.eos_canvas:
        return None
    g = torch.Generator(device="cpu").manual_seed(cfg.seed + 7_919)
    u = torch.rand(len(rows), generator=g).tolist()
    ends = []
    for n, p, x in zip(row_lengths(rows), row_prompt_lengths(rows), u):
        extra = int(x * (max(cfg.eos_canvas - (n - p), 0) + 1))  # EOS past the row's own: uniform in [0, room]
        ends.append(max(n, min(n + extra, cfg.max_length)))
    return ends


def sample_order(cfg: Config, rows, ends: list[int] | None) -> SampleOrder:
    """The job's sample stream: shuffled, or shuffled and length-grouped (by padded length) in buckets of whole
    micro-batches."""
    if not cfg.group_by_length:
        return SampleOrder(len(rows), cfg.seed)
    lengths = ends if ends is not None else row_lengths(rows)
    return SampleOrder(len(rows), cfg.seed, lengths, cfg.group_bucket_batches * cfg.micro_batch_size)


def micro_batches(cfg: Config, rows, order: SampleOrder, position: int, pad_id: int,
                  ends: list[int] | None = None) -> list[dict]:
    batches = []
    for m in range(cfg.grad_accum):
        index = order.micro_batch(position, m, dist.rank(), dist.world_size(), cfg.micro_batch_size)
        picked = [rows[i] for i in index]
        eos_to = [ends[i] for i in index] if ends is not None else None
        batch = collate(picked, pad_id, cfg.pad_with_eos, min_eos=cfg.min_eos, eos_to=eos_to)
        batch["spans"] = pad_spans([r["spans"] for r in picked])  # nested AST node spans for ast-span (Algorithm 2)
        batches.append(batch)
    return batches


def train_step(cfg: Config, engine, adapter, batches: list[dict], step: int, total_steps: int) -> dict:
    """One optimizer step over grad_accum micro-batches; returns this step's metrics (averaged over ranks)."""
    micro_per_step = cfg.grad_accum * dist.world_size()
    global_tokens = dist.all_reduce_sum(float(sum(b["maskable"].sum() for b in batches)))
    dev = engine.device
    loss_sum, ce_sum, masked = 0.0, 0.0, 0.0
    for m, batch in enumerate(batches):
        # Masks are drawn from a generator keyed by (seed, step, rank, micro): resume-exact, no global reseeding.
        # On the CPU, where the batch is (the same masks on any machine); they move to the model's device below.
        gen = torch.Generator(device="cpu").manual_seed(hash((cfg.seed, step, dist.rank(), m)) % 2**62)
        p_mask = sample_p_mask(cfg.schedule, batch["input_ids"].shape[0], step, total_steps, generator=gen)
        mb = MASKERS[cfg.masker](batch["input_ids"], batch["maskable"], p_mask, adapter.mask_token_id,
                                 generator=gen, weights=batch["weights"], span_ids=batch.get("span_ids"),
                                 regions=batch.get("regions"), spans=batch.get("spans"))
        is_masked = mb.is_masked.to(dev)
        logits = selected_token_logits(engine, mb.noisy_ids.to(dev), batch["attention_mask"].to(dev), adapter,
                                       is_masked)  # [N, V]: the loss reads the masked positions only
        parts = loss_parts(logits, batch["input_ids"].to(dev), is_masked, mb.p_mask.to(dev), batch["maskable"].to(dev))
        loss = LOSS_FNS[cfg.normalize](parts, global_tokens, micro_per_step)
        engine.backward(loss)
        engine.step()
        loss_sum += loss.item()
        ce_sum += parts.masked_ce_sum.item()
        masked += parts.num_masked.item()
    return {
        "loss": dist.all_reduce_mean(loss_sum / cfg.grad_accum),
        "masked_ce": dist.all_reduce_sum(ce_sum) / max(dist.all_reduce_sum(masked), 1.0),
        "masked_tokens": dist.all_reduce_sum(masked),
        "tokens": dist.all_reduce_sum(float(sum(b["attention_mask"].sum() for b in batches))),
    }


def main(cfg: Config) -> Path:
    validate(cfg)
    dist.init_distributed()
    torch.manual_seed(cfg.seed + dist.rank())
    output_dir = Path(cfg.output_dir)
    global_batch = cfg.micro_batch_size * cfg.grad_accum * dist.world_size()

    tokenizer = load_tokenizer(cfg.model, trust_remote_code=cfg.trust_remote_code)
    rows, data_stats = load_sft_rows(cfg.data, tokenizer, cfg.max_length, cfg.chat_template, cfg.tiers,
                                     output_dir / "data_cache")
    total_steps = cfg.max_steps if cfg.max_steps > 0 else max(1, cfg.epochs * len(rows) // global_batch)
    engine, tokenizer, adapter = build_engine(cfg, total_steps)

    state, logger = start_run(cfg, engine)
    step, position = state["step"], state["data_position"]
    trainable, total = count_parameters(engine.module)
    dist.print0(f"data: {data_stats} | params: {trainable:,} trainable of {total:,} | steps: {total_steps}")
    ends = canvas_ends(cfg, rows)
    order = sample_order(cfg, rows, ends)

    bar = tqdm(total=total_steps, initial=step, desc="sft", disable=not dist.is_main())
    while step < total_steps:
        t0 = time.perf_counter()
        metrics = train_step(cfg, engine, adapter, micro_batches(cfg, rows, order, position, tokenizer.pad_token_id, ends),
                             step, total_steps)
        step, position = step + 1, position + global_batch
        seconds = time.perf_counter() - t0
        metrics.update(lr=engine.get_lr()[0], grad_norm=grad_norm(engine), tokens_per_s=metrics["tokens"] / seconds,
                       epoch=position / len(rows))
        if step % cfg.log_every == 0 or step == total_steps:
            logger.log(metrics, step)
        bar.update(1)
        bar.set_postfix(loss=f"{metrics['loss']:.4f}")
        if cfg.save_every and step % cfg.save_every == 0 and step < total_steps:
            save_checkpoint(engine, output_dir, step, position, cfg.keep_last)
    bar.close()
    final = finish_run(cfg, engine, tokenizer, logger, step, position)
    dist.print0(f"done: {step} steps; export in {final}")
    return final



if __name__ == "__main__":
    run_cli(lambda: main(load_config(Config)))
