import pytest
import torch

from foresight.nn import MLP, MLPResNet, ResidualMLPBlock, VectorToTokens


def test_mlp_layout_and_values():
    torch.manual_seed(0)
    mlp = MLP(3, 8, 2, num_layers=2, activation="relu", layer_norm=True)
    x = torch.randn(5, 3)
    lin1, norm, _, lin2 = mlp
    expected = lin2(torch.relu(torch.nn.functional.layer_norm(lin1(x), (8,), norm.weight, norm.bias)))
    torch.testing.assert_close(mlp(x), expected)
    assert len(MLP(3, 8, 2, num_layers=1)) == 1


def test_mlp_errors():
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        MLP(3, 8, 2, activation="swishy")
    with pytest.raises(ValueError, match="num_layers >= 1"):
        MLP(3, 8, 2, num_layers=0)


def test_residual_block_formula():
    torch.manual_seed(0)
    block = ResidualMLPBlock(4, dropout=0.0).eval()
    x = torch.randn(3, 4)
    h = torch.nn.functional.layer_norm(x, (4,), block.norm.weight, block.norm.bias)
    expected = x + block.fc2(torch.nn.functional.gelu(block.fc1(h)))
    torch.testing.assert_close(block(x), expected)


def test_resnet_film_conditioning_starts_neutral_and_requires_cond():
    torch.manual_seed(0)
    plain = MLPResNet(5, 16, 3, num_blocks=2, dropout=0.0)
    film = MLPResNet(5, 16, 3, num_blocks=2, dropout=0.0, cond_dim=4)
    film.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(2, 5)
    torch.testing.assert_close(film(x, torch.randn(2, 4)), plain(x))
    with pytest.raises(ValueError, match="needs cond"):
        film(x)


def test_vector_to_tokens_slices_the_last_layer():
    torch.manual_seed(0)
    tok = VectorToTokens(6, num_tokens=4, dim=3, hidden_dim=8)
    x = torch.randn(2, 7, 6)
    out = tok(x)
    assert out.shape == (2, 7, 4, 3)
    torch.testing.assert_close(out.reshape(2, 7, 12), tok.mlp(x))
    assert not torch.allclose(out[..., 0, :], out[..., 1, :])
