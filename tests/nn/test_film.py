import pytest
import torch

from foresight.nn import FiLM


def test_identity_at_init():
    torch.manual_seed(0)
    film = FiLM(6, 3)
    x = torch.randn(4, 6)
    assert torch.equal(film(x, torch.randn(4, 3)), x)
    tokens = torch.randn(4, 5, 6)
    assert torch.equal(film(tokens, torch.randn(4, 3)), tokens)


def test_exact_affine_formula_and_broadcast():
    torch.manual_seed(0)
    film = FiLM(6, 3, hidden_dim=8)
    torch.nn.init.normal_(film.fc2.weight)
    torch.nn.init.normal_(film.fc2.bias)
    cond = torch.randn(2, 3)
    x = torch.randn(2, 5, 6)
    hidden = torch.nn.functional.gelu(cond @ film.fc1.weight.T + film.fc1.bias)
    gb = hidden @ film.fc2.weight.T + film.fc2.bias
    gamma, beta = gb[:, :6], gb[:, 6:]
    expected = x * (1 + gamma[:, None]) + beta[:, None]
    torch.testing.assert_close(film(x, cond), expected)
    # one condition per token gives the same answer as the broadcast one
    per_token = cond[:, None].expand(2, 5, 3)
    torch.testing.assert_close(film(x, per_token), expected)
    torch.testing.assert_close(film(x[:, 0], cond), expected[:, 0])


def test_bad_shapes_are_named():
    film = FiLM(6, 3)
    with pytest.raises(ValueError, match="cond_dim=3"):
        film(torch.randn(2, 6), torch.randn(2, 4))
    with pytest.raises(ValueError, match="leading dims"):
        film(torch.randn(2, 5, 6), torch.randn(2, 4, 3))
