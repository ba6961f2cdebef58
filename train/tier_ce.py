"""Masked cross-entropy per AST tier on held-out rows, under a fixed seeded noise, for one or more models on the same
rows and masks (TreeDiff, issue 32 item 3), and the realized masking rate per tier of each masker.

    python -m train.tier_ce --model M [--model M2 | --model M1,M2] [--data minicode --split eval --num 200
        --data-seed 0] [--masker uniform] [--rates 0.1,0.2,...,0.9] [--seed 0] [--out tier_ce.json]

Rows are built as SFT builds them (train.sft_data.example_row: prompt + completion + EOS, per-token AST tiers from
corruption.ast_tiers). At each rate t, every row's completion is masked once by --masker (uniform: every completion
token iid with probability t, so all tiers are masked at the same rate and their CE is comparable), with a CPU
generator keyed by (seed, rate, row): the same masks for every model, batch size and machine. The model reads the
noisy row (padding out of attention, so a row's figures do not depend on its batch-mates) and the CE of each masked
token goes to its tier (corruption.stats.CATEGORIES: the five tiers, "other" = EOS and code that does not parse,
"all"). Reported per rate and pooled over the rates: mean CE in nats per masked token, masked-token counts and a 95%
percentile bootstrap interval over rows (train.intervals); for the second and later models the paired difference
to the first (same rows, same masks; the bootstrap keeps each row's pair together). Independently of any model,
`realized_rates` gives each of --rate-maskers' masking rate per tier at SFT's noise schedule (--schedule, its
steps): the fraction of a tier's tokens masked, pooled over rows and draws.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from corruption.maskers import MASKERS
from corruption.schedules import SCHEDULES
from corruption.stats import CATEGORIES, category_sums
from data.collate import collate
from data.minicode import SPLITS
from data.sources import SourceConfig
from data.usage import UsageError, check_options, number_list, run_cli
from inference.adapters import ModelAdapter, selected_token_logits
from train.intervals import METHOD, bootstrap_indices, ratio_intervals
from train.loss import masked_cross_entropy
from train.tier_rows import (
    fixed_rate_masks,
    load_rows,
    mask_counts,
    realized_rates,
    same_rows,
    single_row,
    token_counts,
)

# the report's columns: the categories and all masked completion tokens together
COLUMNS = [*CATEGORIES, "all"]
DEFAULT_RATES = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9"


@dataclass
class Config:
    models: list[str]
    data: str = (
        "minicode"  # "minicode" or what SFT's data.name takes (a .jsonl / .parquet / .csv path, a Hub name)
    )
    split: str = "eval"
    num: int = 200  # the first N usable rows
    data_seed: int = 0  # minicode's generator seed (minicode/main.sh: EVAL_SEED)
    prompt_column: str = "prompt"
    completion_column: str = "completion"  # a minicode problems file: canonical_solution
    chat_template: bool = False
    max_length: int = 512
    masker: str = "uniform"
    rates: list[float] = field(default_factory=lambda: number_list(DEFAULT_RATES, "--rates", float))
    seed: int = 0  # masks and bootstrap
    batch_size: int = 16
    bootstrap: int = 1000
    rate_maskers: list[str] = field(default_factory=lambda: ["uniform", "ast", "ast-span"])
    schedule: str = "curriculum"  # configs/sft/minicode.yaml
    schedule_steps: int = 2000
    schedule_draws: int = 8
    out: str | None = None
    device: str | None = None
    dtype: str | None = None


# ---- the model (every tensor on the model's device) ----
def masked_ce_sums(
    model,
    adapter: ModelAdapter,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    is_masked: torch.Tensor,
    categories: torch.Tensor,
) -> torch.Tensor:
    """[B, K] float64 on the model's device: per row, the summed CE of the masked tokens of each category.
    input_ids / attention_mask / is_masked / categories [B, L] (any device; moved to the model's)."""
    dev = next(model.parameters()).device
    ids, att, m, cat = (t.to(dev) for t in (input_ids, attention_mask, is_masked, categories))
    noisy = ids.masked_fill(m, adapter.mask_token_id)  # [B, L]
    with torch.no_grad():
        logits = selected_token_logits(model, noisy, att, adapter, m)  # [N, V]
    ce = masked_cross_entropy(logits, ids, m)  # [B, L]
    return category_sums(ce, m, cat)  # [B, K]


def length_batches(rows: list[dict], size: int) -> list[list[int]]:
    """Row indices in batches of similar length (less padding; padding is out of attention either way)."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    return [order[k : k + size] for k in range(0, len(order), size)]


def padded(rows: list[torch.Tensor], width: int, fill) -> torch.Tensor:
    """[B, width]: 1-D tensors right-padded with `fill`."""
    out = torch.full((len(rows), width), fill, dtype=rows[0].dtype)
    for j, r in enumerate(rows):
        out[j, : len(r)] = r
    return out


def measure(
    loaded,
    rows: list[dict],
    singles: list[dict],
    masks: list[list[torch.Tensor]],
    batch_size: int,
    label: str,
) -> np.ndarray:
    """[R, n, K] summed masked CE per rate, row and category for one loaded model."""
    out = np.zeros((len(masks), len(rows), len(CATEGORIES)))
    pad = loaded.adapter.pad_id(loaded.tokenizer)
    batches = length_batches(rows, batch_size)
    with tqdm(total=len(masks) * len(batches), desc=label, file=sys.stderr) as bar:
        for r in range(len(masks)):
            for idx in batches:
                b = collate([rows[i] for i in idx], pad, pad_with_eos=False)
                width = b["input_ids"].shape[1]
                m = padded([masks[r][i] for i in idx], width, False)  # [B, L]
                cat = padded([singles[i]["categories"][0] for i in idx], width, -1)  # [B, L]
                sums = masked_ce_sums(
                    loaded.model, loaded.adapter, b["input_ids"], b["attention_mask"], m, cat
                )
                out[r, idx] = sums.cpu().numpy()
                bar.update()
    return out


# ---- the report ----
def with_all(a: np.ndarray) -> np.ndarray:
    """[..., K] -> [..., K + 1]: the categories and their sum (the "all" column)."""
    return np.concatenate([a, a.sum(-1, keepdims=True)], -1)


def column_table(num: np.ndarray, den: np.ndarray, idx: np.ndarray, key: str) -> dict[str, dict]:
    """{column: {key: mean, lo, hi, n}} of the ratios num / den [n, K + 1] over rows (n: summed den)."""
    stats = ratio_intervals(num, den, idx)
    counts = den.sum(0)
    return {
        c: {key: stats["mean"][k], "lo": stats["lo"][k], "hi": stats["hi"][k], "n": int(counts[k])}
        for k, c in enumerate(COLUMNS)
    }


def by_rate(num: np.ndarray, masked: np.ndarray, rates: list[float], idx: np.ndarray, key: str) -> dict:
    """Per rate and pooled over the rates: num [R, n, K] per masked token ("n": masked tokens)."""
    num, masked = with_all(num), with_all(masked)
    return {
        "by_rate": [
            {"rate": t, "tiers": column_table(num[r], masked[r], idx, key)} for r, t in enumerate(rates)
        ],
        "pooled": column_table(num.sum(0), masked.sum(0), idx, key),
    }


def build_report(
    cfg: Config,
    info: dict,
    tokens: np.ndarray,
    masked: np.ndarray,
    ces: list[np.ndarray],
    realized: dict,
    idx: np.ndarray,
) -> dict:
    toks = with_all(tokens)
    rates = [
        {"rate": t, "tiers": column_table(with_all(masked[r]), toks, idx, "rate")}
        for r, t in enumerate(cfg.rates)
    ]
    models = [{"model": m, **by_rate(ce, masked, cfg.rates, idx, "ce")} for m, ce in zip(cfg.models, ces)]
    paired = [
        {"model": m, "baseline": cfg.models[0], **by_rate(ce - ces[0], masked, cfg.rates, idx, "diff")}
        for m, ce in zip(cfg.models[1:], ces[1:])
    ]
    return {
        "what": "masked-token cross-entropy (nats per masked token) by AST tier; paired: model - baseline",
        "interval": f"{METHOD}, {cfg.bootstrap} resamples",
        "settings": asdict(cfg),
        **info,
        "tiers": COLUMNS,
        "tokens": {c: int(n) for c, n in zip(COLUMNS, toks.sum(0))},
        "mask_rates": rates,
        "models": models,
        "paired": paired,
        "realized_rates": realized,
    }


def realized_report(cfg: Config, singles: list[dict], tokens: np.ndarray, idx: np.ndarray) -> dict:
    """Each rate masker's realized masking rate per tier at the SFT schedule (same p_mask draws for all)."""
    out = {
        "schedule": cfg.schedule,
        "steps": cfg.schedule_steps,
        "draws_per_row": cfg.schedule_draws,
        "maskers": {},
    }
    for name in cfg.rate_maskers if cfg.schedule_draws else []:
        counts, p_mean = realized_rates(
            singles, name, cfg.schedule, cfg.schedule_steps, cfg.schedule_draws, cfg.seed
        )
        out["mean_p_mask"] = p_mean
        out["maskers"][name] = column_table(
            with_all(counts), with_all(tokens) * cfg.schedule_draws, idx, "rate"
        )
    return out


def _cell(entry: dict, key: str) -> str:
    if entry[key] is None:
        return f"{'-':>22}"
    return f"{entry[key]:>7.3f} [{entry['lo']:.3f},{entry['hi']:.3f}]"


def print_report(report: dict) -> None:
    heads = [f"model {k}" for k in range(len(report["models"]))] + [
        f"{k + 1} - 0" for k in range(len(report["paired"]))
    ]
    print(
        f"masked CE (nats/token) by tier, rates {report['settings']['rates']} pooled, masker "
        f"{report['settings']['masker']}, {report['rows']} rows; {report['interval']}"
    )
    for k, m in enumerate(report["models"]):
        print(f"  model {k}: {m['model']}")
    print(f"{'tier':<12}{'masked':>8} " + " ".join(f"{h:>22}" for h in heads))
    for c in report["tiers"]:
        cells = [_cell(m["pooled"][c], "ce") for m in report["models"]]
        cells += [_cell(p["pooled"][c], "diff") for p in report["paired"]]
        print(f"{c:<12}{report['models'][0]['pooled'][c]['n']:>8} " + " ".join(cells))
    realized = report["realized_rates"]
    if realized["maskers"]:
        names = list(realized["maskers"])
        print(
            f"\nrealized masking rate per tier, schedule {realized['schedule']} over {realized['steps']} steps "
            f"(mean p_mask {realized['mean_p_mask']:.3f}, {realized['draws_per_row']} draws per row)"
        )
        print(f"{'tier':<12}{'tokens':>8} " + " ".join(f"{n:>22}" for n in names))
        for c in report["tiers"]:
            cells = [_cell(realized["maskers"][n][c], "rate") for n in names]
            print(f"{c:<12}{report['tokens'][c]:>8} " + " ".join(cells))


# ---- the command ----
def parse_args(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(prog="python -m train.tier_ce", description=__doc__.splitlines()[0])
    p.add_argument(
        "--model",
        action="append",
        required=True,
        help="model / merged / adapter directory or Hub name; repeat it or give a comma list to compare "
        "(paired differences to the first)",
    )
    p.add_argument(
        "--data", default="minicode", help="minicode, or a .jsonl/.parquet/.csv file or Hub dataset"
    )
    p.add_argument("--split", default="eval", help="minicode: train | rl | eval; a Hub dataset's split")
    p.add_argument("--num", type=int, default=200, help="the first N usable rows")
    p.add_argument("--data-seed", type=int, default=0, help="minicode's generator seed")
    p.add_argument("--prompt-column", default="prompt")
    p.add_argument(
        "--completion-column",
        default="completion",
        help="the supervised answer's column (a minicode problems file: canonical_solution)",
    )
    p.add_argument(
        "--chat-template", action="store_true", help="prompts in the tokenizer's chat template, as SFT"
    )
    p.add_argument("--max-length", type=int, default=512, help="longer rows are skipped and counted")
    p.add_argument(
        "--masker",
        default="uniform",
        choices=sorted(MASKERS),
        help="the noise of the CE measurement (uniform: every tier at the same rate)",
    )
    p.add_argument("--rates", default=DEFAULT_RATES, help="masking rates t in (0, 1], comma list")
    p.add_argument("--seed", type=int, default=0, help="masks and bootstrap")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of the rows")
    p.add_argument(
        "--rate-maskers",
        default="uniform,ast,ast-span",
        help="maskers whose realized rate per tier is reported at the SFT schedule",
    )
    p.add_argument("--schedule", default="curriculum", choices=sorted(SCHEDULES), help="SFT's noise schedule")
    p.add_argument(
        "--schedule-steps", type=int, default=2000, help="SFT's steps (the curriculum anneals over them)"
    )
    p.add_argument(
        "--schedule-draws", type=int, default=8, help="mask draws per row for the realized rates (0: skip)"
    )
    p.add_argument("--out", default=None, help="the report as JSON")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: CUDA when available)")
    p.add_argument("--dtype", default=None, help="bf16 | fp16 | fp32 (default: bf16 on CUDA, fp32 on CPU)")
    a = p.parse_args(argv)
    check_options(
        a, positive=("num", "batch_size", "bootstrap", "schedule_steps"), non_negative=("schedule_draws",)
    )
    models = [m for arg in a.model for m in arg.split(",") if m.strip()]
    rates = number_list(a.rates, "--rates", float)
    if any(not 0 < t <= 1 for t in rates):
        raise UsageError(f"--rates must lie in (0, 1], got {a.rates}")
    if a.data == "minicode" and a.split not in SPLITS:
        raise UsageError(f"--split {a.split}: minicode's splits are {', '.join(SPLITS)}")
    rate_maskers = [m for m in a.rate_maskers.split(",") if m]
    unknown = sorted(set(rate_maskers) - set(MASKERS))
    if unknown:
        raise UsageError(
            f"--rate-maskers: unknown {', '.join(unknown)}; choose from {', '.join(sorted(MASKERS))}"
        )
    known = {f.name for f in fields(Config)}
    given = {k: v for k, v in vars(a).items() if k in known}
    return Config(**{**given, "models": models, "rates": rates, "rate_maskers": rate_maskers})


def source_of(cfg: Config) -> SourceConfig:
    return SourceConfig(
        name=cfg.data,
        split=cfg.split,
        max_examples=cfg.num,
        seed=cfg.data_seed,
        prompt_column=cfg.prompt_column,
        completion_column=cfg.completion_column,
    )


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_args(argv)
    from inference.loading import check_model_source, load_model

    for name in cfg.models:
        check_model_source(name)
    loaded = load_model(cfg.models[0], device=cfg.device, dtype=cfg.dtype)
    pairs, info = load_rows(source_of(cfg), loaded.tokenizer, cfg.max_length, cfg.chat_template)
    rows = [r for _, r in pairs]
    singles = [single_row(r) for r in rows]
    tokens = token_counts(singles)  # [n, K]
    masks = fixed_rate_masks(singles, cfg.masker, cfg.rates, cfg.seed)
    masked = np.stack([mask_counts(singles, ms) for ms in masks])  # [R, n, K]
    idx = bootstrap_indices(len(rows), cfg.bootstrap, cfg.seed)
    realized = realized_report(cfg, singles, tokens, idx)
    ces = []
    for k, name in enumerate(cfg.models):
        if k:
            loaded = load_model(name, device=cfg.device, dtype=cfg.dtype)
            if not same_rows(loaded.tokenizer, pairs, cfg.max_length, cfg.chat_template):
                raise UsageError(
                    f"{name} tokenizes the rows differently from {cfg.models[0]}: a paired comparison "
                    "needs the same tokenizer"
                )
        ces.append(measure(loaded, rows, singles, masks, cfg.batch_size, f"model {k}"))
        del loaded
    report = build_report(cfg, info, tokens, masked, ces, realized, idx)
    print_report(report)
    if cfg.out:
        Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.out).write_text(json.dumps(report, indent=1))
        print(f"-> {cfg.out}")
    return report


if __name__ == "__main__":
    run_cli(main)
