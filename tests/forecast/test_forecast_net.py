"""ForecastNet: shapes, the naive forecast at initialisation, losses by hand, gradients."""

import pytest
import torch

from rnnkit.errors import ConfigError
from rnnkit.models.forecaster import ForecastNet, ForecastNetConfig


def make(decoder="direct", likelihood="point", **kw):
    cfg = ForecastNetConfig(n_targets=2, horizon=5, n_past=1, n_known=3, hidden_size=8, decoder=decoder,
                            likelihood=likelihood, **kw)
    return ForecastNet(cfg)


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
@pytest.mark.parametrize("likelihood, p", [("point", 1), ("gaussian", 2), ("quantile", 3)])
def test_shapes_and_naive_start(decoder, likelihood, p):
    net = make(decoder, likelihood).eval()
    past, future = torch.randn(4, 7, 6), torch.randn(4, 5, 3)
    out = net(past, future)
    assert out.shape == (4, 5, 2, p)
    # a zero head under instance normalisation forecasts the last observed value at every step
    torch.testing.assert_close(net.point(out), past[:, -1:, :2].expand(4, 5, 2))
    iv = net.intervals(out)
    if likelihood == "point":
        assert iv is None
    else:
        assert (iv[0] <= net.point(out) + 1e-6).all() and (net.point(out) <= iv[1] + 1e-6).all()


def test_without_instance_norm_the_start_is_zero():
    net = make(instance_norm=False).eval()
    assert net(torch.randn(2, 4, 6), torch.randn(2, 5, 3)).abs().max() == 0


def test_losses_by_hand():
    net = make(likelihood="quantile", quantiles=[0.1, 0.9])
    out = torch.zeros(1, 5, 2, 2)
    y = torch.ones(1, 5, 2)  # under-forecast by 1: pinball = q * 1
    assert float(net.loss(out, y)) == pytest.approx((0.1 + 0.9) / 2)
    g = make(likelihood="gaussian")
    out = torch.stack([torch.zeros(1, 5, 2), torch.full((1, 5, 2), 2.0)], -1)  # mean 0, std 2
    expected = -torch.distributions.Normal(0.0, 2.0).log_prob(torch.tensor(1.0))
    assert float(g.loss(out, y)) == pytest.approx(float(expected), rel=1e-5)
    assert float(make().loss(torch.zeros(1, 5, 2, 1), y)) == 1.0


def test_gaussian_interval_is_the_normal_quantile():
    g = make(likelihood="gaussian")
    out = torch.stack([torch.zeros(1, 5, 2), torch.ones(1, 5, 2)], -1)
    lo, hi = g.intervals(out, level=0.8)
    assert float(hi[0, 0, 0]) == pytest.approx(1.2815516, rel=1e-5)
    assert float(lo[0, 0, 0]) == pytest.approx(-1.2815516, rel=1e-5)


def test_config_errors_and_shape_errors():
    with pytest.raises(ConfigError, match="decoder"):
        ForecastNetConfig(n_targets=1, horizon=2, decoder="seq2seq")
    with pytest.raises(ConfigError, match="quantiles"):
        ForecastNetConfig(n_targets=1, horizon=2, likelihood="quantile", quantiles=[0.5, 1.0])
    with pytest.raises(ValueError, match="past must be"):
        make()(torch.randn(2, 4, 5), torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match="future must be"):
        make()(torch.randn(2, 4, 6), torch.randn(2, 4, 3))


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_float64_gradcheck(decoder):
    torch.manual_seed(0)
    net = make(decoder, "gaussian", teacher_forcing=0.0).double()
    for p in net.head.parameters():  # leave the zero start so the check covers the encoder too
        torch.nn.init.normal_(p, std=0.3)
    past = torch.randn(2, 4, 6, dtype=torch.float64, requires_grad=True)
    future = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: net(a, b), (past, future), eps=1e-6, atol=1e-5)


