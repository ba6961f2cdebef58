"""Where examples come from: the embedded local corpus, minicode (data/minicode.py), a Hugging Face dataset by name,
or a local jsonl/parquet file.

A column map names which columns hold the prompt and the completion (e.g. OpenCodeReasoning: prompt <- "input",
completion <- "output"). Bad rows (missing field, empty completion, over-long) are skipped and counted, never fatal.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from data.examples import REGION_LAYOUTS, Example
from data.jsonl import read_jsonl
from data.local_corpus import build_local_corpus
from data.usage import UsageError

LOCAL_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


@dataclass
class SourceConfig:
    name: str = "embedded"  # "embedded" | "minicode" | a Hub dataset name | a path to .jsonl/.json/.parquet/.csv
    split: str = "train"  # dataset split; minicode: train | rl | eval
    subset: str | None = None  # Hub dataset configuration (subset) name
    prompt_column: str = "prompt"  # column holding the prompt (unless prompt_template is set)
    completion_column: str = "completion"  # column holding the completion (the supervised answer)
    prompt_template: str = ""  # if set, prompt = prompt_template.format(**row), e.g. "Fix:\n{broken}\n" for repair pairs
    layout: str = "code"  # how the completion splits into regions: "code" | "reasoning" (<think>...</think> + code)
    max_examples: int | None = None  # the first N usable rows (None: all; embedded: 2000, minicode: 20000)
    max_chars: int = 20000  # rows with longer prompt + completion are skipped and counted
    embedded_root: str | None = None  # directory of Python source for the embedded corpus (default: stdlib)
    seed: int = 0  # minicode: the problem generator's seed (other sources: unused)
    families: list[str] | None = None  # minicode: only these families (default all), e.g. data.families=[rle,pad]


MINICODE_DEFAULT_ROWS = 20_000


@dataclass
class LoadStats:
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        skipped = ", ".join(f"{k}={v}" for k, v in sorted(self.skipped.items())) or "none"
        return f"kept {self.kept} examples, skipped: {skipped}"


def _rows(cfg: SourceConfig):
    import datasets  # imported lazily: the embedded corpus needs no datasets machinery

    path = Path(cfg.name)
    if path.suffix == ".jsonl":  # read here, so a malformed line is skipped and reported as FILE:LINE
        return read_jsonl(path, "training data file", on_bad="skip")
    if path.suffix in LOCAL_FORMATS:
        if not path.is_file():
            raise UsageError(f"training data file not found: {cfg.name} (data.name)")
        return datasets.load_dataset(LOCAL_FORMATS[path.suffix], data_files=str(path), split="train")
    if path.is_file():
        raise UsageError(f"data.name {cfg.name}: unknown file type; use one of {', '.join(LOCAL_FORMATS)}")
    try:
        return datasets.load_dataset(cfg.name, cfg.subset, split=cfg.split)
    except (datasets.exceptions.DatasetNotFoundError, ConnectionError) as e:
        raise UsageError(f"data.name {cfg.name}: not a local file and not a loadable Hub dataset "
                         f"({str(e).splitlines()[0]}); give a .jsonl/.parquet/.csv path, 'embedded' or a Hub name") from None


def _prompt(cfg: SourceConfig, row: dict) -> str | None:
    if not cfg.prompt_template:
        return row.get(cfg.prompt_column)
    try:
        return cfg.prompt_template.format(**row)
    except KeyError:  # this row lacks a column others have (checked against the columns in load_examples)
        return None


def load_examples(cfg: SourceConfig) -> tuple[list[Example], LoadStats]:
    """Examples from the configured source; raises only for a source that cannot be read or a missing column."""
    stats = LoadStats()
    if cfg.families and cfg.name != "minicode":
        raise UsageError(f"data.families selects minicode families; data.name is {cfg.name}")
    if cfg.name == "embedded":
        examples = build_local_corpus(cfg.embedded_root, max_examples=cfg.max_examples or 2000, max_chars=cfg.max_chars)
        stats.kept = len(examples)
        return examples, stats
    if cfg.name == "minicode":
        return _minicode_examples(cfg), LoadStats(kept=cfg.max_examples or MINICODE_DEFAULT_ROWS)
    rows = _rows(cfg)
    template_columns = [re.split(r"[.\[]", f)[0] for _, f, _, _ in string.Formatter().parse(cfg.prompt_template) if f]
    needed = [cfg.completion_column] + (template_columns if cfg.prompt_template else [cfg.prompt_column])
    missing = [c for c in needed if c not in rows.column_names]
    if missing:
        raise UsageError(f"dataset {cfg.name} has no column(s) {missing}; columns are {rows.column_names} "
                         "(set data.prompt_column / data.completion_column)")
    if getattr(rows, "bad", None):  # a jsonl file's malformed lines (skipped with a note by read_jsonl)
        stats.skipped["malformed_row"] = len(rows.bad)
    layout = REGION_LAYOUTS[cfg.layout]
    examples: list[Example] = []
    for i, row in enumerate(rows):
        prompt, completion = _prompt(cfg, row), row.get(cfg.completion_column)
        if not isinstance(prompt, str) or not isinstance(completion, str):
            stats.skipped["missing_field"] += 1
        elif not completion.strip():
            stats.skipped["empty_completion"] += 1
        elif len(prompt) + len(completion) > cfg.max_chars:
            stats.skipped["too_long"] += 1
        else:
            examples.append(Example(prompt, completion, layout(completion), f"{cfg.name}:{i}"))
            if cfg.max_examples and len(examples) >= cfg.max_examples:
                if i + 1 < len(rows):
                    print(f"data: kept the first {cfg.max_examples} usable rows of {len(rows)} in {cfg.name} "
                          f"(data.max_examples={cfg.max_examples}; data.max_examples=null keeps all)")
                break
    stats.kept = len(examples)
    return examples, stats


def _minicode_examples(cfg: SourceConfig) -> list[Example]:
    from data.minicode import generate_specs

    # Specs only: training needs prompt and solution, not the tests' expected outputs (running every canonical
    # solution on its inputs took 12 of the 13 s that 40k rows cost); the task ids are generate_problems' ids.
    try:
        specs = generate_specs(cfg.split, cfg.max_examples or MINICODE_DEFAULT_ROWS, cfg.seed, cfg.families or None)
    except ValueError as e:  # an unknown family or split: the config's fault, one line
        raise UsageError(f"data: {e}") from None
    return [Example(s.prompt, s.solution, REGION_LAYOUTS[cfg.layout](s.solution), f"minicode/{cfg.split}/{cfg.seed}/{i}")
            for i, s in enumerate(specs)]
