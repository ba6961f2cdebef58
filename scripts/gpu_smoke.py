"""The one-GPU smoke test's stages (run through scripts/gpu_smoke.sh, which stops at once without a GPU).

    bash scripts/gpu_smoke.sh [--random-weights] [--arch llada|dream] [--model M] [--cpu-check] [OUT]

0. checks: a GPU (unless --cpu-check), the local MBPP+ copy, free disk for what the run writes
1. model: --random-weights builds LLaDA-8B (or Dream-7B) from the shipped Hub config.json (configs/models/) with bf16
   random weights and a local tokenizer (scripts/make_random_model.py); else --model / the Hub checkpoint
2. SFT: 10 steps, LoRA r64, ZeRO-2 (configs/deepspeed/zero2.json), sequence 4096, micro-batch 1, on local data
   (standard-library modules cut to the sequence length)
3. coupled-GRPO: 2 steps, G = 4 rollouts of 256 tokens, the embedded tiny problem set
4. repair-pair synthesis: 4 samples
5. repair.evaluate: 5 MBPP+ problems from the local copy, no-repair and trace-guided
Per stage: peak GPU memory (nvidia-smi, max over GPUs) beside the estimate of train/estimates.py (term by term for
training), tokens/s and model FLOPs utilization (formulas in train/estimates.py). The recipe configs are the paper
runs' (configs/sft, configs/rl) with only the smoke's sizes overridden; grad_accum is 1 so 10 steps fit the budget.
--cpu-check runs the same stages and commands on a one-layer model of the same vocabulary on the CPU (seconds per
stage, no GPU figures): what CI runs to keep this script's wiring working.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from gpu_smoke_measure import SUMMARY, GpuMemory, nvidia, report  # noqa: E402  (scripts/, beside this file)

GiB = 1024**3


@dataclass(frozen=True)
class Arch:
    hub_model: str  # the checkpoint the stages run without --random-weights
    hub_config: str  # its config.json, shipped (what --random-weights builds)
    sft_config: str
    rl_config: str


ARCHES = {
    "llada": Arch("GSAI-ML/LLaDA-8B-Instruct", "configs/models/llada-8b-instruct.config.json",
                  "configs/sft/llada8b-treediff.yaml", "configs/rl/llada8b-coupled.yaml"),
    "dream": Arch("Dream-org/Dream-v0-Instruct-7B", "configs/models/dream-v0-instruct-7b.config.json",
                  "configs/sft/dream-treediff.yaml", "configs/rl/diffucoder-coupled.yaml"),
}


@dataclass(frozen=True)
class Scale:
    seq: int = 4096
    sft_steps: int = 10
    lora_r: int = 64
    rl_steps: int = 2
    group: int = 4
    completion: int = 256
    diffusion_steps: int = 256
    samples: int = 4
    synth_gen: int = 256
    synth_steps: int = 128
    problems: int = 5
    eval_gen: int = 512
    eval_steps: int = 128
    eval_extra: tuple[str, ...] = ()
    workers: int = 4
    engine: tuple[str, ...] = ()  # engine overrides of both training stages
    prompt_tokens: int = 128  # assumed prompt length of the sampling memory estimates (prompts are not tokenized)


GPU = Scale()
CPU_CHECK = Scale(seq=160, sft_steps=2, lora_r=8, rl_steps=1, completion=16, diffusion_steps=8, samples=2,
                  synth_gen=16, synth_steps=4, problems=1, eval_gen=16, eval_steps=4, workers=1,
                  eval_extra=("--repair-steps", "4", "--budget-k", "4", "--rounds", "1"),
                  engine=("bf16=false", "deepspeed_config=null"))


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def run_stage(name: str, cmd: list[str], log: Path) -> float:
    """Run one stage's command (output to `log`); its wall seconds. Stops the smoke test, log tail shown, on failure."""
    print(f"  $ {' '.join(cmd)}\n  (log: {log})", flush=True)
    t0 = time.perf_counter()
    with log.open("w") as f:
        code = subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, env=stage_env()).returncode
    if code != 0:
        print("".join(log.read_text().splitlines(keepends=True)[-40:]), file=sys.stderr)
        raise SystemExit(f"gpu_smoke: stage {name} failed (exit {code}); full log: {log}")
    return time.perf_counter() - t0


