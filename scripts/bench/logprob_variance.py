"""Variance of the sequence log-prob estimate across mask draws: coupled (complementary) vs independent masks.

    python scripts/bench/logprob_variance.py [--model DIR] [--draws 64] [--batch 8] [--completion-len 48]

Same model, same batch, same number of forward passes (2): for each draw, the sequence score sum_i s_i and the norm of
its gradient w.r.t. the model's parameters. The weighted complementary pair scores each token once with weight 1/t or
1/(1-t), so E[s_i] = 2 l_i for a context-free model; it is halved here so both estimators target the same quantity.
Prints per-estimator variance and the ratios; the last line is `coupled/independent variance ratio: X`.
"""

from __future__ import annotations

import argparse

import torch
from transformers import AutoModel

import inference  # noqa: F401
from data.local_corpus import build_local_corpus
from inference.adapters import get_adapter, token_logits
from inference.loading import load_tokenizer
from inference.tiny import model_dir_or_tiny
from rl.estimators import draw_coupled, draw_independent, estimate_logps

ESTIMATORS = {
    "coupled": (lambda cm, g: draw_coupled(cm, g, passes=2, weighted=True), 0.5),
    "independent": (lambda cm, g: draw_independent(cm, g, passes=2), 1.0),
}


def fixed_batch(tokenizer, batch: int, prompt_len: int, completion_len: int):
    examples = build_local_corpus(max_examples=batch * 4)
    rows = []
    for ex in examples:
        p = tokenizer(ex.prompt, add_special_tokens=False)["input_ids"][-prompt_len:]
        c = tokenizer(ex.completion, add_special_tokens=False)["input_ids"][:completion_len]
        if len(p) == prompt_len and len(c) == completion_len:
            rows.append((p, c))
        if len(rows) == batch:
            break
    prompt = torch.tensor([r[0] for r in rows])
    completion = torch.tensor([r[1] for r in rows])
    return prompt, completion


def measure(model, adapter, prompt, completion, name: str, draws: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[draws, B] sequence scores and [draws] gradient norms."""
    drawer, scale = ESTIMATORS[name]
    cmask = torch.ones_like(completion, dtype=torch.bool)
    att = torch.ones(prompt.shape[0], prompt.shape[1] + completion.shape[1], dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    scores, norms = [], []
    for _ in range(draws):
        s = scale * estimate_logps(lambda i, a: token_logits(model, i, a, adapter), prompt, completion, att,
                                   drawer(cmask, gen), adapter.mask_token_id).sum(-1)  # [B]
        grads = torch.autograd.grad(s.sum(), params)
        scores.append(s.detach())
        norms.append(torch.sqrt(sum((g.float() ** 2).sum() for g in grads)))
    return torch.stack(scores), torch.stack(norms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model dir (default: build the tiny model in a temp dir)")
    parser.add_argument("--draws", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--prompt-len", type=int, default=16)
    parser.add_argument("--completion-len", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model_dir = model_dir_or_tiny(args.model)
    model = AutoModel.from_pretrained(model_dir).eval()
    tokenizer = load_tokenizer(model_dir)
    adapter = get_adapter(model.config)
    prompt, completion = fixed_batch(tokenizer, args.batch, args.prompt_len, args.completion_len)

    results = {}
    print(f"{'estimator':<12} {'mean score':>11} {'var(score)':>11} {'var(grad norm)':>15}   (2 forward passes each)")
    for name in ESTIMATORS:
        scores, norms = measure(model, adapter, prompt, completion, name, args.draws, args.seed)
        results[name] = (scores.var(0).mean().item(), norms.var().item())
        print(f"{name:<12} {scores.mean().item():>11.3f} {results[name][0]:>11.4f} {results[name][1]:>15.4f}")
    ratio = results["coupled"][0] / results["independent"][0]
    grad_ratio = results["coupled"][1] / results["independent"][1]
    print(f"gradient-norm variance ratio (coupled/independent): {grad_ratio:.3f}")
    print(f"coupled/independent variance ratio: {ratio:.3f}")


if __name__ == "__main__":
    main()
