import math

import pytest
import torch

from corruption.schedules import SCHEDULES, curriculum_eps, sample_p_mask


def test_curriculum_eps_by_hand():
    assert curriculum_eps(0, 101) == pytest.approx(0.1)
    assert curriculum_eps(100, 101) == pytest.approx(0.001)
    assert curriculum_eps(50, 101) == pytest.approx(0.001 + 0.5 * 0.099 * (1 + math.cos(math.pi / 2)))  # 0.0505
    assert curriculum_eps(25, 101) == pytest.approx(0.001 + 0.5 * 0.099 * (1 + math.cos(math.pi / 4)))
    assert curriculum_eps(10_000, 101) == pytest.approx(0.001)  # past the end: stays at eps_min


def test_linear_is_llada_by_hand():
    t = torch.rand(4, generator=torch.Generator().manual_seed(0))
    p = sample_p_mask("linear", 4, 0, 10, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(p, (1 - 1e-3) * t + 1e-3)


def test_curriculum_by_hand():
    lam = torch.rand(5, generator=torch.Generator().manual_seed(2))
    p = sample_p_mask("curriculum", 5, 0, 100, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(p, 0.9 * lam + 0.1)  # step 0: eps_t = 0.1, so P_mask >= 0.1


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_range(name):
    p = sample_p_mask(name, 2000, 3, 10, generator=torch.Generator().manual_seed(1))
    assert p.shape == (2000,) and p.min() > 0 and p.max() <= 1


def test_unknown_schedule():
    with pytest.raises(ValueError):
        sample_p_mask("cosine", 2, 0, 1)
