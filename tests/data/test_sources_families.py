"""data.families: SFT on a subset of minicode's families (the --full TreeDiff base and its continued training)."""

from __future__ import annotations

import pytest

from data.minicode import generate_specs
from data.sources import SourceConfig, load_examples
from data.usage import UsageError
from train.config import load_config
from train.sft_data import _cache_key


def _family_of(prompt: str, specs) -> str:
    return next(s.family for s in specs if s.prompt == prompt)


def test_families_filter_keeps_only_those_families_and_the_generator_order():
    cfg = SourceConfig(
        name="minicode", split="train", max_examples=30, seed=3, families=["rle", "pad", "affine"]
    )
    examples, stats = load_examples(cfg)
    specs = generate_specs("train", 30, 3, ["rle", "pad", "affine"])
    assert stats.kept == 30 and [e.prompt for e in examples] == [s.prompt for s in specs]
    assert {_family_of(e.prompt, specs) for e in examples} == {"rle", "pad", "affine"}
    everything = generate_specs("train", 200, 3)
    assert len({s.family for s in everything}) > 3  # without the filter other families come in


def test_families_filter_errors_are_one_line_usage_errors():
    with pytest.raises(UsageError, match="unknown families nope"):
        load_examples(SourceConfig(name="minicode", max_examples=5, families=["rle", "nope"]))
    with pytest.raises(UsageError, match="data.families selects minicode families"):
        load_examples(SourceConfig(name="embedded", families=["rle"]))


def test_sft_config_takes_a_families_list_and_the_cache_key_changes_with_it():
    from train.sft import Config

    cfg = load_config(Config, ["--config", "configs/sft/minicode.yaml", "data.families=[rle,pad]"])
    assert cfg.data.families == ["rle", "pad"]
    assert load_config(Config, ["--config", "configs/sft/minicode.yaml"]).data.families is None

    class Tok:
        name_or_path, _n = "tok", 10

        def __len__(self):
            return self._n

    keys = {
        _cache_key(SourceConfig(name="minicode", families=f), Tok(), 160, False, {})
        for f in (None, ["rle"], ["pad"])
    }
    assert len(keys) == 3  # a run on other families never reuses the cached rows of another