def stage_env() -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO), WANDB_MODE="disabled", TOKENIZERS_PARALLELISM="false",
                HF_DATASETS_OFFLINE="1")


def mbpp_copy() -> str:
    """The local MBPP+ file repair.evaluate will read (data/problems.py: MBPP_OVERRIDE_PATH or ../shared/data)."""
    from data.problems import DATASETS, SHARED_DATA

    var, filename = DATASETS["mbpp"][:2]
    path = os.environ.get(var) or str(SHARED_DATA / filename)
    if not Path(path).is_file():
        raise SystemExit(f"gpu_smoke: no local MBPP+ ({path}); set {var}=/path/to/{filename} (evalplus's release "
                         "file, fetched on a connected machine) so the evaluation stage needs no network")
    return path


def check_disk(out: Path, need: float) -> None:
    free = shutil.disk_usage(out).free
    print(f"  free disk at {out}: {free / GiB:.1f} GiB; this run writes about {need / GiB:.1f} GiB")
    if free < need:
        raise SystemExit(f"gpu_smoke: {free / GiB:.1f} GiB free at {out}, about {need / GiB:.1f} GiB needed "
                         "(random weights + LoRA checkpoints + exports); free space or give another OUT")


def write_sft_data(model: str, path: Path, seq: int, rows: int) -> None:
    """`rows` standard-library modules as completions cut to ~`seq` tokens (at a line end), for sequence-`seq` SFT."""
    from data.local_corpus import python_source_files
    from inference.loading import load_tokenizer

    tok, budget, out = load_tokenizer(model), seq - 64, []  # 64: room for the prompt and the chat template
    for file in python_source_files():
        text = file.read_text(encoding="utf-8", errors="replace")
        spans = tok(text, return_offsets_mapping=True, add_special_tokens=False)["offset_mapping"]
        if len(spans) > budget:
            cut = text.rfind("\n", 0, spans[budget - 1][1]) + 1
            out.append({"prompt": f"# Write the Python module {file.stem}.py\n", "completion": text[:cut]})
        if len(out) == rows:
            break
    path.write_text("".join(json.dumps(r) + "\n" for r in out))


def yaml_value(path: str, dotted: str):
    from omegaconf import OmegaConf

    return OmegaConf.select(OmegaConf.load(REPO / path), dotted)


@dataclass
class Ctx:
    args: argparse.Namespace
    arch: Arch
    scale: Scale
    out: Path
    dims: object  # inference.dims.ModelDims
    trainable: int  # LoRA parameters at the smoke's rank
    gpu: GpuMemory
    peak_flops: float | None
    model: str = ""


def model_config(args, arch: Arch):
    """The config the stages will load: the shipped Hub config.json (shrunk for --cpu-check) or the model's own."""
    if args.random_weights:
        from make_random_model import SHRINK

        from inference.random_weights import hub_config

        model_type = json.loads((REPO / arch.hub_config).read_text())["model_type"]
        return hub_config(REPO / arch.hub_config, SHRINK[model_type] if args.cpu_check else None)
    from transformers import AutoConfig

    import inference  # noqa: F401  (registers the model types)

    return AutoConfig.from_pretrained(args.model or arch.hub_model)


def stage_model(ctx: Ctx) -> str:
    if not ctx.args.random_weights:
        return ctx.args.model or ctx.arch.hub_model
    model = ctx.out / "model"
    if (model / "config.json").is_file():
        print(f"  reusing {model} (delete it to rebuild)")
        return str(model)
    cmd = [sys.executable, "scripts/make_random_model.py", "--config", ctx.arch.hub_config, "--out", str(model)]
    cmd += ["--shrink", "--bpe-vocab", "1024", "--corpus-chars", "300000"] if ctx.args.cpu_check else ["--device", "cuda"]
    print(f"  built in {run_stage('model', cmd, ctx.out / 'model.log'):.0f} s")
    return str(model)


