"""Feed-forward blocks: a plain MLP, the IDQL / LBP residual MLP, and a vector-to-tokens projector."""

from __future__ import annotations

import torch
from torch import nn

from foresight.nn.film import FiLM

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "mish": nn.Mish,
    "tanh": nn.Tanh,
}


def make_activation(name: str) -> nn.Module:
    """An activation by config name, so configs stay plain strings."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class MLP(nn.Sequential):
    """``num_layers`` linear layers; every hidden layer is Linear -> [LayerNorm] -> activation -> [Dropout].

    The output layer is a bare Linear so the MLP can end in any range (logits, embeddings, noise).
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        num_layers: int = 2,
        activation: str = "gelu",
        layer_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        if num_layers < 1:
            raise ValueError(f"MLP needs num_layers >= 1, got {num_layers}")
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(num_layers - 1):
            layers.append(nn.Linear(width, hidden_dim))
            if layer_norm:
                layers.append(nn.LayerNorm(hidden_dim))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden_dim
        layers.append(nn.Linear(width, out_dim))
        super().__init__(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim


class ResidualMLPBlock(nn.Module):
    """IDQL's MLPResNet block (Hansen-Estruch et al. 2023), as used by LBP: ``x + W2 act(W1 LN(drop(x))))``.

    With ``cond_dim`` the block's output is FiLM-modulated by a conditioning vector (LBP's ``FilmResNet``
    applies FiLM after every block); FiLM starts as the identity, so conditioning is learned from zero.
    """

    def __init__(
        self,
        dim: int,
        dropout: float = 0.1,
        cond_dim: int | None = None,
        expansion: int = 4,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, dim * expansion)
        self.act = make_activation(activation)
        self.fc2 = nn.Linear(dim * expansion, dim)
        self.film = FiLM(dim, cond_dim) if cond_dim is not None else None

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        out = x + self.fc2(self.act(self.fc1(self.norm(self.dropout(x)))))
        if self.film is not None:
            if cond is None:
                raise ValueError("this ResidualMLPBlock was built with cond_dim, so forward needs cond")
            out = self.film(out, cond)
        return out


class MLPResNet(nn.Module):
    """Linear -> ``num_blocks`` residual MLP blocks -> activation -> Linear (IDQL / LBP noise network trunk)."""

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        num_blocks: int,
        dropout: float = 0.1,
        cond_dim: int | None = None,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        self.cond_dim = cond_dim
        self.in_proj = nn.Linear(in_dim, hidden_dim)
        self.blocks = nn.ModuleList(
            ResidualMLPBlock(hidden_dim, dropout=dropout, cond_dim=cond_dim, activation=activation)
            for _ in range(num_blocks)
        )
        self.act = make_activation(activation)
        self.out_proj = nn.Linear(hidden_dim, out_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.in_proj(x)
        for block in self.blocks:
            h = block(h, cond)
        return self.out_proj(self.act(h))


class VectorToTokens(nn.Module):
    """An MLP that turns one vector into ``num_tokens`` tokens of width ``dim`` (CLaD §5.1: ``f_p``, ``f_s`` are
    MLP encoders tokenised into sequences of length N = 4).

    Each token has its own output slice of the last layer, so tokens differ without positional embeddings.
    Leading dims are kept: ``(..., in_dim) -> (..., num_tokens, dim)``.
    """

    def __init__(
        self,
        in_dim: int,
        num_tokens: int,
        dim: int,
        hidden_dim: int | None = None,
        num_layers: int = 2,
        activation: str = "gelu",
        layer_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_tokens, self.dim = num_tokens, dim
        self.mlp = MLP(
            in_dim,
            hidden_dim if hidden_dim is not None else dim,
            num_tokens * dim,
            num_layers=num_layers,
            activation=activation,
            layer_norm=layer_norm,
            dropout=dropout,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x).unflatten(-1, (self.num_tokens, self.dim))
