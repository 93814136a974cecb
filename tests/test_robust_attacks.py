"""The adversarial attacks of ``gankit.robust``: contract, strength on MNIST, agreement with
torchattacks, and the errors a user can cause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.robust import APGD, ATTACKS, FGSM, PGD, Attack, Square, build_attack
from gankit.robust.apgd import checkpoints
from gankit.robust.square import margin, square_fraction

pytestmark = pytest.mark.usefixtures("one_thread")

#: (attack, norm, eps, options) for the contract tests on the tiny model
CASES = [
    ("fgsm", "linf", 0.1, {}),
    ("fgsm", "l2", 0.5, {}),
    ("pgd", "linf", 0.1, {"steps": 5}),
    ("pgd", "l2", 0.5, {"steps": 5}),
    ("pgd", "linf", 0.1, {"steps": 3, "restarts": 3}),
    ("apgd-ce", "linf", 0.1, {"steps": 10}),
    ("apgd-ce", "l2", 0.5, {"steps": 10, "restarts": 2}),
    ("square", "linf", 0.1, {"queries": 30}),
]
IDS = [f"{a}-{n}-{'-'.join(f'{k}{v}' for k, v in o.items())}" for a, n, _, o in CASES]
RANDOM = [c for c in CASES if c[0] != "fgsm"]


def tiny_model() -> nn.Module:
    """A tiny BatchNorm CNN on 1×8×8 images, with running statistics moved off their defaults."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.Flatten(), nn.Linear(4 * 8 * 8, 5))
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(32, 1, 8, 8))
    return net


