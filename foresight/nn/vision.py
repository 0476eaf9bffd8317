"""Image encoders trained from scratch with the policy: the GroupNorm ResNet-18 of Diffusion Policy (Chi et
al. 2023, §3.3: BatchNorm replaced by GroupNorm, spatial-softmax pooling), and the image plumbing around it."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POOLS = ("spatial_softmax", "avg")


def imagenet_normalize(images: torch.Tensor) -> torch.Tensor:
    """``(..., 3, H, W)`` uint8 in [0, 255] -> float32, scaled to [0, 1] and ImageNet-standardised."""
    if images.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images in [0, 255], got {images.dtype}")
    mean = images.new_tensor(IMAGENET_MEAN, dtype=torch.float32).view(3, 1, 1)
    std = images.new_tensor(IMAGENET_STD, dtype=torch.float32).view(3, 1, 1)
    return (images.float() / 255.0 - mean) / std


def group_norm(channels: int) -> nn.GroupNorm:
    """16 channels per group, as Chi et al.'s ``replace_bn_with_gn`` (at least one group for narrow nets)."""
    return nn.GroupNorm(max(1, channels // 16), channels)


class ResNetTrunk(nn.Module):
    """ResNet-18's convolutional trunk (torchvision ``BasicBlock`` layers 2-2-2-2) with GroupNorm.

    ``width`` is the stem width (64 in ResNet-18; the stages are ``width x (1, 2, 4, 8)``); smaller widths give
    a proportionally narrower net for tests and tiny runs. Parameter names follow torchvision's, so at
    ``width=64`` the state dict matches ``torchvision.models.resnet18(norm_layer=...)`` without its ``fc``.
    """

    def __init__(self, width: int = 64, layers: tuple[int, ...] = (2, 2, 2, 2)) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = group_norm(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = width
        for i, num_blocks in enumerate(layers):
            planes, stride = width * 2**i, 1 if i == 0 else 2
            downsample = None
            if stride != 1 or inplanes != planes:
                downsample = nn.Sequential(
                    nn.Conv2d(inplanes, planes, kernel_size=1, stride=stride, bias=False), group_norm(planes)
                )
            blocks = [BasicBlock(inplanes, planes, stride, downsample, norm_layer=group_norm)]
            blocks += [BasicBlock(planes, planes, norm_layer=group_norm) for _ in range(num_blocks - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            inplanes = planes
        self.num_stages = len(layers)
        self.out_channels = inplanes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return x


class SpatialSoftmax(nn.Module):
    """Keypoints from a feature map (Levine et al. 2016; robomimic, Diffusion Policy): a 1x1 conv to
    ``num_keypoints`` maps, a softmax over positions, and each map's expected ``(x, y)`` in [-1, 1].

    Output ``(N, 2 * num_keypoints)`` ordered ``x0, y0, x1, y1, ...``. Works at any feature-map size.
    """

    def __init__(self, in_channels: int, num_keypoints: int = 32) -> None:
        super().__init__()
        self.keypoints = nn.Conv2d(in_channels, num_keypoints, kernel_size=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        maps = self.keypoints(features)
        height, width = maps.shape[-2:]
        attention = maps.flatten(2).softmax(dim=-1).view_as(maps)
        xs = torch.linspace(-1.0, 1.0, width, device=maps.device, dtype=attention.dtype)
        ys = torch.linspace(-1.0, 1.0, height, device=maps.device, dtype=attention.dtype)
        expected_x = (attention.sum(dim=-2) * xs).sum(dim=-1)
        expected_y = (attention.sum(dim=-1) * ys).sum(dim=-1)
        return torch.stack([expected_x, expected_y], dim=-1).flatten(1)


class ResNetImageEncoder(nn.Module):
    """Normalised images ``(N, 3, H, W)`` -> ``(N, out_dim)``: GroupNorm ResNet-18 trunk, pooling, Linear.

    ``pool="spatial_softmax"`` is Diffusion Policy's choice (32 keypoints, robomimic ``VisualCore`` with a
    64-d projection); ``"avg"`` is plain global average pooling.
    """

    def __init__(self, out_dim: int, width: int = 64, pool: str = "spatial_softmax", num_keypoints: int = 32) -> None:
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"image pool {pool!r}: expected one of {POOLS}")
        self.trunk = ResNetTrunk(width)
        if pool == "spatial_softmax":
            self.pool: nn.Module = SpatialSoftmax(self.trunk.out_channels, num_keypoints)
            pooled_dim = 2 * num_keypoints
        else:
            self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            pooled_dim = self.trunk.out_channels
        self.proj = nn.Linear(pooled_dim, out_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(self.pool(self.trunk(images)))
