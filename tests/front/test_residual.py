"""The channel path on residual networks: channels coupled through a block's addition are
cut and removed together, so that every point compacts exactly (the same outputs) to the
FLOPs share the path recorded for it, and the cut reaches the stages' shared channels."""

import pytest
import torch

from moprune.config import TrainConfig
from moprune.front import Path, train_front
from moprune.pruning import compact, count_flops


def _check_channel_path(model, data, points):
    front = train_front(model, data, method=Path(points=points, corrector="channel",
                                                 start_lam=0.3, warmup=0.5, max_drop=0.9),
                        complexity="flops", train=TrainConfig(epochs=2, batch_size=64))
    x = torch.randn(4, data.in_channels, data.image_size, data.image_size)
    shares, stems = [], []
    for point in front.search_points:
        net = front.model(point).eval()
        small, _ = compact(net, example_inputs=x)
        small.eval()
        with torch.no_grad():
            assert torch.allclose(net(x), small(x), atol=1e-5, rtol=1e-4), point.key
        # what compaction removes is what the path counted
        share = count_flops(small, x[:1]) / count_flops(net, x[:1])
        assert share == pytest.approx(point.flops_share, abs=0.02), point.key
        shares.append(share)
        stems.append(small.conv1.out_channels)  # the first stage's shared channels
        # every channel the path cut was removable: none is left behind as zeros
        left = {n: int((m.weight.flatten(1) == 0).all(1).sum()) for n, m in small.named_modules()
                if isinstance(m, torch.nn.Conv2d) and (m.weight.flatten(1) == 0).all(1).any()}
        assert not left, (point.key, left)
    assert min(shares) < 0.6  # the path did cut, and compaction made it smaller
    assert min(stems) < stems[0]  # coupled channels were cut in every layer at once


def test_channel_path_on_resnet20_compacts_exactly_to_its_flops(synthetic_data):
    _check_channel_path("resnet20", synthetic_data, points=4)


@pytest.mark.slow
def test_channel_path_on_resnet56_compacts_exactly_to_its_flops(synthetic_data):
    _check_channel_path("resnet56", synthetic_data, points=3)
