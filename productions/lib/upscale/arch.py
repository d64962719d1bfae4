"""Real-ESRGAN network architectures on plain torch (no basicsr / realesrgan / torchvision imports).

State-dict keys are those of the official checkpoints, so `load_state_dict(strict=True)` works on the
`.pth` files published by xinntao/Real-ESRGAN:
- `SRVGGNetCompact` (realesrgan/archs/srvgg_arch.py): `realesr-animevideov3` (num_conv=16) and
  `realesr-general-x4v3` (num_conv=32);
- `RRDBNet` (basicsr/archs/rrdbnet_arch.py): `RealESRGAN_x4plus_anime_6B` (num_block=6),
  `RealESRGAN_x4plus` (num_block=23).

Both take N x 3 x H x W in [0, 1] and return N x 3 x sH x sW (not clamped), like upstream.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SRVGGNetCompact(nn.Module):
    """conv + PReLU, num_conv x (conv + PReLU), conv to 3*s*s, PixelShuffle(s), plus nearest-upsampled input.

    Upstream adds `F.interpolate(x, scale_factor=s, mode="nearest")` after the PixelShuffle, at the output
    resolution. Nearest upsampling followed by an add equals adding the input repeated s*s times to the
    3*s*s channels BEFORE the shuffle (channel c*s*s + k lands on sub-pixel k of colour c), which touches
    16x fewer pixels and avoids one full-resolution temporary: same arithmetic, same result.
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_conv: int = 16,
        upscale: int = 4,
    ) -> None:
        super().__init__()
        self.num_in_ch = num_in_ch
        self.num_out_ch = num_out_ch
        self.num_feat = num_feat
        self.num_conv = num_conv
        self.upscale = upscale
        self.body = nn.ModuleList()
        self.body.append(nn.Conv2d(num_in_ch, num_feat, 3, 1, 1))
        self.body.append(nn.PReLU(num_parameters=num_feat))
        for _ in range(num_conv):
            self.body.append(nn.Conv2d(num_feat, num_feat, 3, 1, 1))
            self.body.append(nn.PReLU(num_parameters=num_feat))
        self.body.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.upsampler = nn.PixelShuffle(upscale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        s2 = self.upscale * self.upscale
        if self.num_in_ch == self.num_out_ch:
            # fused nearest-upsample add (see class docstring)
            out = out + x.repeat_interleave(s2, dim=1)
            return self.upsampler(out)
        out = self.upsampler(out)
        return out + F.interpolate(x, scale_factor=self.upscale, mode="nearest")


class ResidualDenseBlock(nn.Module):
    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, num_feat: int, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.rdb3(self.rdb2(self.rdb1(x)))
        return out * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN generator as used by Real-ESRGAN (scale 4; scales 2 and 1 use pixel-unshuffle on input)."""

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        scale: int = 4,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
    ) -> None:
        super().__init__()
        self.scale = scale
        self.upscale = scale
        self.num_block = num_block
        self.num_feat = num_feat
        self.num_grow_ch = num_grow_ch
        if scale == 2:
            num_in_ch = num_in_ch * 4
        elif scale == 1:
            num_in_ch = num_in_ch * 16
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == 2:
            feat = F.pixel_unshuffle(x, 2)
        elif self.scale == 1:
            feat = F.pixel_unshuffle(x, 4)
        else:
            feat = x
        feat = self.conv_first(feat)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


def receptive_radius(model: nn.Module) -> int:
    """Input pixels on each side that influence one output pixel (3x3 convs at input resolution).

    Tiles overlapping by at least this much give the same result as the whole frame (up to float rounding).
    """
    if isinstance(model, SRVGGNetCompact):
        return model.num_conv + 2
    if isinstance(model, RRDBNet):
        # conv_first + 15 convs per RRDB + conv_body at 1x, then 3 convs at 2x/4x (<= 1 input px each)
        return 2 + 15 * model.num_block + 3
    raise TypeError(f"unknown architecture {type(model).__name__}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def nnpack_available() -> bool:
    """torch's bundled NNPACK can run (x86-64 AVX2 / ARM). Calling this also initialises it: without the
    `torch._nnpack_available()` call, `torch._nnpack_spatial_convolution` fails."""
    try:
        return bool(torch._nnpack_available())
    except Exception:
        return False


class NNPACKConv2d(nn.Conv2d):
    """Conv2d whose CPU float32 forward uses NNPACK (Winograd for 3x3) instead of oneDNN.

    torch's own convolution dispatch prefers oneDNN on x86; for this network's 3x3 64->64 convs on an
    AVX2 CPU NNPACK used 14-19% less CPU time per frame than oneDNN with channels_last (bench/RESULTS.md), with
    float error ~3e-5 (irrelevant after rounding to 8 bits). Anything else (CUDA, other dtypes, strides)
    goes through the normal Conv2d path. Same parameters and state-dict keys as nn.Conv2d.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            x.device.type == "cpu"
            and x.dtype == torch.float32
            and self.weight.dtype == torch.float32
            and self.groups == 1
            and self.stride == (1, 1)
            and self.dilation == (1, 1)
            and self.padding_mode == "zeros"
            and isinstance(self.padding, tuple)
            and self.padding[0] < self.kernel_size[0]
            and self.padding[1] < self.kernel_size[1]
        ):
            return torch._nnpack_spatial_convolution(
                x.contiguous(), self.weight, self.bias, list(self.padding), list(self.stride)
            )
        return super().forward(x)


def use_nnpack(model: nn.Module) -> int:
    """Switch every plain nn.Conv2d of `model` to NNPACKConv2d in place; returns how many (0 if unavailable)."""
    if not nnpack_available() or not hasattr(torch, "_nnpack_spatial_convolution"):  # private torch API
        return 0
    count = 0
    for module in model.modules():
        if type(module) is nn.Conv2d:
            module.__class__ = NNPACKConv2d
            count += 1
    return count
