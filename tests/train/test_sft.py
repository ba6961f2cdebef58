"""train/sft.py for real: in-process on one rank, and through the deepspeed launcher with 2 CPU ranks."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from train.checkpoint import latest_checkpoint
from train.config import load_config
from train.metrics import read_metrics

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}


def _launch(port, model_dir, out, *overrides, script="train/sft.py", env=ENV):
    cmd = ["deepspeed", "--num_gpus", "2", "--master_port", str(port), script,
           "--config", "configs/sft/tiny.yaml", f"model={model_dir}", f"output_dir={out}",
           "data.max_examples=64", "max_length=128", *overrides]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
                          start_new_session=True)
    return proc.returncode, proc.stdout + proc.stderr


def _train(port, model_dir, out, *overrides) -> str:
    code, log = _launch(port, model_dir, out, *overrides)
    assert code == 0, log[-6000:]
    return log


def test_bad_config_key_fails_fast():
    t0 = time.time()
    proc = subprocess.run([sys.executable, "train/sft.py", "--config", "configs/sft/tiny.yaml", "lora.rank=3"],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown config key 'lora.rank'" in proc.stderr
    assert time.time() - t0 < 60


@pytest.mark.parametrize("masker", ["uniform", "ast", "ast-span"])
def test_one_rank_step_loss_matches_hand_computation(tiny_model_dir, tmp_path, masker):
    """The logged loss of step 1 equals sum CE/p/answer_len computed by hand from the same masks and weights: the
    AST maskers (TreeDiff Alg. 1 and 2, with the stored tier weights, regions and node spans) run through the real
    trainer and loss too."""
    from corruption.maskers import CODE, MASKERS, pad_spans
    from corruption.schedules import sample_p_mask
    from inference.adapters import get_adapter
    from train import sft

    cfg = load_config(sft.Config, ["--config", str(REPO / "configs/sft/tiny.yaml"), f"model={tiny_model_dir}",
                                   f"output_dir={tmp_path}", "max_steps=1", "optim.lr=0", "lora.dropout=0",
                                   "grad_accum=1", "micro_batch_size=2", "data.max_examples=8", "use_wandb=false",
                                   f"masker={masker}", "max_length=128"])
    sft.main(cfg)
    logged = read_metrics(tmp_path)[0]["loss"]

    from transformers import AutoModel, AutoTokenizer

    from data.collate import collate
    from train.sft_data import SampleOrder, load_sft_rows

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows, _ = load_sft_rows(cfg.data, tok, cfg.max_length, False, {}, tmp_path / "data_cache")
    picked = [rows[i] for i in SampleOrder(len(rows), 0).micro_batch(0, 0, 0, 1, 2)]
    batch = collate(picked, tok.pad_token_id)
    model = AutoModel.from_pretrained(tiny_model_dir).eval()
    gen = torch.Generator().manual_seed(hash((0, 0, 0, 0)) % 2**62)
    p = sample_p_mask("linear", 2, 0, 1, generator=gen)
    mb = MASKERS[masker](batch["input_ids"], batch["maskable"], p, get_adapter(model.config).mask_token_id,
                         generator=gen, weights=batch["weights"], span_ids=batch.get("span_ids"),
                         regions=batch.get("regions"), spans=pad_spans([r["spans"] for r in picked]))
    if masker != "uniform":  # the AST path ran: exactly N code tokens masked, their p is the actual rate N / L_code
        code = batch["maskable"] & (batch["regions"] == CODE)
        n = torch.floor(p * code.sum(1)).long()
        assert code.any() and torch.equal((mb.is_masked & code).sum(1), n)
        assert torch.allclose(mb.p_mask[0][code[0]], n[0] / code[0].sum())
    with torch.no_grad():
        logits = model(mb.noisy_ids, attention_mask=batch["attention_mask"]).logits
    expected = 0.0
    for i in range(2):
        m = mb.is_masked[i]
        ce = torch.nn.functional.cross_entropy(logits[i][m], batch["input_ids"][i][m], reduction="none")
        expected += ((ce / mb.p_mask[i][m]).sum() / batch["maskable"][i].sum()).item() / 2
    assert abs(logged - expected) < 1e-4 * max(1.0, expected)


@pytest.mark.deepspeed
def test_two_rank_sft_trains_exports_and_resumes(tiny_model_dir, tmp_path, master_port):
    out = tmp_path / "run"
    _train(master_port(), tiny_model_dir, out, "max_steps=8", "save_every=4", "optim.lr=3e-3")
    rows = read_metrics(out)
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert {"loss", "lr", "tokens_per_s", "grad_norm"} <= set(rows[0])
    first, last = sum(r["loss"] for r in rows[:3]) / 3, sum(r["loss"] for r in rows[-3:]) / 3
    assert last < first, [r["loss"] for r in rows]
    assert (out / "config.yaml").exists() and (out / "final/adapter/adapter_config.json").exists()
    tokenizer_config = json.loads((out / "final/adapter/tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"  # loadable by transformers 4.x too

    # the exported adapter loads back onto the base with peft and changes the logits
    from peft import PeftModel
    from transformers import AutoModel

    base = AutoModel.from_pretrained(tiny_model_dir).eval()
    ids = torch.randint(10, 100, (1, 12))
    with torch.no_grad():
        before = base(ids).logits
        tuned = PeftModel.from_pretrained(base, out / "final/adapter").eval()
        after = tuned(ids).logits
    assert not torch.allclose(before, after)

    # the DeepSpeed checkpoint holds the trained LoRA weights only (the frozen base is the model path)
    state = torch.load(latest_checkpoint(out) / "mp_rank_00_model_states.pt", weights_only=False)["module"]
    assert state and all("lora_" in k for k in state), [k for k in state if "lora_" not in k][:5]

    # rerun with more steps: resumes after step 8, logs 9..10 once
    log = _train(master_port(), tiny_model_dir, out, "max_steps=10", "save_every=4", "optim.lr=3e-3")
    assert "at step 8" in log
    assert [r["step"] for r in read_metrics(out)] == list(range(1, 11))


@pytest.mark.deepspeed
@pytest.mark.parametrize("order", [(), ("group_by_length=true", "group_bucket_batches=3")],
                         ids=["shuffled", "length-grouped"])
def test_resume_after_kill_matches_uninterrupted_run(tiny_model_dir, tmp_path, order, master_port):
    args = ("max_steps=6", "save_every=2", "keep_last=5", "optim.lr=3e-3", *order)
    _train(master_port(), tiny_model_dir, tmp_path / "a", *args)
    reference = {r["step"]: r["loss"] for r in read_metrics(tmp_path / "a")}

    code, log = _launch(master_port(), tiny_model_dir, tmp_path / "b", *args, script="tests/train/sft_killed_at.py",
                        env={**ENV, "KILL_AT_STEP": "4"})
    assert code != 0 and latest_checkpoint(tmp_path / "b").name == "step_000004", log[-6000:]
    assert not (tmp_path / "b/final").exists()

    log = _train(master_port(), tiny_model_dir, tmp_path / "b", *args)
    assert "step_000004 at step 4" in log
    resumed = {r["step"]: r["loss"] for r in read_metrics(tmp_path / "b")}
    assert sorted(resumed) == list(range(1, 7))
    for step in range(1, 7):
        assert resumed[step] == pytest.approx(reference[step], rel=1e-5, abs=1e-6), step
