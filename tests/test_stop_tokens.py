"""Stop and pad tokens of the Dream family (issue 28): an Instruct chat turn ends at <|im_end|>, DiffuCoder fills the
canvas after a completion with <|dlm_pad|>. RL's loss mask, evaluation's programs and synthesis's pairs end there.

The tokenizer is the tiny Dream one with the two tokens added as the Hub tokenizers have them (added special tokens);
the sampler is replaced by canned completions, so each case is decided by hand.
"""

from argparse import Namespace

import pytest
import torch
from transformers import AutoConfig, AutoTokenizer

import inference  # noqa: F401  (registers model_type "llada")
from inference.adapters import get_adapter
from inference.loading import LoadedModel
from inference.sampler import GenerationOutput

PROMPT = "def f(x):\n"
BODY, JUNK = "    return x + 1", "\nprint(f)"


@pytest.fixture(scope="module")
def dream(tiny_dream_dir):
    """(tokenizer with <|im_end|> and <|dlm_pad|>, adapter, ids of body / junk, EOS, IM_END, PAD)."""
    tok = AutoTokenizer.from_pretrained(tiny_dream_dir)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_end|>", "<|dlm_pad|>"]})
    adapter = get_adapter(AutoConfig.from_pretrained(tiny_dream_dir))
    enc = lambda s: tok(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    ids = Namespace(body=enc(BODY), junk=enc(JUNK), eos=tok.eos_token_id,
                    im_end=tok.convert_tokens_to_ids("<|im_end|>"), pad=tok.convert_tokens_to_ids("<|dlm_pad|>"))
    assert tok.decode(ids.body) == BODY and len({ids.eos, ids.im_end, ids.pad}) == 3
    return tok, adapter, ids


def test_adapters_name_their_stop_and_pad_ids(dream, tiny_dream_dir, tiny_model_dir):
    tok, adapter, ids = dream
    assert adapter.stop_ids(tok) == tuple(sorted((ids.eos, ids.im_end)))
    assert adapter.pad_id(tok) == ids.pad
    assert adapter.end_ids(tok) == tuple(sorted((ids.eos, ids.im_end, ids.pad)))
    plain = AutoTokenizer.from_pretrained(tiny_dream_dir)  # Dream-v0: neither token, EOS pads
    assert (adapter.stop_ids(plain), adapter.pad_id(plain)) == ((plain.eos_token_id,), plain.eos_token_id)
    llada_tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    llada = get_adapter(AutoConfig.from_pretrained(tiny_model_dir))
    eot = llada_tok.convert_tokens_to_ids("<|eot_id|>")
    assert llada.stop_ids(llada_tok) == tuple(sorted((llada_tok.eos_token_id, eot)))
    assert llada.pad_id(llada_tok) == llada_tok.eos_token_id


def _canvas(ids, width: int) -> list[list[int]]:
    """Completions of `width` tokens: the body, then how each case ends."""
    b, j = ids.body, ids.junk
    rows = [b + [ids.im_end] + j,  # chat turn ends, junk after it
            b + [ids.pad] + j,  # DiffuCoder padding ends it (not part of the completion)
            b + [ids.eos] + j,  # EOS
            (b + j) * 2]  # no end: the whole canvas
    return [(r + [ids.pad] * width)[:width] for r in rows]


def test_rl_completion_mask_stops_at_the_first_stop_id_and_excludes_padding(dream, tiny_dream_dir, monkeypatch):
    from rl import rollout

    tok, adapter, ids = dream
    width, n = len(ids.body) + 1 + len(ids.junk) + 3, len(ids.body)
    canvas = torch.tensor(_canvas(ids, width))

    def sampler(model, prompt_ids, gen_length=0, **_):
        return GenerationOutput(torch.cat([prompt_ids, canvas[: len(prompt_ids)]], 1), torch.zeros(1), nfe=1)

    monkeypatch.setitem(rollout.SAMPLERS, "dream", sampler)
    model = torch.nn.Linear(1, 1)
    model.config = AutoConfig.from_pretrained(tiny_dream_dir)
    r = rollout.generate_rollouts(model, tok, adapter, [PROMPT], 4, width, 4, {}, 1.0, False, 0, sampler="dream")
    lengths = r.completion_mask.sum(-1).tolist()
    assert lengths == [n + 1, n, n + 1, width]  # im_end and EOS scored as TRL scores EOS; the pad is not
    assert torch.equal(r.completion_mask, torch.arange(width) < torch.tensor(lengths)[:, None])  # a prefix each
    assert r.completions[:3] == [BODY] * 3
    assert r.completions[3] == tok.decode(canvas[3].tolist())  # nothing ended it


def test_evaluation_and_synthesis_cut_the_program_at_im_end_and_dlm_pad(dream, monkeypatch):
    from repair import synthesize
    from repair.loop import Engine
    from repair.pairs import PairFilter

    tok, adapter, ids = dream
    loaded = LoadedModel(None, tok, adapter, torch.device("cpu"), "base")
    engine = Engine.from_loaded(loaded)
    prompt = tok(PROMPT, add_special_tokens=False)["input_ids"]
    width = len(ids.body) + 1 + len(ids.junk) + 3
    for row in _canvas(ids, width)[:3]:
        seq = torch.tensor([prompt + row])
        cand = engine.candidate(seq, torch.ones(seq.shape), len(prompt), PROMPT)
        assert cand.program == PROMPT + BODY and cand.completion_ids == ids.body

    canvas = torch.tensor(_canvas(ids, width)[:1])
    noisy = canvas.clone()
    noisy[0, 0] = ids.junk[0]

    def generate(model, ids_, **_):
        seq = lambda c: torch.cat([ids_, c], 1)  # noqa: E731
        return GenerationOutput(seq(canvas), torch.ones(canvas.shape), 2,
                                trajectory_predictions=[seq(noisy), seq(canvas)])

    monkeypatch.setattr("inference.sampler.generate", generate)
    args = Namespace(seed=0, steps=2, gen_length=width, block_length=width, temperature=1.0, model="m",
                     check_tests=False)
    pair, _ = synthesize.synthesize_one(loaded, {"id": "0", "prompt": PROMPT, "tests": None}, 0, args, PairFilter())
    assert pair.fixed == PROMPT + BODY
    assert pair.broken == PROMPT + tok.decode(noisy[0, : len(ids.body)].tolist())
