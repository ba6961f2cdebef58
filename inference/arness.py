"""Local and global AR-ness@k of a masked diffusion model's decoding order, and how temperature changes it.

    python -m inference.arness --model DIR --problems FILE.jsonl|humaneval|mbpp [--temperatures 0,0.5,1.0
        --gen-length 64 --block-length 64 --num 20 --batch-size 4 --seed 0 --prompt-format raw|sft
        --out arness.json]

DiffuCoder's decoding analysis (Gong et al., arXiv 2506.20639, section 4.1 "Autoregressive-ness in
generation", formal definitions in Appendix A.2 "Generation autoregressive-ness"). Setup, A.2: "let the target
sequence length be L, and at each diffusion decoding iteration t = 1, ..., T, the set of still-masked
positions just before step t is M_{t-1}. We denote by p_t in M_{t-1} the single position unmasked at step t,
thereby producing the full decoding order {p_1, ..., p_T}." The paper decodes with low-confidence remasking
and "the number of diffusion timesteps set equal to the sequence length", so one token per step: this tool
samples with the plain sampler (inference.sampler's generate, any model family) and steps = gen length.
- Local AR-ness@k (A.2): I_local(t, k) = 1 if {p_{t-i}}_{i=1..k} = {p_t - i : i = 1..k}, else 0; NTP@k = 1/T
  sum_t I_local(t, k). Figure 3's caption: "the fraction of decoding steps where the newly unmasked token,
  together with the k immediately preceding predicted tokens, forms a strictly increasing consecutive
  sequence, at k = 1 for next-token prediction". Read as the caption and 4.1 say ("immediate successors of the
  previously generated token"): p_{t-i} = p_t - i for every i = 1..k, in that order (the bare set equality of
  A.2 would also count the order 1, 0, 2 at its last step for k = 2, while k = 1 fails there).
- Global AR-ness@k (A.2, "earliest-first mask selection"): with the masked positions before step t sorted,
  m_(1) < m_(2) < ..., I_global(t, k) = 1 if p_t in {m_(1), ..., m_(k)}; FMS@k = 1/T sum_t I_global(t, k).
Both equal 1 for AR decoding (4.2: "for AR decoding, both local and global AR-ness are identically equal to 1").
Convention for the first steps, where p_{t-i} precedes the completion: the prompt counts as generated before,
left to right (p_s = s for s <= 0; the completion holds positions 1..L, positions 0, -1, ... are the prompt's
tail), so a step that unmasks the token right after the prompt continues it, and AR decoding scores 1 at every
k as the paper states. A strictly right-to-left order then scores local 0 at every k and global k / L (only the
last k steps, with k or fewer masks left, pick among the k earliest). The paper plots local k = 1..9 and
global k = 1..4 (Figures 3-5): the defaults here.
Section 4.3 / Figure 5: "a higher temperature also substantially lowers AR-ness" (DiffuCoder, HumanEval).
All L completion positions count, EOS padding included (the paper's L is the sequence length).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from data.usage import UsageError, check_options, number_list, run_cli

PAPER_LOCAL_K, PAPER_GLOBAL_K = 9, 4  # the k ranges of the paper's figures


# ---- the definitions: pure functions on tensors ----
def check_one_per_step(commit_step: torch.Tensor) -> None:
    """The paper's setting: every position of commit_step [B, L] committed, one position per step (ValueError)."""
    if bool((commit_step < 0).any()):
        raise ValueError("a completion position was never committed: AR-ness needs the full decoding order")
    steps = commit_step.sort(dim=1).values  # [B, L]
    if bool((steps[:, 1:] == steps[:, :-1]).any()):
        raise ValueError(
            "a step committed several positions; AR-ness (DiffuCoder, App. A.2) is defined for one "
            "position per step (steps = gen length, one block or blocks of steps = their length)"
        )


def decode_order(commit_step: torch.Tensor) -> torch.Tensor:
    """Positions in the order they were unmasked [B, L] (p_1..p_T of a row) from the step of each position [B, L]."""
    return commit_step.argsort(dim=1, stable=True)


def local_ar_ness(order: torch.Tensor, max_k: int) -> torch.Tensor:
    """Local AR-ness@k for k = 1..max_k [B, max_k] of decoding orders [B, T] (0-based completion positions).

    I_local(t, k) = 1 iff p_{t-i} = p_t - i for i = 1..k; before the first step the prompt counts as decoded left to
    right (p_{-i} = -i)."""
    B, T = order.shape
    prompt = torch.arange(-max_k, 0, device=order.device, dtype=order.dtype).expand(B, max_k)  # [B, K]
    history = torch.cat([prompt, order], dim=1)  # [B, K + T]: history[:, K + s] = p_s
    run = torch.ones_like(order, dtype=torch.bool)  # [B, T] p_{t-1..t-i} all continue into p_t
    ratios = []
    for i in range(1, max_k + 1):
        run = run & (history[:, max_k - i : max_k - i + T] == order - i)  # p_{t-i} == p_t - i
        ratios.append(run.float().mean(dim=1))  # [B]
    return torch.stack(ratios, dim=1)