def test_teacher_forcing_reads_the_true_values_in_training():
    torch.manual_seed(0)
    net = make("autoregressive", teacher_forcing=1.0)
    torch.nn.init.normal_(net.head.weight, std=0.5)
    past, future, y = torch.randn(3, 6, 6), torch.randn(3, 5, 3), torch.randn(3, 5, 2)
    net.train()
    forced = net(past, future, y)
    other = net(past, future, y + 1.0)
    assert torch.equal(forced[:, 0], other[:, 0]) and not torch.allclose(forced[:, 1:], other[:, 1:])
    net.eval()  # at prediction time the true values are never read
    assert torch.equal(net(past, future, y), net(past, future, y + 1.0))
    assert torch.isfinite(forced).all()


def test_warm_up_steps_feed_the_state_but_not_the_normalisation():
    net = make(norm_window=4)
    torch.nn.init.normal_(net.head.weight, std=0.5)
    past = torch.randn(2, 10, 6)
    loc, scale = net._norm(past)
    loc4, scale4 = make(norm_window=0)._norm(past[:, -4:])
    torch.testing.assert_close((loc, scale), (loc4, scale4))
    future = torch.randn(2, 5, 3)
    assert not torch.allclose(net(past, future), net(past[:, -4:], future))  # the warm-up changed the state


def test_highway_can_express_the_seasonal_naive_forecast():
    C, H, m = 8, 5, 4
    net = ForecastNet(ForecastNetConfig(n_targets=2, horizon=H, hidden_size=4, highway=C, instance_norm=False)).eval()
    assert net(torch.randn(3, C, 2), torch.zeros(3, H, 0)).abs().max() == 0  # zero start
    with torch.no_grad():
        for k in range(H):
            net.highway.weight[k, C - m + (k % m)] = 1.0
    past = torch.randn(3, C, 2)
    expected = torch.stack([past[:, C - m + (k % m)] for k in range(H)], 1)
    torch.testing.assert_close(net.point(net(past, torch.zeros(3, H, 0))), expected)
    with pytest.raises(ValueError, match="highway reads the last 8"):
        net(torch.randn(3, 6, 2), torch.zeros(3, H, 0))


def test_revin_round_trips_and_starts_at_the_context_mean():
    import torch

    from rnnkit.models.forecaster import ForecastNet, ForecastNetConfig

    torch.manual_seed(0)
    for likelihood in ("point", "gaussian", "quantile"):
        net = ForecastNet(ForecastNetConfig(n_targets=2, horizon=3, hidden_size=4, revin=True, likelihood=likelihood))
        past = torch.randn(5, 10, 2) * 3 + 7
        out = net(past, torch.zeros(5, 3, 0))
        # head and highway start at zero: the forecast is the context mean (for any gamma, beta = 0)
        with torch.no_grad():
            net.revin_weight.fill_(2.5)
        shifted = net(past, torch.zeros(5, 3, 0))
        assert torch.allclose(net.point(out), past.mean(1, keepdim=True).expand(5, 3, 2), atol=1e-5)
        assert torch.allclose(net.point(shifted), net.point(out), atol=1e-5)
        # the normalisation and its inverse are each other's inverse
        loc, scale = net._norm(past)
        z = net._normalise(past, loc[:, None], scale[:, None])
        raw = z[:, :3, :, None].expand(-1, -1, -1, net.config.n_params)
        back = net._denorm(raw, loc, scale)
        assert torch.allclose(back[..., 0], past[:, :3], atol=1e-4)
    # the affine parameters learn
    net = ForecastNet(ForecastNetConfig(n_targets=1, horizon=2, hidden_size=4, revin=True))
    net.loss(net(torch.randn(4, 8, 1), torch.zeros(4, 2, 0)), torch.randn(4, 2, 1)).backward()
    assert net.revin_weight.grad is not None and net.revin_bias.grad is not None
