"""Problems through trace-guided repair (paper Stages 1-3): generate -> feedback tests -> localize -> remask -> infill.

- `Engine` wraps a loaded model: prompt encoding, batched `generate` / `infill` (inference.sampler) and the decoding
  of the generated tokens into a program with per-token character offsets (lines of the program -> tokens);
- `Task` is what the loop may know of a problem: its prompt and a feedback runner bound to the FEEDBACK tests only.
  Held-out tests are run by the caller on the final program (`heldout_result`) and never reach the loop;
- `repair` iterates localize -> select -> infill up to R rounds while the feedback tests fail, for a batch of tasks.
Batches: every function takes a list of tasks; a row's outcome is the one it has alone (batch of one) because its
random draws come from its own generator keyed by (seed, task, stream) and its NFE is counted per row. Only float
rounding differs between batch shapes (padding, matmul sizes); scripts/bench/evaluate_scale.py measures how often it
flips a near-tie.
Base-model prompt convention (evalplus, `--prompt-format raw`): the prompt is a code prefix, the program is prompt +
completion, where the completion is the generated text up to the first EOS/EOT; localized lines are lines of that full
program. Instruct / reasoning formats (repair.formats) cut the program out of the answer (fences, <think>, sanitize);
repair then remasks only the tokens of that program (`program_mask`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

import torch

from inference.adapters import get_adapter, token_logits
from inference.remask import lines_to_positions, lowest_confidence, select_in_region
from inference.sampler import Reviser, generate, infill
from repair.execution import LOCALIZED, Localization, ProblemResult, localize, run_tests
from repair.formats import Answer, EvalFormat, as_answer

SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")
GLOBAL_SCOPES = ("completion", "all")


@dataclass(frozen=True)
class LoopConfig:
    """Paper defaults (Appendix A); strategies derive their variants with dataclasses.replace."""

    steps: int = 128  # N, stage-1 denoising steps
    gen_length: int = 512  # L
    block_length: int = 32  # semi-autoregressive block (LLaDA's code setting)
    temperature: float = 0.0  # stage-1 sampling temperature
    # None: stage 1 takes exactly `steps` steps (the paper's NFE). A float is Fast-dLLM's threshold commit, a fast mode
    # with adaptive NFE (>= 1 token per step) that the report labels as such.
    threshold: float | None = None
    prefix_cache: bool = False  # Fast-dLLM's prefix KV cache in stage 1 (a fast mode: approximate, labelled)
    dual_cache: bool = False  # Fast-dLLM's DualCache (prefix + suffix KV, block-only steps) in stage 1 (likewise)
    repair_steps: int = 64  # S
    budget_k: int = 64  # K
    window: int = 1  # w, +-lines around an exception frame
    max_trace_lines: int = 20  # M, last executed lines before an assertion failure
    trace_reading: str = "events"  # the last M line events (paper) | "distinct": the last M distinct lines
    rounds: int = 3  # R_max
    repair_temperature: float = 0.2  # tau
    selection: str = "low_confidence"  # inside the region: low_confidence | random (ablation)
    localization: str = "trace"  # trace (ours) | global (K globally lowest-confidence tokens)
    # Candidates of global / fallback selection: "completion" = the program's tokens and the EOS that ends it (post-EOS
    # padding is not code); "all" = every generated position, the paper's literal "entire output" (reproduction).
    global_scope: str = "completion"
    samples: int = 1  # best-of-n
    core_passes: int = 8  # core-reimpl: perturbation passes during generation (NFE N + 8 = 136, the paper's CORE)
    core_perturbations: int = 4  # core-posthoc: scoring forward passes per problem (complementary pairs)
    core_rate: float = 0.5  # CORE: share of the committed tokens hidden in a perturbation pass
    sample_temperature: float = 0.2  # best-of-n samples (greedy samples would be identical)


@dataclass
class Candidate:
    sequence: torch.Tensor  # [1, P + G] prompt + generated tokens
    confidences: torch.Tensor  # [1, P + G] confidence of each token at its commit step (prompt: 1)
    prompt_len: int  # P
    completion_ids: list[int]  # generated tokens before the first EOS/EOT (what the program is made of)
    program: str  # what is tested: prompt text + decoded completion, or what extraction cut out of the answer
    offsets: list[tuple[int, int]]  # per completion token: its character span in `program` ((-1, -1): outside it)
    completion: str = ""  # the decoded completion, before extraction
    in_program: list[bool] | None = None  # per completion token (extraction); None: the completion is the program's tail


@dataclass
class RoundRecord:
    method: str  # exception | syntax | assertion | fallback | global
    lines: list[int]  # localized 1-based program lines (empty for fallback / global)
    positions: list[int]  # remasked indices into the generated tokens
    nfe: int
    status: str = ""  # feedback status after this round's infill


@dataclass
class Outcome:
    initial: Candidate
    final: Candidate
    nfe: int
    initial_feedback: ProblemResult
    final_feedback: ProblemResult
    rounds: list[RoundRecord] = field(default_factory=list)


Feedback = Callable[[str, bool], ProblemResult]  # (program, trace) -> results of the feedback tests only


@dataclass
class Task:
    task_id: str
    prompt: str
    prompt_ids: torch.Tensor  # [1, P]
    feedback: Feedback
    seed: int
    cache: dict = field(default_factory=dict)  # stage-1 generations shared by the strategies (greedy: and seeds)
    answer: Answer | None = None  # what the generated text becomes (repair.formats); None: raw, prompt + completion

    def __post_init__(self):
        self.answer = as_answer(self.prompt if self.answer is None else self.answer)


# ---- the model side ----
def completion_offsets(tokenizer, ids: list[int], start: int) -> tuple[str, list[tuple[int, int]]]:
    """Decoded text of `ids` and each token's span, shifted by `start` (the prompt's length in characters).

    Spans come from decoding growing prefixes, so they follow the tokenizer's own detokenization (byte-level BPE
    pieces, merged multi-byte characters); O(n^2) decode calls, negligible next to the model's forward passes.
    """
    def dec(k: int) -> str:
        return tokenizer.decode(ids[:k], skip_special_tokens=True, clean_up_tokenization_spaces=False)

    text, offsets, prev = dec(len(ids)), [], 0
    for k in range(1, len(ids) + 1):
        end = min(max(prev, len(dec(k))), len(text))
        offsets.append((start + prev, start + end))
        prev = end
    return text, offsets


@dataclass
class Engine:
    """The model side of the loop. Every call takes a batch of rows (B = 1 is a batch of one) and returns them
    split again; rows are left-padded to a common length with an attention mask, and each row brings its own
    generator, so its draws do not depend on the other rows. `lock` serializes model calls when several batches are in
    flight (evaluation overlaps one batch's tests with another's forward passes); `tests` runs a batch's sandboxed
    tests concurrently (None: one after the other)."""

    model: torch.nn.Module
    tokenizer: object
    mask_id: int
    device: torch.device
    stop_ids: tuple[int, ...] = ()  # the adapter's end ids (EOS, EOT, <|im_end|>, pad): the completion ends at the first
    pad_id: int | None = None  # left padding of batched rows (default: the first stop id; never the mask id)
    tests: Executor | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_loaded(cls, loaded, tests: Executor | None = None) -> Engine:
        tok, adapter = loaded.tokenizer, loaded.adapter
        return cls(loaded.model, tok, adapter.mask_token_id, loaded.device, adapter.end_ids(tok), adapter.pad_id(tok),
                   tests)

    def encode(self, prompt: str) -> torch.Tensor:
        return torch.tensor([self.tokenizer(prompt)["input_ids"]], dtype=torch.long, device=self.device)

    def candidate(self, sequence: torch.Tensor, confidences: torch.Tensor, prompt_len: int,
                  answer: Answer | str) -> Candidate:
        """`answer`: the task's Answer (a str: a raw prompt, program = prompt + completion)."""
        answer = as_answer(answer)
        gen = sequence[0, prompt_len:].tolist()
        cut = next((i for i, t in enumerate(gen) if t in self.stop_ids), len(gen))
        text, offsets = completion_offsets(self.tokenizer, gen[:cut], len(answer.lead))
        ex = answer.extract(text, offsets)
        return Candidate(sequence, confidences, prompt_len, gen[:cut], ex.program, ex.offsets, text, ex.in_program)

    def left_pad(self, rows: list[torch.Tensor], fill) -> torch.Tensor:
        """[B, max len] of 1-D rows, left-padded with `fill`."""
        width = max(len(r) for r in rows)
        out = rows[0].new_full((len(rows), width), fill)
        for b, r in enumerate(rows):
            out[b, width - len(r):] = r
        return out

    def attention(self, rows: list[torch.Tensor]) -> torch.Tensor | None:
        """[B, max len] 1 = real token, or None when no row is padded (the model's unmasked attention path)."""
        if len({len(r) for r in rows}) == 1:
            return None
        return self.left_pad([torch.ones_like(r) for r in rows], 0)

    def generate(self, tasks: list[Task], cfg: LoopConfig, steps: int, temperature: float,
                 generators: list[torch.Generator], revise: Reviser | None = None) -> list[tuple[Candidate, int]]:
        """Stage 1 for a batch of tasks -> per row (candidate, its NFE); `revise`: the sampler's remasking hook
        (CORE during generation, repair/core.py)."""
        prompts = [t.prompt_ids[0] for t in tasks]
        pad = self.stop_ids[0] if self.pad_id is None else self.pad_id
        block = min(cfg.block_length, cfg.gen_length)
        with self.lock:
            out = generate(self.model, self.left_pad(prompts, pad), self.attention(prompts), steps=steps,
                           gen_length=cfg.gen_length, block_length=block, temperature=temperature,
                           mask_id=self.mask_id, generator=list(generators), threshold=cfg.threshold,
                           use_cache=cfg.prefix_cache, dual_cache=cfg.dual_cache, revise=revise)
        width, rows = max(len(p) for p in prompts), []
        for b, (task, prompt) in enumerate(zip(tasks, prompts)):
            P = len(prompt)
            conf = torch.cat([out.confidences.new_ones(1, P), out.confidences[b:b + 1]], dim=1)  # [1, P + G]
            cand = self.candidate(out.sequences[b:b + 1, width - P:], conf, P, task.answer)
            rows.append((cand, out.row_nfe[b]))
        return rows

    def infill(self, cands: list[Candidate], positions: list[torch.Tensor], steps: int, temperature: float,
               answers: list[Answer | str], generators: list[torch.Generator]) -> list[tuple[Candidate, int]]:
        """Repair infill for a batch: positions[b] [1, L_b] of cands[b] -> per row (candidate, its NFE); answers[b]:
        its task's Answer (Task.answer)."""
        seqs = [c.sequence[0] for c in cands]
        pad = self.stop_ids[0] if self.pad_id is None else self.pad_id
        with self.lock:
            out = infill(self.model, self.left_pad(seqs, pad), self.left_pad([p[0] for p in positions], False),
                         steps=steps, temperature=temperature, attention_mask=self.attention(seqs),
                         mask_id=self.mask_id, generator=list(generators),
                         confidences=self.left_pad([c.confidences[0] for c in cands], 1.0))
        width, rows = max(len(s) for s in seqs), []
        for b, (cand, answer) in enumerate(zip(cands, answers)):
            lo = width - len(seqs[b])
            new = self.candidate(out.sequences[b:b + 1, lo:], out.confidences[b:b + 1, lo:], cand.prompt_len, answer)
            rows.append((new, out.row_nfe[b]))
        return rows

    def token_probabilities(self, seqs: list[torch.Tensor], masked: list[torch.Tensor]) -> list[torch.Tensor]:
        """One forward pass for the batch: p(seqs[b][i]) [L_b] when the masked[b] positions are [MASK]
        (softmax over the whole vocabulary, [MASK] included, as the sampler's confidences)."""
        pad = self.stop_ids[0] if self.pad_id is None else self.pad_id
        ids = self.left_pad([s.masked_fill(m, self.mask_id) for s, m in zip(seqs, masked)], pad)
        target = self.left_pad(seqs, pad)
        with self.lock, torch.no_grad():
            logits = token_logits(self.model, ids, self.attention(seqs), get_adapter(self.model.config)).float()
            p = (logits.gather(-1, target[..., None]).squeeze(-1) - logits.logsumexp(dim=-1)).exp()  # [B, L]
        width = ids.shape[1]
        return [p[b, width - len(s):] for b, s in enumerate(seqs)]

    def feedback(self, tasks: list[Task], programs: list[str], trace: bool) -> list[ProblemResult]:
        """The feedback tests of each (task, program), concurrently in the sandbox pool when `tests` is set."""
        if self.tests is None or len(tasks) == 1:
            return [t.feedback(p, trace) for t, p in zip(tasks, programs)]
        return list(self.tests.map(lambda t, p: t.feedback(p, trace), tasks, programs))


