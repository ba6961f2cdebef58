from dataclasses import dataclass, field

import pytest

from train.config import ConfigError, load_config, load_saved_config, save_config


@dataclass
class Lora:
    r: int = 64
    alpha: int = 128


@dataclass
class Cfg:
    lr: float = 5e-5
    output_dir: str = "runs/x"
    lora: Lora = field(default_factory=Lora)


def test_defaults_yaml_and_overrides_merge_in_order(tmp_path):
    yaml = tmp_path / "c.yaml"
    yaml.write_text("lr: 0.001\nlora:\n  r: 8\n")
    cfg = load_config(Cfg, ["--config", str(yaml), "lora.r=16", "--local_rank=1"])
    assert cfg == Cfg(lr=0.001, lora=Lora(r=16, alpha=128))


@pytest.mark.parametrize("argv,match", [
    (["lrr=1"], "unknown config key 'lrr'.*did you mean lr"),
    (["lora.rank=3"], "unknown config key 'lora.rank'"),
    (["lr=abc"], "bad value"),
    (["--config", "/nonexistent.yaml"], "not found"),
    (["positional"], "unexpected argument"),
])
def test_bad_input_fails_with_a_clear_message(argv, match):
    with pytest.raises(ConfigError, match=match):
        load_config(Cfg, argv)


def test_unknown_key_in_yaml(tmp_path):
    yaml = tmp_path / "c.yaml"
    yaml.write_text("lora:\n  alpah: 3\n")
    with pytest.raises(ConfigError, match="alpah"):
        load_config(Cfg, ["--config", str(yaml)])


def test_saved_config_roundtrips(tmp_path):
    cfg = load_config(Cfg, ["lr=0.25"])
    save_config(cfg, tmp_path / "config.yaml")
    assert load_saved_config(Cfg, tmp_path / "config.yaml") == cfg


def test_treediff_and_uniform_recipes_differ_only_in_the_masker():
    """TreeDiff: "a dynamic, curriculum-based approach to all masking method": the uniform baseline shares the
    curriculum schedule and every other setting; only the masker (and the run's name and directory) differ."""
    from dataclasses import asdict
    from pathlib import Path

    from train import sft

    configs = Path(__file__).resolve().parents[2] / "configs/sft"
    tree = asdict(load_config(sft.Config, ["--config", str(configs / "llada8b-treediff.yaml")]))
    uniform = asdict(load_config(sft.Config, ["--config", str(configs / "llada8b-uniform.yaml")]))
    differing = {k for k in tree if tree[k] != uniform[k]}
    assert differing == {"masker", "run_name", "output_dir"}, {k: (tree[k], uniform[k]) for k in differing}
    assert (tree["masker"], uniform["masker"]) == ("ast", "uniform") and tree["schedule"] == "curriculum"


def test_an_override_yaml_cannot_read_is_taken_as_the_literal_string():
    # a repair prompt template on the command line (minicode/full.sh): newlines and backticks are not YAML
    template = "Fix the bugs:\n```python\n{broken}\n```\nFixed code:\n"
    cfg = load_config(Cfg, [f"output_dir={template}", "lora.r=4"])
    assert cfg.output_dir == template and cfg.lora.r == 4
    with pytest.raises(ConfigError, match="unknown config key 'nope'"):
        load_config(Cfg, [f"nope={template}"])


def test_negative_save_every_is_refused(tiny_model_dir):
    from train import sft

    cfg = load_config(sft.Config, [f"model={tiny_model_dir}", "save_every=-1"])
    with pytest.raises(ConfigError, match="save_every must be >= 0"):
        sft.validate(cfg)
