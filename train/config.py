"""The config system every entry point shares: typed dataclass defaults <- YAML (`--config f.yaml`) <- `key=value`.

Built on OmegaConf structured configs, so types are checked and unknown keys are errors (struct mode). The launcher
argument `--local_rank=N` that deepspeed appends is accepted and ignored (LOCAL_RANK is in the environment).
`--help` / `-h` prints every key with its type, default and meaning, generated from the dataclasses
(train/config_help.py), and exits 0.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError

from data.usage import UsageError, run_cli
from train.config_help import help_requested, print_help_and_exit

T = TypeVar("T")


class ConfigError(UsageError):
    """A config file or override that does not fit the config dataclass (a UsageError: one line, exit status 2)."""

    label = "config error"


def _all_keys(node: DictConfig, prefix: str = "") -> list[str]:
    keys = []
    for k, v in node.items_ex(resolve=False) if hasattr(node, "items_ex") else node.items():
        full = f"{prefix}{k}"
        keys.append(full)
        if isinstance(v, DictConfig):
            keys.extend(_all_keys(v, f"{full}."))
    return keys


def _merge(base: DictConfig, other: DictConfig, origin: str) -> DictConfig:
    try:
        return OmegaConf.merge(base, other)
    except ConfigKeyError as e:
        key = getattr(e, "full_key", None) or str(e)
        close = difflib.get_close_matches(str(key), _all_keys(base), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown config key '{key}' in {origin}{hint}") from None
    except ValidationError as e:
        raise ConfigError(f"bad value in {origin}: {e.msg if hasattr(e, 'msg') else e}") from None


def _load_yaml(path: str) -> DictConfig:
    import yaml

    try:
        node = OmegaConf.load(path)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        raise ConfigError(f"{where}: not valid YAML ({getattr(e, 'problem', None) or e})") from None
    if not isinstance(node, DictConfig):
        raise ConfigError(f"{path}: expected a mapping of config keys, got a list")
    return node


def parse_args(argv: list[str]) -> tuple[str | None, list[str]]:
    """Split argv into the --config path and the key=value overrides."""
    config_path, overrides = None, []
    it = iter(argv)
    for arg in it:
        if arg.startswith("--local_rank") or arg.startswith("--local-rank"):
            if "=" not in arg:
                next(it, None)
        elif arg == "--config":
            config_path = next(it, None)
            if config_path is None:
                raise ConfigError("--config needs a path")
        elif arg.startswith("--config="):
            config_path = arg.split("=", 1)[1]
        elif "=" in arg and not arg.startswith("-"):
            overrides.append(arg)
        else:
            raise ConfigError(f"unexpected argument {arg!r}: use --config FILE and key=value overrides "
                              "(--help lists the keys)")
    return config_path, overrides


def load_config(cls: type[T], argv: list[str] | None = None) -> T:
    """Resolve `cls` defaults <- YAML <- overrides into a `cls` instance (--help: print the keys, exit)."""
    argv = sys.argv[1:] if argv is None else argv
    if help_requested(argv):
        print_help_and_exit(cls)
    config_path, overrides = parse_args(argv)
    cfg = OmegaConf.structured(cls)
    OmegaConf.set_struct(cfg, True)
    if config_path:
        if not Path(config_path).is_file():
            raise ConfigError(f"config file not found: {config_path}")
        cfg = _merge(cfg, _load_yaml(config_path), config_path)
    if overrides:
        cfg = _merge(cfg, _dotlist(overrides), "command-line overrides")
    return OmegaConf.to_object(cfg)


def _dotlist(overrides: list[str]):
    """key=value overrides as a config. A value YAML cannot read (e.g. a prompt template with newlines and
    backticks) is taken as the literal string rather than failing with a YAML traceback."""
    import yaml

    out = OmegaConf.create()
    for item in overrides:
        try:
            out = OmegaConf.merge(out, OmegaConf.from_dotlist([item]))
        except yaml.YAMLError:
            key, value = item.split("=", 1)
            OmegaConf.update(out, key, value, force_add=True)
    return out


def cli_config(cls: type[T]) -> T:
    """load_config for an entry script's __main__: a bad config prints one clear line and exits with status 2.
    Entry points wrap their whole main instead (`run_cli(lambda: main(load_config(Config)))`), so that mistakes
    found after the config is read get the same treatment."""
    return run_cli(lambda: load_config(cls))


def config_to_yaml(cfg) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def save_config(cfg, path: str | Path) -> None:
    """Write the resolved config (what actually ran) next to the run's outputs."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(config_to_yaml(cfg))


def load_saved_config(cls: type[T], path: str | Path) -> T:
    return load_config(cls, ["--config", str(path)])
