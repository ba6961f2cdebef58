"""The SFT sample stream (train/sft_data.SampleOrder), shuffled and length-grouped, and collate's EOS floor."""

import random

import pytest

from data.collate import collate
from train.sft_data import SampleOrder, row_lengths


def _lengths(n: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [int(min(512, 16 * rng.lognormvariate(1.0, 0.8))) + 4 for _ in range(n)]


def _epoch_batches(order: SampleOrder, epoch: int, size: int, world: int, accum: int) -> list[list[int]]:
    """Every micro-batch of every rank for the steps of one epoch, in step / micro / rank order."""
    per_step = size * world * accum
    assert order.num_rows % per_step == 0
    batches = []
    for position in range(epoch * order.num_rows, (epoch + 1) * order.num_rows, per_step):
        for micro in range(accum):
            batches += [order.micro_batch(position, micro, rank, world, size) for rank in range(world)]
    return batches


@pytest.mark.parametrize("world,accum", [(1, 1), (2, 3), (3, 2), (8, 1)])
def test_grouped_epoch_visits_every_row_once(world, accum):
    size, n = 4, 4 * 8 * 3 * 5
    order = SampleOrder(n, seed=7, lengths=_lengths(n), bucket_rows=size * 16)
    for epoch in (0, 1):
        seen = [i for b in _epoch_batches(order, epoch, size, world, accum) for i in b]
        assert sorted(seen) == list(range(n)), epoch


def test_grouping_cuts_padding_and_keeps_ranks_of_a_step_close():
    n, size, world = 960, 8, 2
    lengths = _lengths(n)
    plain, grouped = SampleOrder(n, 3), SampleOrder(n, 3, lengths, bucket_rows=size * 16)

    def padded(order):
        return sum(max(lengths[i] for i in b) * len(b) for b in _epoch_batches(order, 0, size, world, 1))

    # padding fraction on this long-tailed distribution: 58% shuffled, 15% in buckets of 16 micro-batches
    assert 1 - sum(lengths) / padded(plain) > 0.5
    assert 1 - sum(lengths) / padded(grouped) < 0.2
    # the two ranks of a micro step take neighbouring slices of a sorted bucket: similar longest rows
    batches = _epoch_batches(grouped, 0, size, world, 1)
    gaps = [abs(max(lengths[i] for i in a) - max(lengths[i] for i in b)) for a, b in zip(batches[::2], batches[1::2])]
    assert sorted(gaps)[len(gaps) // 2] <= 0.1 * max(lengths)


def test_same_seed_same_batches_other_seed_other_batches():
    n, lengths = 300, _lengths(300)

    def stream(seed):
        order = SampleOrder(n, seed, lengths, bucket_rows=32)
        return [order.micro_batch(p, m, r, 2, 4) for p in range(0, 2 * n, 16) for m in range(2) for r in range(2)]

    assert stream(5) == stream(5)
    assert stream(5) != stream(6)
    # position alone identifies the batch: a fresh order (a resumed job) agrees from any step on
    late = SampleOrder(n, 5, lengths, bucket_rows=32)
    assert late.micro_batch(320, 1, 1, 2, 4) == SampleOrder(n, 5, lengths, bucket_rows=32).micro_batch(320, 1, 1, 2, 4)
    assert [late.index(p) for p in range(n, 2 * n)] != [late.index(p) for p in range(n)]  # epochs differ


def test_grouped_bucket_is_the_plain_bucket_sorted_longest_first():
    n, lengths = 100, _lengths(100, seed=1)
    plain, grouped = SampleOrder(n, 2).permutation(0), SampleOrder(n, 2, lengths, bucket_rows=32).permutation(0)
    for s in range(0, n, 32):
        assert sorted(grouped[s : s + 32]) == sorted(plain[s : s + 32])
        assert [lengths[i] for i in grouped[s : s + 32]] == sorted((lengths[i] for i in plain[s : s + 32]), reverse=True)


def test_row_lengths_reads_the_arrow_column():
    import datasets

    rows = [{"input_ids": list(range(k)), "prompt_len": 1} for k in (3, 9, 5)]
    assert row_lengths(datasets.Dataset.from_list(rows)) == row_lengths(rows) == [3, 9, 5]


def test_collate_min_eos_pads_past_the_longest_row():
    rows = [{"input_ids": [5, 6, 7, 0], "prompt_len": 1}, {"input_ids": [5, 8, 0], "prompt_len": 1}]
    plain = collate(rows, pad_id=0)
    assert plain["input_ids"].shape == (2, 4)
    floor = collate(rows, pad_id=0, min_eos=3)
    assert floor["input_ids"].tolist() == [[5, 6, 7, 0, 0, 0], [5, 8, 0, 0, 0, 0]]
    eos_targets = (floor["input_ids"] == 0) & floor["maskable"]
    assert eos_targets.sum(1).tolist() == [3, 4]
    assert collate(rows, pad_id=0, pad_with_eos=False, min_eos=3)["input_ids"].shape == (2, 4)


def test_collate_eos_to_pads_each_row_to_its_own_canvas():
    rows = [{"input_ids": [5, 6, 7, 0], "prompt_len": 1}, {"input_ids": [5, 8, 0], "prompt_len": 1}]
    b = collate(rows, pad_id=0, eos_to=[5, 3])
    assert b["input_ids"].tolist() == [[5, 6, 7, 0, 0], [5, 8, 0, 0, 0]]
    assert b["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert b["maskable"].tolist() == [[False, True, True, True, True], [False, True, True, False, False]]
    with pytest.raises(ValueError):
        collate(rows, pad_id=0, eos_to=[3, 3])  # shorter than the first row


def test_canvas_ends_bound_the_answer_length_from_above_only():
    """eos_canvas: a row's answer canvas C is uniform in [own answer, canvas], so C >= answer always, C reaches the
    canvas, and C alone barely tells a short answer from a long one (unlike grouping without it)."""
    from train.sft import Config, canvas_ends

    rng = random.Random(0)
    rows = []
    for _ in range(4000):
        p, a = rng.randint(10, 40), rng.randint(5, 60)
        rows.append({"input_ids": [1] * (p + a), "prompt_len": p})
    cfg = Config(eos_canvas=96, max_length=160)
    ends = canvas_ends(cfg, rows)
    canvas = [e - r["prompt_len"] for e, r in zip(ends, rows)]
    answers = [len(r["input_ids"]) - r["prompt_len"] for r in rows]
    assert all(a <= c <= 96 for a, c in zip(answers, canvas)) and max(canvas) == 96
    assert ends == canvas_ends(cfg, rows)  # fixed by the seed
    short = [c for a, c in zip(answers, canvas) if a <= 20]
    long_ = [c for a, c in zip(answers, canvas) if a >= 45]
    # means of U(a, 96): ~(12.5 + 96) / 2 vs ~(52.5 + 96) / 2; with grouping alone they would be 12.5 vs 52.5
    assert 50 < sum(short) / len(short) < 58 and 70 < sum(long_) / len(long_) < 78
    assert canvas_ends(Config(), rows) is None


def test_rank_shards_of_preprocessing_join_to_the_one_rank_rows(tiny_tokenizer):
    """load_sft_rows: each rank builds a contiguous shard; joined in rank order they are the 1-rank rows, and the
    minicode source gives generate_problems' prompts, solutions and task ids without running any solution."""
    from data.minicode import generate_problems
    from data.sources import SourceConfig, load_examples
    from train.sft_data import build_rows

    source = SourceConfig(name="minicode", split="train", max_examples=40, seed=3)
    examples, _ = load_examples(source)
    problems = generate_problems("train", 40, 3)
    assert [(e.prompt, e.completion, e.source) for e in examples] == \
        [(p["prompt"], p["canonical_solution"], p["task_id"]) for p in problems]
    whole, stats = build_rows(source, tiny_tokenizer, 256, False, {})
    for count in (2, 3):
        joined, kept = [], 0
        for index in range(count):
            rows, part = build_rows(source, tiny_tokenizer, 256, False, {}, (index, count))
            joined, kept = joined + rows, kept + part["kept"]
        assert joined == whole and kept == stats["kept"] == len(whole)