@pytest.fixture
def tiny() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The tiny model (in train mode), 16 images in [0, 1] and the labels it predicts (eval)."""
    net = tiny_model()
    x = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    net.eval()
    with torch.no_grad():
        y = net(x).argmax(1)
    net.train()
    return net, x, y


def ball_distance(x_adv: torch.Tensor, x: torch.Tensor, norm: str) -> torch.Tensor:
    d = (x_adv - x).flatten(1)
    return d.abs().amax(1) if norm == "linf" else d.norm(dim=1)


def snapshot(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


# -- the contract, on a tiny model ----------------------------------------------------------


def test_registry_names_and_classes():
    assert ATTACKS.names() == ["apgd-ce", "fgsm", "pgd", "square"]
    for name, cls in [("fgsm", FGSM), ("pgd", PGD), ("apgd-ce", APGD), ("square", Square)]:
        assert ATTACKS.get(name) is cls and cls.name == name and issubclass(cls, Attack)
    with pytest.raises(GankitError, match="choose one of: apgd-ce, fgsm, pgd, square"):
        build_attack("cw", nn.Linear(2, 2), 0.1)


@pytest.mark.parametrize(("name", "norm", "eps", "options"), CASES, ids=IDS)
def test_output_in_range_and_ball(tiny, name, norm, eps, options):
    net, x, y = tiny
    x_adv = build_attack(name, net, eps, norm, **options)(x, y)
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype and not x_adv.requires_grad
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert (ball_distance(x_adv, x, norm) <= eps + 1e-6).all()
    assert not torch.equal(x_adv, x)  # it did move


@pytest.mark.parametrize(("name", "norm", "eps", "options"), CASES, ids=IDS)
def test_reproducible_and_global_rng_untouched(tiny, name, norm, eps, options):
    net, x, y = tiny
    state = torch.get_rng_state()
    first = build_attack(name, net, eps, norm, seed=3, **options)(x, y)
    again = build_attack(name, net, eps, norm, seed=3, **options)(x, y)
    assert torch.equal(first, again)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize(("name", "norm", "eps", "options"), RANDOM,
                         ids=[i for i, c in zip(IDS, CASES, strict=True) if c in RANDOM])
def test_seed_changes_random_attacks(tiny, name, norm, eps, options):
    net, x, y = tiny
    a = build_attack(name, net, eps, norm, seed=0, **options)(x, y)
    b = build_attack(name, net, eps, norm, seed=1, **options)(x, y)
    assert not torch.equal(a, b)


@pytest.mark.parametrize(("name", "norm", "eps", "options"), CASES, ids=IDS)
def test_model_state_and_modes_untouched(tiny, name, norm, eps, options):
    net, x, y = tiny
    net[3].eval()  # a mixed state: the model in train mode, one submodule in eval
    flags = [m.training for m in net.modules()]
    before = snapshot(net)
    x_adv = build_attack(name, net, eps, norm, **options)(x, y)
    assert [m.training for m in net.modules()] == flags
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BatchNorm stats bit-identical
    assert all(p.grad is None for p in net.parameters())
    # the attack saw the model in eval mode: attacking the eval-mode model gives the same images
    net.eval()
    assert torch.equal(build_attack(name, net, eps, norm, **options)(x, y), x_adv)
    assert not net.training


@pytest.mark.parametrize(("name", "norm", "eps", "options"), CASES, ids=IDS)
def test_protocol_is_json(tiny, name, norm, eps, options):
    net, _, _ = tiny
    protocol = build_attack(name, net, eps, norm, seed=5, **options).protocol()
    json.dumps(protocol)
    assert protocol["attack"] == name and protocol["norm"] == norm and protocol["eps"] == eps
    for key, value in options.items():
        assert protocol[key] == value
    if name != "fgsm":
        assert protocol["seed"] == 5


def test_defaults_in_protocol(tiny):
    net, _, _ = tiny
    pgd = build_attack("pgd", net, 0.1).protocol()
    assert pgd["steps"] == 40 and pgd["step_size"] == pytest.approx(2.5 * 0.1 / 40)
    assert pgd["random_start"] is True and pgd["restarts"] == 1 and pgd["seed"] == 0
    apgd = build_attack("apgd-ce", net, 0.1, norm="L2").protocol()
    assert apgd["steps"] == 100 and apgd["restarts"] == 1 and apgd["norm"] == "l2"
    assert apgd["step_size"] == pytest.approx(0.2)
    square = build_attack("square", net, 0.1).protocol()
    assert square["queries"] == 1000 and square["p_init"] == 0.8
    assert build_attack("fgsm", net, 0.1).protocol()["steps"] == 1


def test_apgd_checkpoints_follow_the_paper():
    # p = 0, 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(1) == [1]


def test_square_schedule_and_margin():
    assert square_fraction(0.8, 0, 1000) == 0.8
    assert square_fraction(0.8, 1, 1000) == 0.8  # iteration 10 of 10,000
    assert square_fraction(0.8, 2, 1000) == 0.4
    assert square_fraction(0.8, 300, 1000) == pytest.approx(0.8 / 64)
    assert square_fraction(0.8, 999, 1000) == pytest.approx(0.8 / 512)
    logits = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 1.0]])
    assert margin(logits, torch.tensor([0, 0])).tolist() == [1.0, -5.0]


def test_square_spends_queries_only_on_correct_samples(tiny):
    net, x, y = tiny
    wrong = (y + 1) % 5
    attack = build_attack("square", net, 0.05, queries=20)
    x_adv = attack(x, torch.cat([wrong[:4], y[4:]]))
    assert torch.equal(x_adv[:4], x[:4]) and (attack.queries_used[:4] == 0).all()
    assert (attack.queries_used[4:] >= 1).all() and (attack.queries_used <= 20).all()


def test_eps_zero_returns_the_images(tiny):
    net, x, y = tiny
    for name in ATTACKS:
        assert torch.equal(build_attack(name, net, 0.0, steps=3)(x, y) if name in ("pgd", "apgd-ce")
                           else build_attack(name, net, 0.0)(x, y), x)


def test_empty_batch(tiny):
    net, x, y = tiny
    assert build_attack("pgd", net, 0.1)(x[:0], y[:0]).shape == (0, 1, 8, 8)


# -- errors a user can cause ------------------------------------------------------------


def one_sentence(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert message.endswith(".") and "\n" not in message and ". " not in message, message
    return message


@pytest.mark.parametrize(("args", "options", "match"), [
    (("pgd", -0.1), {}, "eps between 0 and 1"),
    (("pgd", 1.5), {}, "eps between 0 and 1"),
    (("fgsm", float("nan")), {}, "eps between 0 and 1"),
    (("pgd", 0.1), {"steps": 0}, "steps to be an integer ≥ 1"),
    (("apgd-ce", 0.1), {"steps": 2.5}, "steps to be an integer ≥ 1"),
    (("pgd", 0.1), {"restarts": 0}, "restarts to be an integer ≥ 1"),
    (("apgd-ce", 0.1), {"restarts": 0}, "restarts to be an integer ≥ 1"),
    (("square", 0.1), {"queries": 0}, "queries to be an integer ≥ 1"),
    (("square", 0.1), {"p_init": 0.0}, "p_init above 0"),
    (("pgd", 0.1), {"step_size": -1.0}, "step_size between 0"),
    (("pgd", 0.1), {"random_start": "yes"}, "random_start to be true or false"),
    (("pgd", 0.1), {"norm": "l3"}, "norm"),
    (("square", 0.1), {"norm": "l2"}, "supports only the linf norm"),
    (("pgd", 0.1), {"stepz": 3}, "Unknown option"),
    (("fgsm", 0.1), {"seed": -1}, "seed to be an integer ≥ 0"),
])
def test_bad_settings(tiny, args, options, match):
    net, _, _ = tiny
    with pytest.raises(GankitError, match=match) as error:
        build_attack(args[0], net, args[1], **options)
    one_sentence(error)


def test_square_refuses_l2_in_one_sentence(tiny):
    with pytest.raises(GankitError, match="square attack supports only the linf norm") as error:
        Square(tiny[0], 0.5, norm="l2")
    one_sentence(error)


class Flat(nn.Module):
    """A 'model' whose output has the wrong shape."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = shape
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1)[:, :1] * self.w).expand(len(x), 1).reshape(len(x), *self.shape)