def buckets(config_yaml: str, engine: tuple[str, ...]) -> dict:
    """ZeRO-2 gradient bucket size and overlap_comm of the DeepSpeed config a stage runs with."""
    path = None if "deepspeed_config=null" in engine else yaml_value(config_yaml, "deepspeed_config")
    zero = json.loads((REPO / path).read_text()).get("zero_optimization", {}) if path else {}
    generated = {"overlap_comm": False}  # train/engine.py's own config; DeepSpeed's default bucket is 5e8
    return {"bucket_elems": float(zero.get("reduce_bucket_size", 5e8)),
            "overlap_comm": bool(zero.get("overlap_comm", generated["overlap_comm"]))}


def train_overrides(ctx: Ctx, output: Path) -> list[str]:
    r = ctx.scale.lora_r
    return [f"model={ctx.model}", f"output_dir={output}", "use_wandb=false", "save_every=0", f"lora.r={r}",
            f"lora.alpha={2 * r}", *ctx.scale.engine]


def stage_sft(ctx: Ctx) -> None:
    from train.estimates import mfu, train_flops_per_token, zero2_lora_memory

    sc, out, data = ctx.scale, ctx.out / "sft", ctx.out / "sft_data.jsonl"
    write_sft_data(ctx.model, data, sc.seq, rows=sc.sft_steps + 6)
    cmd = ["deepspeed", "--num_gpus", "1", "--master_port", free_port(), "train/sft.py", "--config",
           ctx.arch.sft_config, *train_overrides(ctx, out), f"max_steps={sc.sft_steps}", "grad_accum=1",
           "micro_batch_size=1", f"max_length={sc.seq}", f"data.name={data}", "data.prompt_column=prompt",
           "data.completion_column=completion", "data.layout=code", "data.max_chars=1000000"]
    mark = ctx.gpu.mark()
    run_stage("sft", cmd, ctx.out / "sft.log")
    rows = read_metrics(out)
    steady = rows[1:] or rows  # step 1 carries the warm-up (kernels, allocator)
    seq = max(int(r["tokens"]) for r in rows)  # micro-batch 1, one rank: tokens per step = the row's length
    dropout = float(yaml_value(ctx.arch.sft_config, "lora.dropout") or 0) > 0
    estimate = zero2_lora_memory(ctx.dims, ctx.trainable, seq, lora_dropout=dropout,
                                 **buckets(ctx.arch.sft_config, sc.engine))
    flops = [r["tokens"] * train_flops_per_token(ctx.dims, ctx.trainable, int(r["tokens"]),
                                                 head_fraction=r["masked_tokens"] / r["tokens"]) for r in steady]
    mfus = [mfu(f, r["tokens"] / r["tokens_per_s"], ctx.peak_flops) for f, r in zip(flops, steady)]
    print(f"  {len(rows)} steps of {seq} tokens (target {sc.seq}); tokens/s per step: "
          f"{[round(r['tokens_per_s']) for r in rows]}")
    report("SFT", ctx.gpu.peak(mark), estimate, median([r["tokens_per_s"] for r in steady]),
           median(mfus) if None not in mfus else None,
           "median of steps 2+; model FLOPs 4N + 6P + 12 L s d per token, head on the masked rows")
    ckpt = next((out / "checkpoints").glob("step_*"))
    size = sum(f.stat().st_size for f in ckpt.rglob("*") if f.is_file())
    print(f"  checkpoint {ckpt.name}: {size / GiB:.2f} GiB (LoRA weights + optimizer state, no frozen base)")


def read_metrics(out: Path) -> list[dict]:
    return [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "step" in r]


