"""train/sft.py on the tiny Dream model: the loss applies Dream's logit shift exactly once (in-process, one rank),
and 2 CPU ranks through the deepspeed launcher train and export a LoRA adapter."""

import os
import subprocess
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from train.config import load_config
from train.metrics import read_metrics

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}


def shifted_once(raw: torch.Tensor) -> torch.Tensor:
    """[B, L, V]: the row that scores token j is Dream's output at j - 1 (token 0 keeps row 0), written by hand."""
    out = raw.clone()
    out[:, 1:] = raw[:, :-1]
    return out


def test_sft_loss_applies_the_dream_shift_exactly_once(tiny_dream_dir, tmp_path):
    from corruption.maskers import MASKERS
    from corruption.schedules import sample_p_mask
    from data.collate import collate
    from train import sft
    from train.sft_data import SampleOrder, load_sft_rows

    cfg = load_config(sft.Config, ["--config", str(REPO / "configs/sft/tiny.yaml"), f"model={tiny_dream_dir}",
                                   f"output_dir={tmp_path}", "max_steps=1", "optim.lr=0", "lora.dropout=0",
                                   "grad_accum=1", "micro_batch_size=2", "data.max_examples=8", "use_wandb=false",
                                   "masker=uniform", "max_length=128"])
    sft.main(cfg)
    logged = read_metrics(tmp_path)[0]["loss"]

    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_dream_dir)
    rows, _ = load_sft_rows(cfg.data, tok, cfg.max_length, False, {}, tmp_path / "data_cache")
    batch = collate([rows[i] for i in SampleOrder(len(rows), 0).micro_batch(0, 0, 0, 1, 2)], tok.pad_token_id)
    model = AutoModel.from_pretrained(tiny_dream_dir).eval()
    gen = torch.Generator().manual_seed(hash((0, 0, 0, 0)) % 2**62)
    p = sample_p_mask("linear", 2, 0, 1, generator=gen)
    mb = MASKERS["uniform"](batch["input_ids"], batch["maskable"], p, tok.mask_token_id, generator=gen,
                            weights=batch["weights"])
    with torch.no_grad():
        raw = model(mb.noisy_ids, attention_mask=batch["attention_mask"]).logits

    def loss(logits):
        total = 0.0
        for i in range(2):
            m = mb.is_masked[i]
            ce = F.cross_entropy(logits[i][m], batch["input_ids"][i][m], reduction="sum")
            total += (ce / p[i] / batch["maskable"][i].sum()).item() / 2
        return total

    once, never, twice = loss(shifted_once(raw)), loss(raw), loss(shifted_once(shifted_once(raw)))
    assert abs(logged - once) < 1e-4 * max(1.0, once)
    assert min(abs(logged - never), abs(logged - twice)) > 1e-2 * once  # the check can tell the three apart


@pytest.mark.deepspeed
def test_two_rank_sft_on_dream(tiny_dream_dir, tmp_path, master_port):
    port = master_port()
    out = tmp_path / "run"
    cmd = ["deepspeed", "--num_gpus", "2", "--master_port", str(port), "train/sft.py", "--config",
           "configs/sft/tiny.yaml", f"model={tiny_dream_dir}", f"output_dir={out}", "data.max_examples=64",
           "max_length=128", "max_steps=4", "save_every=2", "optim.lr=3e-3"]
    proc = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600, start_new_session=True)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    rows = read_metrics(out)
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and all(r["loss"] > 0 for r in rows)
    adapter_cfg = (out / "final/adapter/adapter_config.json").read_text()
    assert "lm_head" not in adapter_cfg and "q_proj" in adapter_cfg

    from peft import PeftModel
    from transformers import AutoModel

    base = AutoModel.from_pretrained(tiny_dream_dir).eval()
    ids = torch.randint(10, 100, (1, 12))
    with torch.no_grad():
        before = base(ids).logits
        after = PeftModel.from_pretrained(base, out / "final/adapter").eval()(ids).logits
    assert not torch.allclose(before, after)


def test_sft_on_the_hub_layout_of_the_dream_tokenizer(hub_dream_dir, tmp_path):
    """A Dream directory as the Hub ships it (slow DreamTokenizer files, no tokenizer.json) trains: the AST masker
    needs the fast tokenizer's offsets. The export carries a tokenizer that loads with the same ids."""
    from inference.loading import load_tokenizer
    from train import sft

    cfg = load_config(sft.Config, ["--config", str(REPO / "configs/sft/tiny.yaml"), f"model={hub_dream_dir}",
                                   f"output_dir={tmp_path}", "max_steps=1", "grad_accum=1", "micro_batch_size=2",
                                   "data.max_examples=8", "use_wandb=false", "masker=ast", "max_length=128",
                                   "chat_template=true"])
    sft.main(cfg)
    (row,) = read_metrics(tmp_path)
    assert row["step"] == 1 and row["loss"] > 0 and row["masked_tokens"] > 0
    exported, hub = load_tokenizer(str(tmp_path / "final/adapter")), load_tokenizer(str(hub_dream_dir))
    text = "def f(x):\n    return x  # 42"
    assert exported(text)["input_ids"] == hub(text)["input_ids"]
    assert (exported.mask_token_id, exported.chat_template) == (hub.mask_token_id, hub.chat_template)
