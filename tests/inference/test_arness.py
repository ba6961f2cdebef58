"""AR-ness@k (DiffuCoder, arXiv 2506.20639, section 4.1 / Appendix A.2) against hand-computed orders, the samplers'
recorded decoding order, and `python -m inference.arness` end to end on the tiny model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from data.tiny_problems import TINY_PROBLEMS
from data.usage import UsageError
from inference.arness import check_one_per_step, decode_order, global_ar_ness, local_ar_ness, main
from inference.sampler import generate

REPO = Path(__file__).resolve().parents[2]


def test_left_to_right_scores_one_at_every_k():
    order = torch.arange(8)[None]  # [1, 8]
    assert torch.equal(local_ar_ness(order, 8), torch.ones(1, 8))
    assert torch.equal(global_ar_ness(order, 8), torch.ones(1, 8))


def test_right_to_left_local_zero_global_k_over_l():
    """Local: no step continues the previous one (the first does not continue the prompt either). Global: only the
    last k steps, with <= k masks left, pick among the k earliest: k / L."""
    L = 8
    order = torch.arange(L - 1, -1, -1)[None]
    assert torch.equal(local_ar_ness(order, 9), torch.zeros(1, 9))
    assert torch.allclose(global_ar_ness(order, 4), torch.tensor([[1, 2, 3, 4]]) / L)


def test_mixed_orders_by_hand():
    """[1, 0, 2, 3]: only the last step continues its predecessor (k = 1; k = 2 would need p_1 = 1); the first step
    skips the earliest mask, the rest take it. [2, 3, 4, 0, 1, 5]: runs 0,1,2,0,1,0 of continued predecessors; the
    first three steps take the 3rd earliest mask, the last three the earliest."""
    orders = [[1, 0, 2, 3], [2, 3, 4, 0, 1, 5]]
    local = [[1 / 4, 0, 0], [3 / 6, 1 / 6, 0]]
    glob = [[3 / 4, 1, 1, 1], [3 / 6, 3 / 6, 1, 1]]
    for order, want_local, want_global in zip(orders, local, glob):
        o = torch.tensor([order])
        assert torch.allclose(local_ar_ness(o, 3), torch.tensor([want_local]))
        assert torch.allclose(global_ar_ness(o, 4), torch.tensor([want_global]))


def test_rows_are_scored_independently():
    orders = torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0], [1, 0, 2, 3]])  # [3, 4]
    for fn in (local_ar_ness, global_ar_ness):
        batched = fn(orders, 3)
        assert torch.equal(batched, torch.cat([fn(o[None], 3) for o in orders]))


def test_order_from_commit_steps_and_the_one_per_step_rule():
    assert decode_order(torch.tensor([[2, 0, 1, 3]])).tolist() == [[1, 2, 0, 3]]
    check_one_per_step(torch.tensor([[2, 0, 1, 3]]))
    with pytest.raises(ValueError, match="several positions"):
        check_one_per_step(torch.tensor([[0, 0, 1, 2]]))
    with pytest.raises(ValueError, match="never committed"):
        check_one_per_step(torch.tensor([[0, -1, 1, 2]]))


def test_definitions_stay_on_the_input_device():
    """meta stands in for CUDA: an index or constant made on the CPU would fail to mix with it."""
    order = torch.tensor([[2, 3, 4, 0, 1, 5]], device="meta")
    assert local_ar_ness(order, 3).device.type == "meta"
    assert global_ar_ness(order, 3).device.type == "meta"


def _prompt(rows=2, n=6):
    g = torch.Generator().manual_seed(3)
    return torch.randint(10, 4000, (rows, n), generator=g)


def _check_order_matches_trajectory(out, prompt_len, mask_id):
    """Each position was masked before its recorded step and holds its final token from that step on."""
    steps = out.commit_step  # [B, G]
    for b, j in ((b, j) for b in range(steps.shape[0]) for j in range(steps.shape[1])):
        s, pos = int(steps[b, j]), prompt_len + j
        assert s >= 0
        assert int(out.trajectory[s][b, pos]) == int(out.sequences[b, pos]) != mask_id
        assert s == 0 or int(out.trajectory[s - 1][b, pos]) == mask_id


@pytest.mark.parametrize("temperature", [0.0, 1.0])
@pytest.mark.parametrize("block_length", [8, 4])
def test_generate_records_a_permutation_without_changing_the_output(tiny_model, temperature, block_length):
    ids = _prompt()
    kw = dict(
        steps=8, gen_length=8, block_length=block_length, temperature=temperature, return_trajectory=True
    )
    plain = generate(tiny_model, ids, generator=torch.Generator().manual_seed(5), **kw)
    out = generate(tiny_model, ids, generator=torch.Generator().manual_seed(5), record_order=True, **kw)
    assert plain.commit_step is None
    assert torch.equal(out.sequences, plain.sequences) and torch.equal(out.confidences, plain.confidences)
    assert out.nfe == plain.nfe
    assert torch.equal(out.commit_step.sort(dim=1).values, torch.arange(8).expand(2, 8))  # a permutation
    _check_order_matches_trajectory(out, ids.shape[1], tiny_model.config.mask_token_id)
    if block_length == 4:  # semi-AR: every position of block 0 is decoded before any of block 1
        assert int(out.commit_step[:, :4].max()) < int(out.commit_step[:, 4:].min())


def test_blocks_of_one_token_decode_left_to_right(tiny_model):
    """block_length 1 forces the left-to-right order: AR-ness 1 at every k, through the recorded order."""
    out = generate(tiny_model, _prompt(), steps=8, gen_length=8, block_length=1, record_order=True)
    order = decode_order(out.commit_step)
    assert torch.equal(local_ar_ness(order, 9), torch.ones(2, 9))
    assert torch.equal(global_ar_ness(order, 4), torch.ones(2, 4))


def test_several_commits_per_step_are_outside_the_definition(tiny_model):
    out = generate(tiny_model, _prompt(), steps=4, gen_length=8, block_length=8, record_order=True)
    assert sorted(torch.bincount(out.commit_step[0]).tolist()) == [2, 2, 2, 2]
    with pytest.raises(ValueError, match="several positions"):
        check_one_per_step(out.commit_step)


def test_a_revised_position_records_its_last_commit(tiny_model):
    """The revision hook re-masks the first committed token after step 0: its step is the later re-commit."""
    mask_id, picked = tiny_model.config.mask_token_id, []

    def hook(x, conf, att):
        positions = torch.zeros_like(x, dtype=torch.bool)
        if not picked:
            picked.append(int((x[0, -8:] != mask_id).nonzero()[0]))
            positions[0, x.shape[1] - 8 + picked[0]] = True
        return positions, torch.zeros(x.shape[0], dtype=torch.long)

    out = generate(
        tiny_model, _prompt(rows=1), steps=8, gen_length=8, block_length=8, record_order=True, revise=hook
    )
    assert int(out.commit_step[0, picked[0]]) > 0
    assert bool((out.commit_step >= 0).all())


def test_dream_sampler_records_its_order_without_changing_the_output(tiny_dream_dir):
    from transformers import AutoModel

    import inference  # noqa: F401  (registers the model types)
    from inference.sampler_dream import diffusion_generate

    model = AutoModel.from_pretrained(tiny_dream_dir).eval()
    ids = _prompt()
    kw = dict(steps=8, gen_length=8, alg="maskgit_plus", return_trajectory=True)
    plain = diffusion_generate(model, ids, **kw)
    out = diffusion_generate(model, ids, record_order=True, **kw)
    assert torch.equal(out.sequences, plain.sequences) and plain.commit_step is None
    _check_order_matches_trajectory(out, ids.shape[1], model.config.mask_token_id)
    # Dream's schedule skips the first step and commits the last two masks together (steps = gen_length)
    assert torch.bincount(out.commit_step[0]).tolist()[-1] == 2
    with pytest.raises(ValueError, match="several positions"):
        check_one_per_step(out.commit_step)


@pytest.fixture()
def problems_file(tmp_path):
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in TINY_PROBLEMS[:3]))
    return path


def test_cli_end_to_end(tiny_model_dir, problems_file, tmp_path):
    out = tmp_path / "arness.json"
    report = main(
        [
            "--model",
            str(tiny_model_dir),
            "--problems",
            str(problems_file),
            "--temperatures",
            "0,1",
            "--gen-length",
            "8",
            "--batch-size",
            "2",
            "--out",
            str(out),
        ]
    )
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert (
        report["problems"] == 3
        and report["local_k"] == list(range(1, 10))
        and report["global_k"] == [1, 2, 3, 4]
    )
    assert report["settings"]["steps"] == report["settings"]["block_length"] == 8
    assert [r["temperature"] for r in report["results"]] == [0.0, 1.0]
    for r in report["results"]:
        assert r["sequences"] == 3 and len(r["local"]) == len(r["local_std"]) == 9 and len(r["global"]) == 4
        assert all(0 <= v <= 1 for v in r["local"] + r["global"])
        assert r["local"] == sorted(r["local"], reverse=True)  # non-increasing in k (App. A.2)
        assert r["global"] == sorted(r["global"])  # non-decreasing in k


def test_cli_on_a_dream_family_model(tiny_dream_dir, problems_file):
    """The plain sampler decodes Dream / DiffuCoder checkpoints too (shifted logits through the adapter)."""
    report = main(
        ["--model", str(tiny_dream_dir), "--problems", str(problems_file), "--temperatures", "0"]
        + ["--gen-length", "8", "--global-k", "8"]
    )
    assert (
        report["results"][0]["sequences"] == 3 and report["results"][0]["global"][-1] == 1.0
    )  # k = L: always


def test_cli_blocks_of_one_token_report_one(tiny_model_dir, problems_file):
    report = main(
        [
            "--model",
            str(tiny_model_dir),
            "--problems",
            str(problems_file),
            "--temperatures",
            "0.7",
            "--gen-length",
            "4",
            "--block-length",
            "1",
            "--local-k",
            "3",
            "--global-k",
            "2",
        ]
    )
    assert report["results"][0]["local"] == [1.0] * 3 and report["results"][0]["global"] == [1.0] * 2


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--steps", "4"], "--steps 4 != --gen-length 8"),
        (["--temperatures", "0,-1"], "--temperatures must be >= 0"),
        (["--block-length", "3"], "multiple of --block-length 3"),
        (["--local-k", "0"], "--local-k must be >= 1"),
    ],
)
def test_cli_refuses_bad_options(tiny_model_dir, problems_file, argv, needle):
    with pytest.raises(UsageError, match=needle):
        main(["--model", str(tiny_model_dir), "--problems", str(problems_file), "--gen-length", "8", *argv])


def test_cli_help_and_missing_inputs(tiny_model_dir, problems_file, tmp_path):
    help_text = subprocess.run(
        [sys.executable, "-m", "inference.arness", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert help_text.returncode == 0 and "--temperatures" in help_text.stdout
    with pytest.raises(UsageError, match="no such file"):
        main(["--model", str(tiny_model_dir), "--problems", str(tmp_path / "none.jsonl")])
    with pytest.raises(UsageError, match="holds no config.json"):
        main(["--model", str(tmp_path), "--problems", str(problems_file)])