def stage_rl(ctx: Ctx) -> None:
    from train.estimates import (
        forward_flops_per_token,
        inference_memory,
        mfu,
        train_flops_per_token,
        zero2_lora_memory,
    )

    sc, cfg, out = ctx.scale, ctx.arch.rl_config, ctx.out / "rl"
    cmd = ["deepspeed", "--num_gpus", "1", "--master_port", free_port(), "rl/grpo.py", "--config", cfg,
           *train_overrides(ctx, out), f"max_steps={sc.rl_steps}", f"num_generations={sc.group}",
           "prompts_per_rank=1", f"max_completion_length={sc.completion}", f"diffusion_steps={sc.diffusion_steps}",
           "data.name=tiny", "data.prompt_column=prompt", "data.tests_column=tests",
           f"rewards.workers={sc.workers}"]
    mark = ctx.gpu.mark()
    run_stage("rl", cmd, ctx.out / "rl.log")
    rows = read_metrics(out)
    K, micro = int(yaml_value(cfg, "estimator.passes")), int(yaml_value(cfg, "micro_batch_size"))
    iters, C, n = int(yaml_value(cfg, "num_iterations")), sc.completion, sc.group
    L = sc.prompt_tokens + C
    dropout = float(yaml_value(cfg, "lora.dropout") or 0) > 0
    train = zero2_lora_memory(ctx.dims, ctx.trainable, L, micro_batch=K * micro, lora_dropout=dropout,
                              **buckets(cfg, sc.engine))
    sampling = inference_memory(ctx.dims, n, L)
    estimate = train if sum(train.values()) >= sum(sampling.values()) else sampling
    fwd, trn = forward_flops_per_token(ctx.dims, C), train_flops_per_token(ctx.dims, ctx.trainable, C)
    flops = [n * C * (r["rollout/nfe"] * fwd + K * fwd + iters * K * trn) for r in rows]  # completion positions only
    mfus = [mfu(f, r["step_seconds"], ctx.peak_flops) for f, r in zip(flops, rows)]
    print(f"  step seconds {[round(r['step_seconds'], 1) for r in rows]}; generate "
          f"{[round(r['time/generate'], 1) for r in rows]}; optimize {[round(r['time/optimize'], 1) for r in rows]}")
    report("RL", ctx.gpu.peak(mark), estimate, median([n * C / r["time/generate"] for r in rows]),
           median(mfus) if None not in mfus else None,
           f"rollout tokens/s; MFU a lower bound: only the {C} completion positions counted, prompt "
           f"{sc.prompt_tokens} tokens assumed in the memory estimate")


def stage_synthesis(ctx: Ctx) -> None:
    from train.estimates import forward_flops_per_token, inference_memory, mfu

    sc, out = ctx.scale, ctx.out / "pairs.jsonl"
    cmd = [sys.executable, "-m", "repair.synthesize", "--model", ctx.model, "--out", str(out), "--num-samples",
           str(sc.samples), "--gen-length", str(sc.synth_gen), "--steps", str(sc.synth_steps), "--block-length",
           str(min(32, sc.synth_gen))]
    mark = ctx.gpu.mark()
    run_stage("synthesis", cmd, ctx.out / "synthesis.log")
    stats = json.loads(Path(f"{out}.stats.json").read_text())
    seconds = stats["this_run_seconds"]
    flops = sc.samples * sc.synth_steps * sc.synth_gen * forward_flops_per_token(ctx.dims, sc.synth_gen)
    print(f"  {stats['pairs']} pairs kept of {sc.samples} samples in {seconds:.1f} s ({stats['this_run']})")
    report("synthesis", ctx.gpu.peak(mark), inference_memory(ctx.dims, 1, sc.prompt_tokens + sc.synth_gen),
           sc.samples * sc.synth_gen / seconds, mfu(flops, seconds, ctx.peak_flops),
           "generated positions/s; MFU a lower bound (completion positions only)")


def stage_evaluate(ctx: Ctx) -> None:
    from train.estimates import forward_flops_per_token, inference_memory, mfu

    sc, out = ctx.scale, ctx.out / "eval"
    cmd = [sys.executable, "-m", "repair.evaluate", "--model", ctx.model, "--dataset", "mbpp", "--limit",
           str(sc.problems), "--seeds", "0", "--strategies", "no-repair,trace-guided", "--batch-size", "1",
           "--gen-length", str(sc.eval_gen), "--steps", str(sc.eval_steps), "--workers", str(sc.workers),
           "--out", str(out), *sc.eval_extra]
    mark = ctx.gpu.mark()
    run_stage("evaluate", cmd, ctx.out / "evaluate.log")
    strategies = json.loads((out / "results.json").read_text())["strategies"]
    loop = json.loads((out / "timing.json").read_text())["loop_seconds"]
    nfe = sum(e["nfe_mean"] for e in strategies.values()) * sc.problems
    flops = nfe * sc.eval_gen * forward_flops_per_token(ctx.dims, sc.eval_gen)
    for name, e in strategies.items():
        print(f"  {name}: NFE/problem {e['nfe_mean']:.0f}, {e['seconds_per_problem']:.1f} s/problem")
    report("evaluate", ctx.gpu.peak(mark), inference_memory(ctx.dims, 1, sc.prompt_tokens + sc.eval_gen),
           len(strategies) * sc.problems * sc.eval_gen / loop, mfu(flops, loop, ctx.peak_flops),
           "generated positions/s over the loop (tests included); MFU a lower bound (completion positions only)")


