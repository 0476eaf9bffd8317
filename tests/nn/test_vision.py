import pytest
import torch
import torchvision

from foresight.nn import ResNetImageEncoder, ResNetTrunk, SpatialSoftmax, imagenet_normalize
from foresight.nn.vision import group_norm


def test_trunk_is_resnet18_with_group_norm():
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None, norm_layer=group_norm).eval()
    trunk = ResNetTrunk(64).eval()
    state = {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    trunk.load_state_dict(state)  # strict: identical layout and names
    x = torch.randn(1, 3, 64, 64)
    body = torch.nn.Sequential(*list(reference.children())[:-2])
    torch.testing.assert_close(trunk(x), body(x))
    assert trunk.out_channels == 512
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in trunk.modules())


def test_narrow_trunk_shapes():
    trunk = ResNetTrunk(8)
    assert trunk(torch.randn(2, 3, 64, 64)).shape == (2, 64, 2, 2)


def test_spatial_softmax_finds_a_peak():
    ss = SpatialSoftmax(1, num_keypoints=1)
    with torch.no_grad():
        ss.keypoints.weight.fill_(1.0)
        ss.keypoints.bias.zero_()
    features = torch.zeros(1, 1, 5, 9)
    features[0, 0, 4, 2] = 100.0  # row 4 of 5 -> y = 1; column 2 of 9 -> x = -0.5
    torch.testing.assert_close(ss(features), torch.tensor([[-0.5, 1.0]]))
    torch.testing.assert_close(ss(torch.zeros(1, 1, 5, 9)), torch.zeros(1, 2))  # uniform -> centre


def test_imagenet_normalize_values_and_type_error():
    images = torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 3, 1, 1)
    out = imagenet_normalize(images)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(out[0, :, 0, 0], -mean / std)
    torch.testing.assert_close(out[1, :, 0, 0], (1 - mean) / std)
    with pytest.raises(TypeError, match="uint8"):
        imagenet_normalize(images.float())


def test_image_encoder_pools():
    x = torch.randn(2, 3, 32, 32)
    assert ResNetImageEncoder(16, width=8)(x).shape == (2, 16)
    assert ResNetImageEncoder(16, width=8, pool="avg")(x).shape == (2, 16)
    with pytest.raises(ValueError, match="image pool 'max'"):
        ResNetImageEncoder(16, pool="max")
