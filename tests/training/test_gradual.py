import itertools
import re

import pytest
import torch

from moprune.config import TrainConfig
from moprune.errors import ConfigError
from moprune.models import build_model
from moprune.objectives import scope_parameters
from moprune.pruning import lamp_masks
from moprune.training import (
    Callback,
    GradualMagnitudePruning,
    cubic_sparsity,
    global_magnitude_masks,
    train,
)


def _model(seed=0):
    return build_model("lenet5", in_channels=1, num_classes=10, image_size=28, seed=seed)


def _zeros(model):
    return [p == 0 for _, p in scope_parameters(model)]


def test_cubic_schedule_rises_fast_first_and_ends_at_the_final_sparsity():
    values = [cubic_sparsity(s, begin=10, end=110, final=0.9, initial=0.1)
              for s in range(0, 130, 10)]
    assert values[:2] == [0.1, 0.1] and values[-2:] == [0.9, 0.9]
    steps = [b - a for a, b in itertools.pairwise(values)][1:10]
    assert all(x > y for x, y in itertools.pairwise(steps))  # the cuts shrink
    assert cubic_sparsity(60, begin=10, end=110, final=0.9, initial=0.1) == pytest.approx(
        0.9 - 0.8 * 0.5 ** 3)


def test_global_masks_keep_the_largest_weights_over_all_tensors():
    a = torch.tensor([[0.1, -5.0], [0.3, 0.0]])
    b = torch.tensor([4.0, -0.2, 0.05, 2.0])
    ma, mb = global_magnitude_masks([a, b], 0.5)  # keep 4 of 8: -5, 4, 2, 0.3
    assert ma.tolist() == [[False, True], [True, False]]
    assert mb.tolist() == [True, False, False, True]
    ties = global_magnitude_masks([torch.ones(10)], 0.3)[0]
    assert int(ties.sum()) == 7  # exactly the count asked for, even on ties


def test_lamp_scores_match_the_paper_by_hand_and_keep_every_layer():
    a = torch.tensor([1.0, -3.0, 2.0, 0.0])  # squares 0, 1, 4, 9: scores 0, 1/14, 4/13, 1
    b = torch.tensor([[10.0, 20.0], [-30.0, 40.0]])  # 100/3000, 400/2900, 900/2500, 1
    masks = lamp_masks([a, b], 0.625)  # keep 3 of 8: the two 1s, then 900/2500 = 0.36
    assert masks[0].tolist() == [False, True, False, False]
    assert masks[1].tolist() == [[False, False], [True, True]]
    assert lamp_masks([a, b], 0.5)[0].tolist() == [False, True, True, False]  # 4/13 next
    # global magnitude keeps b's three largest and empties a; LAMP keeps a's largest
    assert not global_magnitude_masks([a, b], 0.625)[0].any()
    keep_two = lamp_masks([a, b], 0.75)
    assert [int(m.sum()) for m in keep_two] == [1, 1]
    ties = lamp_masks([torch.ones(10)], 0.3)[0]
    assert int(ties.sum()) == 7  # exactly the count asked for, even on ties


def test_lamp_gradual_pruning_reaches_the_sparsity_with_another_allocation(synthetic_data):
    shares = {}
    for importance in ("magnitude", "lamp"):
        model = _model()
        per_epoch = len(synthetic_data.loader("train", batch_size=32))
        train(model, synthetic_data, TrainConfig(epochs=2, batch_size=32),
              callbacks=[GradualMagnitudePruning(0.97, begin_step=0, end_step=per_epoch,
                                                 every=5, importance=importance)])
        kept = [int((p != 0).sum()) for _, p in scope_parameters(model)]
        total = sum(p.numel() for _, p in scope_parameters(model))
        assert sum(kept) == round(0.03 * total)
        shares[importance] = kept
    assert shares["lamp"] != shares["magnitude"]
    assert min(shares["lamp"]) > 0


class _Record(Callback):
    def __init__(self):
        self.zeros = []

    def on_epoch_end(self, *, epoch, record, model):
        self.zeros.append(_zeros(model))


def test_pruning_inside_training_reaches_the_sparsity_and_never_revives_a_weight(
        synthetic_data):
    model = _model()
    per_epoch = len(synthetic_data.loader("train", batch_size=32))
    gmp = GradualMagnitudePruning(0.9, begin_step=0, end_step=3 * per_epoch, every=5)
    record = _Record()
    train(model, synthetic_data, TrainConfig(epochs=4, batch_size=32),
                   callbacks=[gmp, record])
    total = sum(m.numel() for m in record.zeros[-1])
    shares = [sum(int(m.sum()) for m in zeros) / total for zeros in record.zeros]
    assert shares[0] > 0.3 and shares[0] < shares[1] < shares[2]
    assert shares[2] == shares[3] == pytest.approx(0.9, abs=1 / total)
    for before, after in zip(record.zeros, record.zeros[1:], strict=False):
        assert all(bool((b <= a).all()) for b, a in zip(before, after, strict=True))


def test_same_seed_same_pruned_network(synthetic_data):
    nets = []
    for _ in range(2):
        model = _model()
        train(model, synthetic_data, TrainConfig(epochs=2, batch_size=32),
              callbacks=[GradualMagnitudePruning(0.8, begin_step=0, end_step=10, every=2)])
        nets.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(nets[0], nets[1])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"final": 1.0}, "final sparsity must be in [0, 1), got 1.0"),
    ({"initial": 0.95}, "initial sparsity 0.95 is above the final 0.9"),
    ({"begin_step": 10, "end_step": 10}, "need 0 <= begin_step < end_step, got 10 and 10"),
    ({"every": 0}, "every must be >= 1, got 0"),
    ({"importance": "movement"},
     "importance must be one of ('magnitude', 'lamp'), got 'movement'"),
])
def test_bad_settings_are_refused_with_the_value(kwargs, message):
    settings = {"final": 0.9, "begin_step": 0, "end_step": 100} | kwargs
    with pytest.raises(ConfigError, match=re.escape(message)):
        GradualMagnitudePruning(**settings)