@pytest.mark.parametrize("name", ["fgsm", "pgd", "apgd-ce", "square"])
@pytest.mark.parametrize("case", ["3-D", "above 1", "below 0", "labels", "ints", "not a model",
                                  "logits (N,)", "logits (N, 1)", "logits (N, K, 1)",
                                  "label range"])
def test_bad_inputs(tiny, name, case):
    net, x, y = tiny
    model = net
    if case == "3-D":
        x = x[:, 0]
    elif case == "above 1":
        x = x.clone()
        x[0, 0, 0, 0] = 1.01
    elif case == "below 0":
        x = x - 0.5
    elif case == "labels":
        y = y[:-1]
    elif case == "ints":
        x = (x * 255).to(torch.uint8)
    elif case == "logits (N,)":
        model = Flat(())
    elif case == "logits (N, 1)":
        model = Flat((1,))
    elif case == "logits (N, K, 1)":
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 5), nn.Unflatten(1, (5, 1)))
    elif case == "label range":
        y = y.clone()
        y[0] = 7
    if case == "not a model":
        with pytest.raises(GankitError, match="nn.Module") as error:
            build_attack(name, lambda t: t, 0.1)
    else:
        attack = build_attack(name, model, 0.1, **({"queries": 3} if name == "square" else {}))
        with pytest.raises(GankitError) as error:
            attack(x, y)
    one_sentence(error)


def test_slack_on_the_pixel_range_is_allowed(tiny):
    net, x, y = tiny
    x = x.clone()
    x[0, 0, 0, 0], x[0, 0, 0, 1] = -5e-7, 1 + 5e-7
    x_adv = build_attack("fgsm", net, 0.1)(x, y)
    assert x_adv.min() >= 0 and x_adv.max() <= 1


# -- strength on a small MNIST CNN ------------------------------------------------------


