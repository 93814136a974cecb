"""Shapes and exact parameter counts of the model families and the seed presets."""

import pytest
import torch

from gankit.config import build_config
from gankit.errors import GankitError
from gankit.models import DataSpec, build_models, count_parameters

MNIST = DataSpec("mnist", "image", (1, 28, 28), "unit", tuple("0123456789"))


def models_of(preset: str, spec: DataSpec = MNIST):
    cfg = build_config(preset)
    return build_models(cfg.model.arch, cfg.model.g, cfg.model.d, cfg.model.z_dim, spec)


def dense(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def test_seed_dcgan_parameter_counts():
    g, d = models_of("seed-dcgan")
    assert count_parameters(g) == 2_318_209
    assert count_parameters(d) == 212_865


def test_seed_mlp_parameter_counts_follow_the_layer_list():
    g, d = models_of("seed-mlp")
    g_expected = (dense(100, 256) + 2 * 256 + dense(256, 512) + 2 * 512 + dense(512, 1024)
                  + 2 * 1024 + dense(1024, 784))
    assert count_parameters(g) == g_expected
    assert count_parameters(d) == dense(784, 512) + dense(512, 256) + dense(256, 1)


def test_seed_mlp_layers_in_order():
    g, d = models_of("seed-mlp")
    kinds = [type(m).__name__ for m in g.net]
    assert kinds == ["Linear", "ReLU", "BatchNorm1d", "Linear", "ReLU", "BatchNorm1d", "Linear",
                     "ReLU", "BatchNorm1d", "Dropout", "Linear", "Sigmoid"]
    assert [type(m).__name__ for m in d.net][:3] == ["Flatten", "Dropout", "Linear"]
    assert d.net[1].p == 0.5


@pytest.mark.parametrize("preset", ["seed-mlp", "seed-dcgan"])
def test_seed_models_map_noise_to_digits_and_scores(preset):
    g, d = models_of(preset)
    g.eval()
    x = g(torch.rand(4, 100))
    assert x.shape == (4, 1, 28, 28)
    assert x.min() >= 0.0 and x.max() <= 1.0  # sigmoid output
    assert d(x).shape == (4,)


def test_dcgan64_maps_z_to_4x4x1024_then_64x64_rgb():
    spec = DataSpec("folder", "image", (3, 64, 64), "symmetric")
    g, d = models_of("dcgan64", spec)
    assert g.start == (1024, 4, 4)
    x = g(torch.randn(2, 100))
    assert x.shape == (2, 3, 64, 64) and x.abs().max() <= 1.0
    assert d(x).shape == (2,)
    convs = [m for m in g.net if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 3]


def test_mlp_handles_points():
    spec = DataSpec("ring8", "points", (2,))
    g, d = build_models("mlp", {"hidden": [32]}, {"hidden": [32]}, 8, spec)
    assert g(torch.randn(5, 8)).shape == (5, 2)
    assert d(torch.randn(5, 2)).shape == (5,)


def test_spectral_norm_option_parametrizes_d():
    spec = DataSpec("digits", "image", (1, 8, 8))
    _, d = build_models("dcgan", {"channels": [16, 8]}, {"channels": [8], "spectral_norm": True},
                        4, spec)
    assert any("parametrizations" in name for name, _ in d.named_parameters())


@pytest.mark.parametrize(("size", "start"), [(28, 7), (64, 8), (8, 4), (32, 4)])
def test_dcgan_default_strides_fit_the_image_size(size, start):
    spec = DataSpec("x", "image", (3, size, size))
    g, _ = build_models("dcgan", {}, {}, 16, spec)
    assert g.start[1] == start
    assert g(torch.randn(2, 16)).shape == (2, 3, size, size)


def test_dcgan_refuses_points_and_impossible_sizes():
    with pytest.raises(GankitError, match="image data"):
        build_models("dcgan", {}, {}, 8, DataSpec("ring8", "points", (2,)))
    with pytest.raises(GankitError, match="strides"):
        build_models("dcgan", {"channels": [8, 8, 8], "strides": [2, 2, 2]}, {}, 8,
                     DataSpec("x", "image", (1, 10, 10)))


def test_unknown_model_lists_valid_names():
    with pytest.raises(GankitError, match="dcgan, mlp"):
        build_models("resnet-9000", {}, {}, 8, MNIST)


def test_dcgan_init_draws_weights_from_n_0_002():
    spec = DataSpec("mnist", "image", (1, 28, 28), "unit")
    g, d = build_models("dcgan", {}, {"spectral_norm": True}, 100, spec, init="dcgan")
    conv = next(m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d))
    assert abs(conv.weight.std().item() - 0.02) < 0.002 and conv.bias.abs().max() == 0
    bn = next(m for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert abs(bn.weight.mean().item() - 1.0) < 0.01
    sn_conv = next(m for m in d.modules() if isinstance(m, torch.nn.Conv2d))
    assert abs(sn_conv.parametrizations.weight.original.std().item() - 0.02) < 0.004


def test_packing_feeds_d_k_samples_at_once():
    spec = DataSpec("ring8", "points", (2,))
    _, d = build_models("mlp", {"hidden": [8]}, {"hidden": [8]}, 4, spec, pack=4)
    assert d.inner.net[1].in_features == 8  # 4 samples × 2 coordinates
    x = torch.randn(12, 2)
    assert d(x).shape == (3,)
    # the first pack is samples 0-3 side by side
    assert torch.equal(d.inner.net[0](x.reshape(3, 8))[0], x[:4].flatten())
    img = DataSpec("mnist", "image", (1, 28, 28))
    _, d = build_models("dcgan", {}, {"channels": [8]}, 4, img, pack=2)
    assert d(torch.randn(6, 1, 28, 28)).shape == (3,)


def test_batch_must_be_a_multiple_of_the_pack():
    from gankit.config import validate

    with pytest.raises(GankitError, match="multiple of model.pack"):
        validate({"model": {"pack": 3}, "train": {"batch_size": 64}})


def test_dcgan_generator_takes_one_kernel_size_per_layer():
    spec = DataSpec("stacked", "image", (3, 28, 28), "unit")
    opts = {"channels": [16, 8, 4], "strides": [2, 2, 1], "kernel_size": [4, 4, 5]}
    g, _ = build_models("dcgan", opts, {"channels": [8]}, 8, spec)
    convs = [m for m in g.net if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.kernel_size for c in convs] == [(4, 4), (4, 4), (5, 5)]
    assert g.start == (16, 7, 7)
    assert g(torch.randn(2, 8)).shape == (2, 3, 28, 28)


def test_dcgan_kernel_list_must_match_the_layers():
    from gankit.config import validate

    with pytest.raises(GankitError, match="kernel_size needs one entry per channels entry"):
        validate({"model": {"arch": "dcgan", "g": {"channels": [8, 4], "kernel_size": [4]}}})
    with pytest.raises(GankitError, match="odd kernel for stride-1"):
        build_models("dcgan", {"channels": [8, 4], "strides": [1, 2], "kernel_size": [4, 4]},
                     {}, 8, DataSpec("x", "image", (1, 14, 14)))