def global_ar_ness(order: torch.Tensor, max_k: int) -> torch.Tensor:
    """Global AR-ness@k for k = 1..max_k [B, max_k] of decoding orders [B, T] (each row a permutation of 0..T-1).

    I_global(t, k) = 1 iff p_t is among the k earliest positions still masked before step t: its rank there is
    p_t minus the positions left of it already unmasked."""
    T = order.shape[1]
    earlier = torch.ones(T, T, dtype=torch.bool, device=order.device).tril(-1)  # [T, T] (t, s): s < t
    left_done = (order[:, None, :] < order[:, :, None]) & earlier  # [B, T, T] p_s < p_t, s < t
    rank = order - left_done.sum(dim=2)  # [B, T] 0-based rank of p_t among the masked positions
    ks = torch.arange(1, max_k + 1, device=order.device)  # [K]
    return (rank[:, :, None] < ks).float().mean(dim=1)  # [B, K]


# ---- the command ----
@dataclass
class Config:
    model: str
    problems: str
    temperatures: list[float]
    gen_length: int = 64
    steps: int | None = None  # = gen_length (the paper's setting); anything else is refused
    block_length: int | None = None  # = gen_length: one block, the setting where AR-ness is informative
    num: int | None = None
    batch_size: int = 4
    seed: int = 0
    prompt_format: str = "raw"
    local_k: int = PAPER_LOCAL_K
    global_k: int = PAPER_GLOBAL_K
    out: str | None = None
    device: str | None = None
    dtype: str | None = None


def parse_args(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="model / merged / adapter directory or Hub name")
    p.add_argument(
        "--problems",
        required=True,
        help="problems jsonl (evalplus schema, minicode's, assert-style), or humaneval / mbpp (evalplus)",
    )
    p.add_argument("--temperatures", default="0,0.5,1.0", help="comma list, one decode of every problem each")
    p.add_argument("--gen-length", type=int, default=64)
    p.add_argument(
        "--steps", type=int, default=None, help="must equal --gen-length (default): one token per step"
    )
    p.add_argument("--block-length", type=int, default=None, help="default --gen-length (one block)")
    p.add_argument("--num", type=int, default=None, help="the first N problems (default all)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seed", type=int, default=0, help="sampling streams keyed by (seed, task_id)")
    p.add_argument(
        "--prompt-format",
        choices=sorted(PROMPT_FORMATS),
        default="raw",
        help="raw: the problem prompt as is (base models, minicode); sft: the SFT trainer's chat-template "
        "prompt (data.tokenize.prompt_token_ids, chat_template: true)",
    )
    p.add_argument("--local-k", type=int, default=PAPER_LOCAL_K, help="local AR-ness@1..K (paper: 9)")
    p.add_argument("--global-k", type=int, default=PAPER_GLOBAL_K, help="global AR-ness@1..K (paper: 4)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default=None, help="bf16 | fp16 | fp32 (default: bf16 on CUDA, fp32 on CPU)")
    args = p.parse_args(argv)
    args.temperatures = number_list(args.temperatures, "--temperatures", float)
    return Config(**vars(args))


def check_config(cfg: Config) -> Config:
    """Bad options stop here, before the model loads; steps and block length default to the gen length."""
    from inference.sampler import fit_block_schedule

    check_options(
        cfg, positive=("gen_length", "steps", "block_length", "num", "batch_size", "local_k", "global_k")
    )
    if any(t < 0 for t in cfg.temperatures):
        raise UsageError(f"--temperatures must be >= 0, got {cfg.temperatures}")
    cfg.steps = cfg.gen_length if cfg.steps is None else cfg.steps
    if cfg.steps != cfg.gen_length:
        raise UsageError(
            f"--steps {cfg.steps} != --gen-length {cfg.gen_length}: AR-ness (DiffuCoder, App. A.2) is "
            "defined for one token unmasked per step; leave --steps out or set it to --gen-length"
        )
    block = cfg.gen_length if cfg.block_length is None else cfg.block_length
    cfg.block_length = fit_block_schedule(
        cfg.gen_length, block, cfg.steps, ("--gen-length", "--block-length", "--steps")
    )
    return cfg


def load_prompts(cfg: Config) -> list[tuple[str, str]]:
    """(task_id, prompt) of the first --num problems, read as the evaluation reads them (data.problems)."""
    from data.problems import DATASETS, load_problems

    if cfg.problems in DATASETS and not Path(cfg.problems).exists():
        problems = load_problems(dataset=cfg.problems)
    elif not Path(cfg.problems).is_file():
        raise UsageError(
            f"--problems {cfg.problems}: no such file (give a jsonl, or one of {sorted(DATASETS)})"
        )
    else:
        problems = load_problems(path=cfg.problems)
    return [(p.task_id, p.prompt) for p in problems[: cfg.num]]


def _raw_ids(tokenizer, prompt: str) -> list[int]:
    # With the tokenizer's usual special tokens, as repair.evaluate's raw format.
    return tokenizer(prompt)["input_ids"]


def _sft_ids(tokenizer, prompt: str) -> list[int]:
    from data.tokenize import prompt_token_ids

    return prompt_token_ids(tokenizer, prompt, chat_template=True)


# Prompt formats by name: (tokenizer, problem prompt) -> token ids.
PROMPT_FORMATS = {"raw": _raw_ids, "sft": _sft_ids}


def encode_batch(
    tokenizer, prompts: list[str], fmt: str, mask_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ids [B, P] and attention mask [B, P]."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad == mask_id:
        raise UsageError(
            f"the tokenizer pads with the mask token id {mask_id}; set its pad_token to another token"
        )
    rows = [PROMPT_FORMATS[fmt](tokenizer, p) for p in prompts]
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], dtype=torch.long, device=device)
    att = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], dtype=torch.long, device=device)
    return ids, att


