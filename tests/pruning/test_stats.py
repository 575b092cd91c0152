import torch
from torch import nn

from moprune.pruning.stats import count_flops, model_size, size_report


def test_flops_of_a_linear_layer_and_a_conv():
    linear = nn.Linear(10, 4, bias=False)
    assert count_flops(linear, torch.zeros(3, 10)) == 2 * 3 * 10 * 4
    conv = nn.Conv2d(2, 5, 3, padding=1, bias=False)
    assert count_flops(conv, torch.zeros(1, 2, 8, 8)) == 2 * 8 * 8 * 5 * 2 * 9


def test_size_and_report():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        model[1].weight[0] = 0
    size = model_size(model)
    assert size["parameters"] == 4 * 3 + 3 + 3 * 2 + 2
    assert size["nonzero_parameters"] == size["parameters"] - 4
    report = size_report(model, torch.randn(8, 1, 2, 2))
    assert report["flops_per_image"] == 2 * (4 * 3 + 3 * 2)
    assert report["zero_fraction"] == 4 / size["parameters"]
    assert report["train_step_ms"] > 0 and report["inference_ms"] > 0
    assert model[1].weight[0].eq(0).all()  # timing trains a copy, not the model
