import math

import pytest
import torch

from moprune.config import TrainConfig
from moprune.errors import ConfigError, DivergedError
from moprune.models import build_model
from moprune.training import Callback, evaluate, make_scheduler, train


def _model(seed=0, name="lenet5"):
    return build_model(name, in_channels=1, num_classes=10, image_size=28, seed=seed)


def _weights(model):
    return torch.cat([t.detach().flatten().float() for t in model.state_dict().values()])


def test_training_learns_synthetic_data(synthetic_data):
    model = _model()
    before = evaluate(model, synthetic_data.loader("val"))[1]
    result = train(model, synthetic_data, TrainConfig(epochs=8, lr=0.05, batch_size=32),
                   evaluate_test=True)
    assert len(result.history) == 8
    assert result.val_acc > before + 0.3
    assert result.test_acc is not None and 0.0 <= result.test_acc <= 1.0
    assert result.history[-1].train_loss < result.history[0].train_loss


def test_same_seed_same_numbers(synthetic_data):
    config = TrainConfig(epochs=2, batch_size=32)
    a, b = _model(), _model()
    ra, rb = train(a, synthetic_data, config), train(b, synthetic_data, config)
    assert torch.equal(_weights(a), _weights(b))
    assert [r.train_loss for r in ra.history] == [r.train_loss for r in rb.history]
    c = _model()
    train(c, synthetic_data, TrainConfig(epochs=2, batch_size=32, seed=1))
    assert not torch.equal(_weights(a), _weights(c))


class _Interrupt(Callback):
    def __init__(self, after_epoch):
        self.after_epoch = after_epoch

    def on_epoch_end(self, *, epoch, record, model):
        if epoch == self.after_epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("name", ["lenet5", "vgg"])  # vgg: batch norm buffers and dropout-free
def test_killed_and_resumed_equals_uninterrupted(tmp_path, synthetic_data, name):
    config = TrainConfig(epochs=3, batch_size=64, optimizer="sgd", nesterov=True,
                         warmup_epochs=1)
    straight = _model(name=name)
    train(straight, synthetic_data, config)

    ckpt = tmp_path / "ckpt.pt"
    interrupted = _model(name=name)
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, synthetic_data, config, checkpoint=ckpt, callbacks=[_Interrupt(2)])
    resumed = _model(seed=123, name=name)  # a fresh process builds a fresh model
    result = train(resumed, synthetic_data, config, checkpoint=ckpt)
    assert result.resumed_from_epoch == 2
    assert [r.epoch for r in result.history] == [1, 2, 3]
    assert torch.equal(_weights(resumed), _weights(straight))


def test_resume_with_other_settings_is_refused(tmp_path, synthetic_data):
    ckpt = tmp_path / "ckpt.pt"
    train(_model(), synthetic_data, TrainConfig(epochs=1), checkpoint=ckpt)
    with pytest.raises(ConfigError, match="was made with other settings \\(lr\\)"):
        train(_model(), synthetic_data, TrainConfig(epochs=1, lr=0.3), checkpoint=ckpt)


def test_divergence_raises(synthetic_data):
    with pytest.raises(DivergedError, match="training loss became (nan|inf)"):
        train(_model(name="mlp"), synthetic_data,
              TrainConfig(epochs=3, lr=1e6, momentum=0.0, scheduler="none"))


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_each_optimizer_changes_the_result(synthetic_data, optimizer):
    base = _model()
    trained = _model()
    train(trained, synthetic_data, TrainConfig(epochs=1, optimizer=optimizer, lr=1e-3))
    assert not torch.equal(_weights(base), _weights(trained))


def test_schedules():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)

    def lrs(**kw):
        sched = make_scheduler(opt, TrainConfig(epochs=4, **kw), steps_per_epoch=10)
        return [sched.lr_lambdas[0](s) for s in (0, 9, 20, 29, 30, 39)]

    assert lrs(scheduler="none") == [1.0] * 6
    assert lrs(scheduler="step") == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01, 0.01])
    cosine = lrs(scheduler="cosine")
    assert cosine[0] == 1.0 and cosine == sorted(cosine, reverse=True) and cosine[-1] < 0.01
    warm = lrs(scheduler="none", warmup_epochs=1)
    assert warm[0] == pytest.approx(0.1) and warm[1] == 1.0


def test_lenet5_reaches_80_percent_in_one_epoch(fmnist_available):
    """The acceptance figure of the foundation issue, on real data (about 6 s)."""
    from moprune.config import DataConfig
    from moprune.data import prepare_data

    data = prepare_data(DataConfig())
    result = train(_model(), data, TrainConfig(epochs=1))
    assert result.val_acc >= 0.80
    assert math.isfinite(result.val_loss)