def row_generator(device: torch.device, *parts) -> torch.Generator:
    """A generator seeded from (seed, task_id, temperature): a row draws the same numbers in any batch."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return torch.Generator(device=device).manual_seed(int.from_bytes(digest[:8], "big") >> 1)


def decode_temperature(loaded, cfg: Config, tasks: list[tuple[str, str]], temperature: float) -> torch.Tensor:
    """Per-problem AR-ness [N, local_k + global_k] of one decode of every task at `temperature`."""
    from tqdm import tqdm

    from inference.sampler import generate

    rows = []
    batches = range(0, len(tasks), cfg.batch_size)
    for lo in tqdm(batches, desc=f"temperature {temperature:g}", file=sys.stderr):
        chunk = tasks[lo : lo + cfg.batch_size]
        ids, att = encode_batch(
            loaded.tokenizer,
            [p for _, p in chunk],
            cfg.prompt_format,
            loaded.adapter.mask_token_id,
            loaded.device,
        )
        gens = [row_generator(loaded.device, cfg.seed, t, temperature) for t, _ in chunk]
        out = generate(
            loaded.model,
            ids,
            attention_mask=att,
            steps=cfg.steps,
            gen_length=cfg.gen_length,
            block_length=cfg.block_length,
            temperature=temperature,
            generator=gens,
            record_order=True,
        )
        check_one_per_step(out.commit_step)
        order = decode_order(out.commit_step)  # [b, L]
        rows.append(
            torch.cat([local_ar_ness(order, cfg.local_k), global_ar_ness(order, cfg.global_k)], dim=1)
        )
    return torch.cat(rows).cpu()


def summarize(per_problem: torch.Tensor, cfg: Config, temperature: float) -> dict:
    """Mean and standard deviation over problems of each AR-ness@k at one temperature."""
    mean = per_problem.mean(dim=0).tolist()
    std = per_problem.std(dim=0, unbiased=False).tolist()
    L = cfg.local_k
    return {
        "temperature": temperature,
        "sequences": per_problem.shape[0],
        "local": mean[:L],
        "global": mean[L:],
        "local_std": std[:L],
        "global_std": std[L:],
    }


def table(results: list[dict], cfg: Config) -> str:
    """temperature x (local AR-ness@1..K, global AR-ness@1..K), one row per temperature."""
    head = (
        ["temp"]
        + [f"L@{k}" for k in range(1, cfg.local_k + 1)]
        + [f"G@{k}" for k in range(1, cfg.global_k + 1)]
    )
    lines = [" ".join(f"{h:>6}" for h in head)]
    for r in results:
        cells = [f"{r['temperature']:>6g}"] + [f"{v:6.3f}" for v in r["local"] + r["global"]]
        lines.append(" ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    cfg = check_config(parse_args(argv))
    from inference.loading import check_model_source, load_model

    check_model_source(cfg.model)
    tasks = load_prompts(cfg)
    loaded = load_model(cfg.model, device=cfg.device, dtype=cfg.dtype)
    results = [summarize(decode_temperature(loaded, cfg, tasks, t), cfg, t) for t in cfg.temperatures]
    report = {
        "definition": "DiffuCoder (arXiv 2506.20639) section 4.1, Appendix A.2; see inference/arness.py",
        "sampler": "inference.sampler.generate, low_confidence remasking, one token per step",
        "settings": asdict(cfg),
        "problems": len(tasks),
        "local_k": list(range(1, cfg.local_k + 1)),
        "global_k": list(range(1, cfg.global_k + 1)),
        "results": results,
    }
    print(
        f"AR-ness of {len(tasks)} problems, gen length {cfg.gen_length}, block {cfg.block_length} "
        f"(L@k local, G@k global; 1 = left to right)"
    )
    print(table(results, cfg))
    if cfg.out:
        Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.out).write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    run_cli(main)
