"""Repair-pair synthesis, the rule-based corrupter, pair statistics and noise-and-resume repair on the tiny model."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from data.usage import UsageError
from repair import corrupt, pair_stats, resume_repair, synthesize
from repair.pairs import PairFilter, keep, make_pair, ngram_jaccard, pair_statistics, token_edit_distance

REPO = Path(__file__).resolve().parents[2]


def test_token_edit_distance_and_ngram_similarity_by_hand():
    assert token_edit_distance("x = a + b", "x = a - b") == 1  # one substitution
    assert token_edit_distance("f(x)", "f(x))") == 1  # one insertion
    assert token_edit_distance("if x:\n    y", "if x:\n  y") == 1  # indentation is a token
    a, b = "a b c d e", "a b c d f"  # 4-grams {abcd, bcde} vs {abcd, bcdf}: 1 shared of 3
    assert math.isclose(ngram_jaccard(a, b), 1 / 3)
    assert ngram_jaccard(a, a) == 1.0


def test_filters_do_what_they_say():
    good = "def f(x):\n    return x\n"
    assert keep(make_pair(good, good, 0.5, {}), PairFilter()) == "identical"
    assert keep(make_pair("def f(x)\n    return x\n", "def f(x:\n", 0.5, {}), PairFilter()) == "fixed_does_not_parse"
    assert keep(make_pair("def f(x)\n    return x\n", good, 0.5, {}), PairFilter(), fixed_passes=False) == "fixed_fails_tests"
    broken_parses = make_pair("def f(x):\n    return y\n", good, 0.5, {})
    assert keep(broken_parses, PairFilter(last_mile=True)) == "not_last_mile"
    far = make_pair("def f(x)\n    return x + 1 + 2 + 3 + 4\n", good, 0.5, {})
    assert keep(far, PairFilter(last_mile=True, max_edit_distance=4)) == "not_last_mile"
    near = make_pair("def f(x)\n    return x\n", good, 0.5, {})
    assert keep(near, PairFilter(last_mile=True)) is None and near.error == "expected ':'"


def test_pair_statistics_by_hand():
    pairs = [{"broken": "a b c d e", "fixed": "a b c d", "edit_distance": 1, "broken_parses": True, "error": None},
             {"broken": "a b c d f", "fixed": "a x c d f y", "edit_distance": 2, "broken_parses": False, "error": "e"}]
    s = pair_statistics(pairs)
    assert math.isclose(s["diversity_broken_ngram_jaccard"], 1 / 3) and s["complexity_edit_distance"] == 1.5
    # fixed programs: {abcd} vs {axcd, xcdf, cdfy}: nothing shared -> 0 (Figure 7(b) measures these)
    assert s["diversity_fixed_ngram_jaccard"] == 0.0
    # localization per pair: the single deletion is one edit (gap 0), the other edits at fixed positions 1 and 5
    assert s["localization_edit_gap"] == (0.0 + 4.0) / 2
    assert s["errors"] == {"parses": 1, "e": 1}
    # three pairs: fixed 4-grams {abcd, bcde} {abcd, bcdf} {xyzw} -> (1/3 + 0 + 0) / 3; broken {abcd, bcde, cde(}
    # {abcd, bcdf, cdff} {xqzw, qzwv} -> (1/5 + 0 + 0) / 3; edits: one deletion, one deletion, q->y at 1 + v deleted at 4
    pairs = [{"broken": "a b c d e (", "fixed": "a b c d e", "edit_distance": 1, "broken_parses": False, "error": "e"},
             {"broken": "a b c d f f", "fixed": "a b c d f", "edit_distance": 1, "broken_parses": False, "error": "e"},
             {"broken": "x q z w v", "fixed": "x y z w", "edit_distance": 2, "broken_parses": True, "error": None}]
    s = pair_statistics(pairs)
    assert math.isclose(s["diversity_fixed_ngram_jaccard"], 1 / 9)
    assert math.isclose(s["diversity_broken_ngram_jaccard"], 1 / 15)
    assert s["localization_edit_gap"] == 1.0  # (0 + 0 + 3) / 3: single-edit pairs count as 0


def test_intermediate_states_never_contain_masks(tiny_model_dir):
    from inference.loading import load_model
    from inference.sampler import generate

    loaded = load_model(str(tiny_model_dir))
    ids = torch.tensor([loaded.tokenizer("def f(x):\n", add_special_tokens=False)["input_ids"]])
    out = generate(loaded.model, ids, steps=8, gen_length=16, block_length=16, temperature=1.0,
                   generator=torch.Generator().manual_seed(0), return_trajectory=True)
    mask = loaded.adapter.mask_token_id
    assert any((x == mask).any() for x in out.trajectory[:-1])  # the raw states do have holes ...
    for state in synthesize.states(out, ids.shape[1]):
        assert not (state == mask).any()  # ... the decoded ones never
        synthesize.decode_completion(loaded.tokenizer, state, (loaded.adapter.eos_token_id,), mask)


def test_trajectory_predictions_never_decode_mask_even_when_it_wins_the_argmax(tiny_model_dir):
    """A real model whose LM head favours [MASK] everywhere: the decoded intermediate states still have no hole."""
    from inference.loading import load_model
    from inference.sampler import argmax_excluding, generate

    assert argmax_excluding(torch.tensor([[0.0, 5.0, 3.0, 4.0]]), [1]).tolist() == [3]
    assert argmax_excluding(torch.tensor([[0.0, 5.0, 3.0, 4.0]]), [1, 3]).tolist() == [2]
    loaded = load_model(str(tiny_model_dir))
    mask = loaded.adapter.mask_token_id
    head = loaded.model.get_output_embeddings()
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    with torch.no_grad():
        biased.weight.copy_(head.weight)
        biased.bias.zero_()
        biased.bias[mask] = 1e4  # [MASK] wins every raw argmax
    loaded.model.set_output_embeddings(biased)
    ids = torch.tensor([loaded.tokenizer("def f(x):\n", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        assert (loaded.model(ids).logits.argmax(-1) == mask).all()
    out = generate(loaded.model, ids, steps=8, gen_length=16, block_length=16, temperature=0.0, return_trajectory=True)
    assert not (out.sequences == mask).any()  # generation never commits [MASK] ...
    assert any((x == mask).any() for x in out.trajectory[:-1])
    for pred in out.trajectory_predictions:
        assert not (pred == mask).any()  # ... nor does the prediction that fills the holes
    for state in synthesize.states(out, ids.shape[1]):
        synthesize.decode_completion(loaded.tokenizer, state, (loaded.adapter.eos_token_id,), mask)  # no assertion


def test_synthesize_writes_distinct_pairs_and_resumes(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "pairs.jsonl"
    stats = synthesize.main(["--model", str(tiny_model_dir), "--out", str(out), "--num-samples", "16",
                             "--gen-length", "32", "--steps", "16"])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and stats["pairs"] == len(rows)
    assert all(r["broken"] != r["fixed"] and 0 < r["t"] < 1 for r in rows)
    assert {"broken", "fixed", "t", "edit_distance", "broken_parses", "error", "provenance"} <= set(rows[0])
    assert all(r["tests"] for r in rows)  # the tiny prompts' tests travel with the pairs (execution match)
    again = synthesize.main(["--model", str(tiny_model_dir), "--out", str(out), "--num-samples", "16",
                             "--gen-length", "32", "--steps", "16"])
    assert again["pairs"] == len(rows) and again["this_run"] == {}  # every sample was already done
    import datasets

    assert len(datasets.load_dataset("json", data_files=str(out), split="train")) == len(rows)


def test_rule_based_corrupter_and_stats_cli(tmp_path):
    out = tmp_path / "rule.jsonl"
    corrupt.main(["--out", str(out), "--num-samples", "40", "--seed", "1"])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 40 and all(r["broken"] != r["fixed"] for r in rows)
    assert {r["provenance"]["rule"] for r in rows} <= set(corrupt.RULES)
    assert [json.loads(x)["broken"] for x in out.read_text().splitlines()] == [
        r.broken for r in corrupt.corrupt(corrupt.load_programs("embedded"), 40, 1)]  # deterministic
    stats = pair_stats.main([str(out), "--figure", str(tmp_path / "s.png")])
    assert (tmp_path / "s.png").stat().st_size > 1000 and stats[str(out)]["pairs"] == 40


def test_resume_repair_runs_and_pools(tiny_model_dir, tmp_path, tiny_tokenizer):
    src = tmp_path / "broken.jsonl"
    broken = "def f(x)\n    return x\n"
    src.write_text(json.dumps({"broken": broken}) + "\n")
    summary = resume_repair.main(["--model", str(tiny_model_dir), "--input", str(src), "--out",
                                  str(tmp_path / "rr.jsonl"), "--noise-levels", "0.3,0.6", "--mode", "error-region",
                                  "--samples", "5", "--temperature", "1.0", "--steps", "8"])
    old = summary["last_mile_old"]
    assert set(old) >= {"any", "best", "vote", "per_level", "pooled"} and summary["programs"] == old["programs"] == 1
    assert set(old["pooled"]) == {"pass@1", "pass@3", "pass@5"} and old["samples_per_level"] == 5
    row = json.loads((tmp_path / "rr.jsonl").read_text())
    assert [len(level) for level in row["candidates"]] == [5, 5]
    assert len({c for level in row["candidates"] for c in level}) > 2  # temperature > 0: the samples differ
    # a spare slot lets a repair insert: some candidate has more tokens than the broken program
    n_tokens = len(tiny_tokenizer(broken, add_special_tokens=False)["input_ids"])
    assert max(len(tiny_tokenizer(c, add_special_tokens=False)["input_ids"])
               for level in row["candidates"] for c in level) > n_tokens
    assert row["sketch_match"] is None and row["execution_match"] is None  # no fixed program, no tests: unscored
    assert summary["sketch_match"]["programs"] == 0 and summary["sketch_match"]["any"] is None  # never 0 or 1


def test_resume_repair_continues_after_the_last_complete_row(tiny_model_dir, tmp_path, monkeypatch):
    src, out = tmp_path / "broken.jsonl", tmp_path / "rr.jsonl"
    programs = ["def f(x)\n    return x\n", "def g(y):\n    return (y\n", "x = 1\n", "def h(z):\nreturn z\n"]
    src.write_text("".join(json.dumps({"broken": b}) + "\n" for b in programs))  # the third parses: not scored
    args = ["--model", str(tiny_model_dir), "--input", str(src), "--out", str(out), "--noise-levels", "0.3,0.6",
            "--samples", "3", "--steps", "4"]
    whole = resume_repair.main(args)
    lines = out.read_text().splitlines(keepends=True)
    assert len(lines) == 3
    out.write_text(lines[0] + lines[1][:40])  # killed while writing the second row
    made = []
    real = resume_repair.repair_row
    monkeypatch.setattr(resume_repair, "repair_row", lambda *a: made.append(a[1]["broken"]) or real(*a))
    resumed = resume_repair.main(args)
    assert made == [programs[1], programs[3]]  # the first row is kept, the torn one redone
    assert out.read_text().splitlines(keepends=True) == lines and resumed == whole  # what one run writes
    made.clear()
    assert resume_repair.main(args) == whole and made == []  # complete: nothing to redo
    before = out.read_bytes()
    with pytest.raises(UsageError, match="other settings.*steps"):
        resume_repair.main(args[:-1] + ["8"])
    src.write_text("".join(json.dumps({"broken": b}) + "\n" for b in programs[::-1]))
    with pytest.raises(UsageError, match="other broken programs"):
        resume_repair.main(args)
    assert out.read_bytes() == before and made == []  # refused before any work: nothing lost


def test_spare_slots_follow_each_noised_run():
    ids, pos = resume_repair.with_spare_slots([1, 2, 3, 4, 5], [False, True, True, False, True], 2, 0)
    assert ids == [1, 2, 3, 0, 0, 4, 5, 0, 0]
    assert pos == [False, True, True, True, True, False, True, True, True]
    assert resume_repair.with_spare_slots([1, 2], [True, False], 0, 0) == ([1, 2], [True, False])


def test_resume_repair_pooling_by_hand():
    """Two programs, two noise levels, n = 3 samples per level (pass@5 needs 5, so it is left out)."""
    rows = [{"candidates": [["x", "y", "y"], ["x", "x", "z"]], "m": [[True, False, False], [True, True, False]]},
            {"candidates": [["p", "q", "r"], ["s", "q", "t"]], "m": [[False, False, False], [False, False, True]]},
            {"candidates": [["u", "u", "u"], ["u", "u", "u"]], "m": None}]  # not scorable on this metric: left out
    s = resume_repair.pooled(rows, [0.1, 0.5], "m")
    assert s["programs"] == 2
    assert s["samples_per_level"] == 3 and set(s["pooled"]) == {"pass@1", "pass@3"}
    assert s["per_level"]["0.1"]["pass@1"] == pytest.approx((1 / 3 + 0) / 2)
    assert s["per_level"]["0.5"]["pass@1"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert s["per_level"]["0.1"]["pass@3"] == pytest.approx(0.5) and s["per_level"]["0.5"]["pass@3"] == 1.0
    # pooled (Table 3: k samples at every level, any succeeds): A 1 - (2/3)(1/3) = 7/9, B 1 - 1 * (2/3) = 1/3
    assert s["pooled"]["pass@1"] == pytest.approx((7 / 9 + 1 / 3) / 2) and s["pooled"]["pass@3"] == 1.0
    assert s["any"] == pytest.approx(5 / 9)
    assert s["best"] == pytest.approx(0.5) and s["best_level"] == "0.5"
    # vote per sample index over the levels: A j0 "x" (ok), j1 tie "y" (lowest level, fails), j2 "y" (fails): 1/3;
    # B: p / q / r, all fail: 0
    assert s["vote"] == pytest.approx((1 / 3 + 0) / 2)
    assert resume_repair.pass_at_k(5, 2, 3) == pytest.approx(1 - 1 / 10)  # 1 - C(3,3)/C(5,3)
    assert resume_repair.pass_at_k(5, 1, 1) == pytest.approx(0.2)


def test_error_region_positions_cover_the_error_line(tiny_tokenizer):
    code = "x = 1\ndef f(x)\n    return x\ny = 2\n"
    enc = tiny_tokenizer(code, add_special_tokens=False, return_offsets_mapping=True)
    pos = resume_repair.noise_positions(code, enc["offset_mapping"], 1.0, "error-region", 0,
                                        torch.Generator().manual_seed(0))
    text = "".join(code[a:b] for (a, b), m in zip(enc["offset_mapping"], pos) if m)
    assert "def" in text and "y = 2" not in text


@pytest.mark.deepspeed
def test_pair_file_feeds_sft(tiny_model_dir, tmp_path):
    pairs = tmp_path / "rule.jsonl"
    corrupt.main(["--out", str(pairs), "--num-samples", "16"])
    proc = subprocess.run([sys.executable, "train/sft.py", "--config", "configs/sft/repair-pairs.yaml",
                           f"model={tiny_model_dir}", f"data.name={pairs}", "max_steps=2", "use_wandb=false",
                           f"output_dir={tmp_path / 'run'}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len((tmp_path / "run/metrics.jsonl").read_text().splitlines()) == 2