def make_generator(device: torch.device, *parts) -> torch.Generator:
    """A generator seeded from (seed, task, stream): reruns and resumed runs draw the same numbers."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return torch.Generator(device=device).manual_seed(int.from_bytes(digest[:8], "big") >> 1)


def generation_key(cfg: LoopConfig, temperature: float, sample: int = 0, seed: int | None = None) -> tuple:
    """A stage-1 generation's cache key. A greedy one (temperature 0: argmax commits by confidence, no random draw)
    is the same at every seed, so its key leaves the seed out and the seeds of one evaluation share it when their
    tasks share a cache (repair.evaluate); a sampled one keys on its seed."""
    return (cfg.steps, cfg.gen_length, cfg.block_length, cfg.threshold, cfg.prefix_cache, cfg.dual_cache, temperature,
            sample) + (() if temperature == 0 else (seed,))


def initial(engine: Engine, tasks: list[Task], cfg: LoopConfig, samples: tuple[int, ...] = (0,),
            temperature: float | None = None) -> list[list[tuple[Candidate, int]]]:
    """Stage 1 per task and sample ([task][sample] -> (candidate, NFE)), cached per task: strategies with the same
    seed start from the same candidate (paired comparison). The missing generations run as one batch; a cached
    generation still costs its NFE in every strategy that uses it (honest per-strategy accounting).
    """
    temperature = cfg.temperature if temperature is None else temperature
    todo = [(t, k) for t in tasks for k in samples if generation_key(cfg, temperature, k, t.seed) not in t.cache]
    if todo:
        gens = [make_generator(engine.device, t.seed, t.task_id, "generate", k) for t, k in todo]
        made = engine.generate([t for t, _ in todo], cfg, cfg.steps, temperature, gens)
        for (t, k), res in zip(todo, made):
            t.cache[generation_key(cfg, temperature, k, t.seed)] = res
    return [[t.cache[generation_key(cfg, temperature, k, t.seed)] for k in samples] for t in tasks]


# ---- pure pieces ----
def error_type(result: ProblemResult) -> str | None:
    """syntax | runtime | assertion for a failing feedback run (the program does not load / raises / is wrong)."""
    failing = [t for t in result.tests if t.status != "pass"]
    if not failing:
        return None
    if any(t.exc_type in SYNTAX_ERRORS for t in failing):
        return "syntax"
    if any(t.status != "fail" and t.exc_type != "AssertionError" for t in failing):
        return "runtime"
    return "assertion"


def select_positions(cand: Candidate, loc: Localization, cfg: LoopConfig,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, str]:
    """Stage 3 selection -> (bool positions [1, P + G], method used). Only generated tokens are ever selected.

    Localized lines -> their tokens (<= K: all; else K by `cfg.selection`); nothing usable -> K globally lowest.
    """
    L, P = cand.sequence.shape[1], cand.prompt_len
    if cfg.localization == "trace" and loc.method in LOCALIZED:
        region = lines_to_positions(cand.offsets, cand.program, loc.lines, L, start=P).to(cand.sequence.device)
        region &= program_mask(cand)[0]  # never outside the program tested (repair.formats)
        if region.any():
            return select_in_region(cand.confidences, region[None], cfg.budget_k, cfg.selection, generator), loc.method
    method = "global" if cfg.localization == "global" else "fallback"
    return lowest_confidence(cand.confidences, cfg.budget_k, global_candidates(cand, cfg.global_scope)), method


def program_mask(cand: Candidate) -> torch.Tensor:
    """Bool [1, P + G]: the generated tokens inside the program tested (all completion tokens without extraction)."""
    P = cand.prompt_len
    mask = torch.zeros_like(cand.sequence, dtype=torch.bool)
    inside = [True] * len(cand.completion_ids) if cand.in_program is None else cand.in_program
    mask[0, P:P + len(inside)] = torch.tensor(inside, dtype=torch.bool, device=mask.device)
    return mask


def global_candidates(cand: Candidate, scope: str) -> torch.Tensor:
    """Bool [1, P + G]: the positions global / fallback selection may remask (see LoopConfig.global_scope). An
    extracted program (repair.formats) offers its own tokens only, whatever the scope: the rest is not code."""
    if scope not in GLOBAL_SCOPES:
        raise ValueError(f"unknown global scope {scope!r}; known: {GLOBAL_SCOPES}")
    if cand.in_program is not None:
        return program_mask(cand)
    P, L = cand.prompt_len, cand.sequence.shape[1]
    # "completion": the program's tokens plus the first EOS/EOT, so a premature end can still be repaired.
    end = L if scope == "all" else min(L, P + len(cand.completion_ids) + 1)
    within = torch.zeros_like(cand.sequence, dtype=torch.bool)
    within[:, P:end] = True
    return within


# ---- the loop ----
def repair(engine: Engine, tasks: list[Task], starts: list[tuple[Candidate, int]], cfg: LoopConfig) -> list[Outcome]:
    """Stages 2-3 up to cfg.rounds times while the feedback tests fail, for a batch of tasks with their stage-1
    (candidate, NFE); only feedback results drive decisions. Each round infills the still-failing rows as one batch."""
    trace = cfg.localization == "trace"
    cands, nfes = [c for c, _ in starts], [n for _, n in starts]
    fbs = engine.feedback(tasks, [c.program for c in cands], trace)
    first, rounds = list(fbs), [[] for _ in tasks]
    for r in range(cfg.rounds):
        active = [i for i, fb in enumerate(fbs) if fb.status != "pass"]
        if not active:
            break
        plans = []
        for i in active:
            loc = (localize(fbs[i].tests, cands[i].program, window=cfg.window, max_trace_lines=cfg.max_trace_lines,
                            trace_reading=cfg.trace_reading) if trace else Localization("fallback"))
            gen = make_generator(engine.device, tasks[i].seed, tasks[i].task_id, "repair", r)
            plans.append((i, loc, gen, *select_positions(cands[i], loc, cfg, gen)))
        made = engine.infill([cands[i] for i, *_ in plans], [pos for *_, pos, _ in plans], cfg.repair_steps,
                             cfg.repair_temperature, [tasks[i].answer for i, *_ in plans], [g for _, _, g, *_ in plans])
        for (i, loc, _, positions, method), (cand, used) in zip(plans, made):
            cands[i], nfes[i] = cand, nfes[i] + used
            idx = (positions[0].nonzero().flatten() - cand.prompt_len).tolist()
            lines = loc.lines if method in LOCALIZED else []
            rounds[i].append(RoundRecord(method, list(lines), idx, used))
        # the next round's input; after the last round, only recorded
        for i, fb in zip(active, engine.feedback([tasks[i] for i in active], [cands[i].program for i in active], trace)):
            fbs[i] = fb
            rounds[i][-1].status = fb.status
    return [Outcome(s, c, n, f0, f1, rr) for (s, _), c, n, f0, f1, rr in zip(starts, cands, nfes, first, fbs, rounds)]


# ---- binding a problem's tests ----
def make_task(engine: Engine, problem, feedback_indices: list[int], seed: int, *, limits, pool,
              max_trace_lines: int = 256, fmt: EvalFormat | None = None, cache: dict | None = None) -> Task:
    """A Task whose feedback runner can only run `feedback_indices` (the T_fb of the split); `fmt`: its prompt
    format and extraction (repair.formats; default raw, no extraction); `cache`: a stage-1 cache to share (the same
    problem at other seeds), else its own."""
    indices = list(feedback_indices)

    def feedback(program: str, trace: bool) -> ProblemResult:
        with pool.lease() as sb:
            return run_tests(problem, program, indices, limits=limits, trace=trace,
                             max_trace_lines=max_trace_lines, sandbox=sb)

    ids, answer = (fmt or EvalFormat()).encode(engine.tokenizer, problem)
    prompt_ids = torch.tensor([ids], dtype=torch.long, device=engine.device)
    return Task(problem.task_id, problem.prompt, prompt_ids, feedback, seed, answer=answer,
                cache={} if cache is None else cache)


def heldout_result(problem, heldout_indices: list[int], program: str, *, limits, pool) -> ProblemResult:
    """pass@1 evaluation on T_eval, after every decision about this problem has been made."""
    with pool.lease() as sb:
        return run_tests(problem, program, list(heldout_indices), limits=limits, sandbox=sb)