@pytest.fixture(scope="module")
def mnist(shared_data: Path, one_thread) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A small CNN trained for 300 steps on 4,000 MNIST images, and 500 test images."""
    def split(name: str):
        return load_dataset(DataConfig(name="mnist", path=str(shared_data / "mnist"),
                                       normalize="unit", options={"split": name}))

    train, test = split("train"), split("test")
    x, y = train.rows(slice(0, 4000)), torch.as_tensor(train.labels[:4000]).long()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 5, 2, 2), nn.ReLU(), nn.Conv2d(8, 16, 5, 2, 2),
                        nn.ReLU(), nn.Flatten(), nn.Linear(16 * 7 * 7, 10))
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for _ in range(300):
        i = torch.randint(0, len(x), (64,))
        loss = F.cross_entropy(net(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval().requires_grad_(False)
    return net, test.rows(slice(0, 500)), torch.as_tensor(test.labels[:500]).long()


def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return 100 * float((net(x).argmax(1) == y).float().mean())


def robust(mnist, name: str, eps: float, norm: str = "linf", **options) -> float:
    net, x, y = mnist
    return accuracy(net, build_attack(name, net, eps, norm, **options)(x, y), y)


def test_model_learned(mnist):
    assert accuracy(*mnist) >= 90


def test_pgd_stronger_than_fgsm(mnist):
    assert robust(mnist, "pgd", 0.1) <= robust(mnist, "fgsm", 0.1)


@pytest.mark.parametrize("random_start", [False, True])
def test_more_pgd_steps_never_help(mnist, random_start):
    acc10 = robust(mnist, "pgd", 0.1, steps=10, random_start=random_start)
    acc40 = robust(mnist, "pgd", 0.1, steps=40, random_start=random_start)
    assert acc40 <= acc10


def test_apgd_at_least_as_strong_as_pgd(mnist):
    assert robust(mnist, "apgd-ce", 0.1) <= robust(mnist, "pgd", 0.1, steps=40) + 1.0


def test_eps_zero_leaves_accuracy_unchanged(mnist):
    clean = accuracy(*mnist)
    for name in ATTACKS:
        assert robust(mnist, name, 0.0, **({"steps": 5} if name != "fgsm" and name != "square"
                                           else {})) == clean


def test_large_eps_breaks_the_model(mnist):
    assert robust(mnist, "pgd", 0.5) <= 5.0


def test_square_reduces_accuracy(mnist):
    clean = accuracy(*mnist)
    stripes_only = robust(mnist, "square", 0.3, queries=1)
    searched = robust(mnist, "square", 0.3, queries=100)
    assert searched <= stripes_only and searched <= clean / 2


def test_l2_attacks_are_sane(mnist):
    fgsm, pgd = robust(mnist, "fgsm", 1.0, "l2"), robust(mnist, "pgd", 1.0, "l2")
    apgd = robust(mnist, "apgd-ce", 1.0, "l2", steps=50)
    assert apgd <= pgd + 1.0 and pgd <= fgsm < accuracy(*mnist)


# -- agreement with a peer implementation -----------------------------------------------


def test_fgsm_agrees_with_torchattacks(mnist):
    torchattacks = pytest.importorskip("torchattacks")
    net, x, y = mnist
    for eps in (0.05, 0.1, 0.2):
        peer = accuracy(net, torchattacks.FGSM(net, eps=eps)(x, y), y)
        assert robust(mnist, "fgsm", eps) == pytest.approx(peer, abs=0.3)


@pytest.mark.parametrize(("eps", "alpha", "steps"), [(0.1, 0.01, 20), (0.2, 0.05, 10)])
def test_pgd_agrees_with_torchattacks(mnist, eps, alpha, steps):
    torchattacks = pytest.importorskip("torchattacks")
    net, x, y = mnist
    peer = accuracy(net, torchattacks.PGD(net, eps=eps, alpha=alpha, steps=steps,
                                          random_start=False)(x, y), y)
    ours = robust(mnist, "pgd", eps, steps=steps, step_size=alpha, random_start=False)
    assert ours == pytest.approx(peer, abs=0.3)


def test_pgd_l2_agrees_with_torchattacks(mnist):
    torchattacks = pytest.importorskip("torchattacks")
    net, x, y = mnist
    peer = accuracy(net, torchattacks.PGDL2(net, eps=1.0, alpha=0.1, steps=20,
                                            random_start=False)(x, y), y)
    ours = robust(mnist, "pgd", 1.0, "l2", steps=20, step_size=0.1, random_start=False)
    assert ours == pytest.approx(peer, abs=0.3)


def test_apgd_close_to_torchattacks(mnist):
    torchattacks = pytest.importorskip("torchattacks")
    net, x, y = mnist
    with torch.random.fork_rng():  # torchattacks seeds the global RNG
        peer = accuracy(net, torchattacks.APGD(net, norm="Linf", eps=0.1, steps=50)(x, y), y)
    assert robust(mnist, "apgd-ce", 0.1, steps=50) == pytest.approx(peer, abs=1.0)