STAGES = [("SFT", stage_sft), ("coupled-GRPO", stage_rl), ("repair-pair synthesis", stage_synthesis),
          ("repair.evaluate on MBPP+", stage_evaluate)]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", default="runs/gpu-smoke")
    p.add_argument("--random-weights", action="store_true", help="build the model from configs/models (no download)")
    p.add_argument("--arch", choices=sorted(ARCHES), default="llada")
    p.add_argument("--model", default=None, help="a model directory or Hub id (default: the arch's checkpoint)")
    p.add_argument("--cpu-check", action="store_true", help="the same stages on a one-layer model, on the CPU")
    args = p.parse_args(argv)
    if args.random_weights and args.model:
        p.error("--random-weights builds its own model; drop --model")
    return args


def checks(args, arch: Arch, scale: Scale, out: Path) -> Ctx:
    from inference.dims import lora_parameters, model_dims
    from train.estimates import peak_bf16_flops

    name = "CPU (--cpu-check: no GPU figures)" if args.cpu_check else nvidia("name")
    peak = None if args.cpu_check else peak_bf16_flops(name)
    if os.environ.get("PEAK_TFLOPS"):  # a device the table lacks (or a CPU check of the MFU arithmetic)
        peak = float(os.environ["PEAK_TFLOPS"]) * 1e12
    print(f"  device: {name}; dense bf16 peak: {f'{peak / 1e12:g} TFLOPS' if peak else 'unknown (PEAK_TFLOPS=...)'}")
    print(f"  MBPP+: {mbpp_copy()}")
    config = model_config(args, arch)
    dims, trainable = model_dims(config), lora_parameters(config, scale.lora_r)
    print(f"  model: {config.model_type}, {dims.n_params:,} parameters; LoRA r{scale.lora_r}: {trainable:,}")
    weights = 2 * dims.n_params if args.random_weights and not (out / "model/config.json").exists() else 0
    check_disk(out, weights + 2 * 14 * trainable + GiB)  # 2 checkpoints of 2 + 12 B per LoRA parameter, exports
    gpu = GpuMemory(None if args.cpu_check else out / "gpu_mem.log")
    return Ctx(args, arch, scale, out, dims, trainable, gpu, peak)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    scale, arch, out = CPU_CHECK if args.cpu_check else GPU, ARCHES[args.arch], Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for old in ("sft", "rl", "eval"):  # a rerun starts these stages afresh (SFT / RL would resume otherwise)
        shutil.rmtree(out / old, ignore_errors=True)
    for old in out.glob("pairs.jsonl*"):
        old.unlink()
    if args.random_weights:
        os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may be fetched, by this process or a stage
    t0 = time.perf_counter()
    print("=== 0/5 checks ===", flush=True)
    ctx = checks(args, arch, scale, out)
    try:
        print(f"\n=== 1/5 model{' (random bf16 weights, Hub config.json)' if args.random_weights else ''} ===")
        ctx.model = stage_model(ctx)
        for k, (title, stage) in enumerate(STAGES, start=2):
            print(f"\n=== {k}/5 {title} ===", flush=True)
            stage(ctx)
    finally:
        ctx.gpu.close()
    print(f"\n=== summary ({args.arch}, {'CPU check' if args.cpu_check else 'one GPU'}, "
          f"{time.perf_counter() - t0:.0f} s in all) ===")
    print(f"  {'stage':<10} {'peak GiB':>9} {'estimate':>9} {'tokens/s':>10} {'MFU':>7}")
    for name, peak, est, tps, m in SUMMARY:
        print(f"  {name:<10} {f'{peak:.1f}' if peak is not None else 'n/a':>9} {est:>9.1f} {tps:>10,.0f} "
              f"{f'{100 * m:.1f}%' if m is not None else 'n/a':>7}")
    print(f"  outputs in {out}")


if __name__ == "__main__":
    main()
