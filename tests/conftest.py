"""Session fixtures: the tiny offline model and tokenizer are built once (same function as scripts/make_tiny_model.py)."""

import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from inference.tiny import build_tiny

    return build_tiny(tmp_path_factory.mktemp("tiny-model"), seed=0)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture()
def tiny_model(tiny_model_dir):
    from transformers import AutoModel

    import inference  # noqa: F401  (registers model_type "llada")

    return AutoModel.from_pretrained(tiny_model_dir).eval()


@pytest.fixture(scope="session")
def tiny_dream_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """The tiny random Dream model (scripts/make_tiny_model.py --arch dream), reusing the session's BPE tokenizer."""
    import copy

    from inference.tiny_dream import build_tiny_dream

    return build_tiny_dream(tmp_path_factory.mktemp("tiny-dream"), seed=0, base_tokenizer=copy.deepcopy(tiny_tokenizer))


@pytest.fixture(scope="session")
def hub_dream_dir(tmp_path_factory) -> Path:
    """A tiny random Dream model whose tokenizer is laid out as Dream-org's Hub checkpoints ship it: vocab.json,
    merges.txt, tokenizer_config.json naming the remote-code DreamTokenizer, no tokenizer.json."""
    from inference.tiny_dream import build_hub_shaped_dream

    return build_hub_shaped_dream(tmp_path_factory.mktemp("hub-dream"), seed=0)


@pytest.fixture
def master_port():
    """Pick a free port for each multi-rank launch of the test. Afterwards none of those launches may have left a
    DeepSpeed CPU all-reduce buffer in /dev/shm (66 MB a rank; train.dist unlinks them): any found are removed, then
    reported."""
    ports: list[int] = []

    def pick() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
        return ports[-1]

    yield pick
    left = [path for port in ports for path in Path("/dev/shm").glob(f"deepspeed_allreduce_buffer_*_{port}_*")]
    for path in left:
        path.unlink(missing_ok=True)
    assert not left, f"the launch left DeepSpeed shm buffers behind: {[path.name for path in left]}"
