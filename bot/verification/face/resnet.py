"""dlib's face recognition ResNet, run by onnxruntime instead of dlib.

Why: dlib's wheel (``dlib-bin``) is built without BLAS, so one 150x150 chip costs ~75 ms of CPU; the
encodings were 40 % of a video note's decision. The network is small (29 convolutions, ~0.6 GFLOP),
and onnxruntime's convolutions run it several times faster.

Same model, same numbers: the weights are read at load time from the very file dlib loads (the pinned
``face_recognition_models`` wheel, public domain; its SHA-256 is in MODELS.md) and the ONNX graph is
built in memory from them -- no converted model file is shipped and nothing is downloaded. The
encodings agree with dlib's ``compute_face_descriptor`` to ~1e-6 (tests/unit/verification/
test_face_resnet.py), so every stored encoding (portraits, live faces, the face index, pauses) stays
comparable: no migration.

The file layout read here is dlib's ``serialize`` of its ``anet_type`` (dlib's
dnn_face_recognition_ex): a stack of ``add_layer`` versions, the input layer, then each layer's
details bottom-up. Tensors are stored as raw little-endian float32; integers and scalars in dlib's
variable-length encoding. Only the layer kinds this network holds are understood; anything else
raises, so a different file can never be half-read.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["ResNetEncoder", "build_onnx", "load_encoder", "parse_dlib_resnet"]

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]

CHIP_SIDE = 150
CHIP_PADDING = 0.25  # what dlib's compute_face_descriptor uses for its chip


class DlibFormatError(ValueError):
    pass


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read_byte(self) -> int:
        if self.pos >= len(self.data):
            raise DlibFormatError("unexpected end of the model file")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def read_int(self) -> int:
        # dlib's integer: one byte holding the length (low nibble) and the sign (0x80), then the
        # magnitude little-endian in that many bytes
        head = self.read_byte()
        n = head & 0x0F
        value = int.from_bytes(self.data[self.pos : self.pos + n], "little")
        self.pos += n
        return -value if head & 0x80 else value

    def read_float(self) -> float:
        mantissa, exponent = self.read_int(), self.read_int()
        return float(np.ldexp(float(mantissa), exponent)) if abs(exponent) < 10000 else float("nan")

    def read_str(self) -> str:
        n = self.read_int()
        s = self.data[self.pos : self.pos + n].decode("latin-1")
        self.pos += n
        return s

    def read_bool(self) -> bool:
        c = self.read_byte()
        if c not in (ord("0"), ord("1")):
            raise DlibFormatError("bad boolean in the model file")
        return c == ord("1")

    def read_tensor(self) -> F32:
        if self.read_int() != 2:
            raise DlibFormatError("unknown tensor version")
        shape = [self.read_int() for _ in range(4)]
        n = int(np.prod(shape))
        if n < 0 or self.pos + 4 * n > len(self.data):
            raise DlibFormatError("unexpected end of the model file")
        out = np.frombuffer(self.data, "<f4", n, self.pos).astype(np.float32)
        self.pos += 4 * n
        return out

    def read_alias(self) -> tuple[int, ...]:
        return tuple(self.read_int() for _ in range(5))

    def expect(self, value: int, what: str) -> None:
        if self.read_int() != value:
            raise DlibFormatError(f"unexpected {what}")


@dataclass(frozen=True)
class Conv:
    weight: F32  # (out, in, kh, kw), the affine layer after it folded in
    bias: F32
    stride: int
    padding: int


@dataclass(frozen=True)
class Block:
    """relu(conv2(relu(conv1(x))) + skip): skip is x, or x average-pooled 2x2/2 when conv1 strides."""

    conv1: Conv
    conv2: Conv
    down: bool


@dataclass(frozen=True)
class ResNet:
    mean_rgb: tuple[float, float, float]
    stem: Conv  # then relu and a 3x3/2 max pool
    blocks: tuple[Block, ...]
    fc: F32  # (256, 128), no bias


def parse_dlib_resnet(data: bytes) -> ResNet:
    r = _Reader(data)
    r.expect(1, "loss version")
    if r.read_str() != "loss_metric_2":
        raise DlibFormatError("not a dlib metric-learning network")
    r.read_float(), r.read_float()  # margin, distance threshold (training only)
    # the add_layer / tag / skip versions of every layer, top to bottom, then the input layer (v3)
    while r.read_int() != 3:
        pass
    if r.read_str() != "input_rgb_image_sized":
        raise DlibFormatError("unexpected input layer")
    mean = (r.read_float(), r.read_float(), r.read_float())
    if (r.read_int(), r.read_int()) != (CHIP_SIDE, CHIP_SIDE):
        raise DlibFormatError("unexpected input size")
    layers: list[tuple[Any, ...]] = []
    first = True
    while True:
        name = r.read_str()
        if name == "con_4":
            p = r.read_tensor()
            n_out, kh, kw, sy, sx, py, px = (r.read_int() for _ in range(7))
            fa, _ = r.read_alias(), r.read_alias()
            for _ in range(4):
                r.read_float()  # learning-rate and weight-decay multipliers
            n_in = fa[2]
            if (sy, py) != (sx, px) or kh != kw:
                raise DlibFormatError("unexpected convolution")
            w = p[: n_out * n_in * kh * kw].reshape(n_out, n_in, kh, kw)
            layers.append(("con", w, p[n_out * n_in * kh * kw :], sy, py))
        elif name == "affine_":
            p = r.read_tensor()
            r.read_alias(), r.read_alias(), r.read_int()
            half = p.size // 2
            layers.append(("affine", p[:half], p[half:]))
        elif name in ("relu_", "add_prev_"):
            layers.append((name,))
        elif name in ("max_pool_2", "avg_pool_2"):
            layers.append((name, tuple(r.read_int() for _ in range(6))))
        elif name == "fc_2":
            n_out, n_in = r.read_int(), r.read_int()
            p = r.read_tensor()
            fc = p[: n_in * n_out].reshape(n_in, n_out)
            break
        else:
            raise DlibFormatError(f"unknown layer {name!r}")
        # add_layer's own state after the details: three flags, three (empty) tensors; the bottom
        # layer also stores its sample expansion factor
        for _ in range(3):
            r.read_bool()
        for _ in range(3):
            r.read_tensor()
        if first:
            r.read_int()
            first = False
    return _assemble(mean, layers, fc)


def _fold(con: tuple[Any, ...], aff: tuple[Any, ...]) -> Conv:
    _, w, b, stride, pad = con
    _, gamma, beta = aff
    weight = (w * gamma[:, None, None, None]).astype(np.float32)
    return Conv(weight, (b * gamma + beta).astype(np.float32), int(stride), int(pad))


def _assemble(mean: tuple[float, float, float], layers: list[tuple[Any, ...]], fc: F32) -> ResNet:
    kinds = [x[0] for x in layers]
    if kinds[:4] != ["con", "affine", "relu_", "max_pool_2"] or layers[3][1] != (3, 3, 2, 2, 0, 0):
        raise DlibFormatError("unexpected stem")
    stem = _fold(layers[0], layers[1])
    blocks: list[Block] = []
    i = 4
    while kinds[i] == "con":
        if kinds[i : i + 5] != ["con", "affine", "relu_", "con", "affine"]:
            raise DlibFormatError("unexpected residual block")
        c1, c2 = _fold(layers[i], layers[i + 1]), _fold(layers[i + 3], layers[i + 4])
        i += 5
        down = kinds[i] == "avg_pool_2"
        if down:
            if layers[i][1] != (2, 2, 2, 2, 0, 0):
                raise DlibFormatError("unexpected pooling")
            i += 1
        if kinds[i : i + 2] != ["add_prev_", "relu_"]:
            raise DlibFormatError("unexpected residual join")
        i += 2
        blocks.append(Block(c1, c2, down))
    if kinds[i:] != ["avg_pool_2"] or layers[i][1][:2] != (0, 0):
        raise DlibFormatError("unexpected head")
    return ResNet(mean, stem, tuple(blocks), fc.astype(np.float32))


# --- a minimal ONNX writer (protobuf wire format; the onnx package is not a dependency) ------------


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return _varint(num << 3) + _varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return _varint((num << 3) | 2) + _varint(len(raw)) + raw


def _tensor(name: str, array: npt.NDArray[Any]) -> bytes:
    dtype = {np.dtype(np.float32): 1, np.dtype(np.int64): 7}[array.dtype]
    body = b"".join(_field(1, int(d)) for d in array.shape)
    raw = np.ascontiguousarray(array, array.dtype.newbyteorder("<")).tobytes()
    return body + _field(2, dtype) + _field(8, name) + _field(9, raw)


def _attr_int(name: str, value: int) -> bytes:
    return _field(5, _field(1, name) + _field(3, value) + _field(20, 2))


def _attr_ints(name: str, values: Sequence[int]) -> bytes:
    return _field(5, _field(1, name) + b"".join(_field(8, v) for v in values) + _field(20, 7))


def _node(op: str, inputs: Sequence[str], outputs: Sequence[str], attrs: bytes = b"") -> bytes:
    body = b"".join(_field(1, x) for x in inputs) + b"".join(_field(2, x) for x in outputs)
    return _field(1, body + _field(4, op) + attrs)


def _value_info(name: str, dims: Sequence[int | str]) -> bytes:
    shape = b"".join(_field(1, _field(1, d) if isinstance(d, int) else _field(2, d)) for d in dims)
    return _field(1, name) + _field(2, _field(1, _field(1, 1) + _field(2, shape)))


def build_onnx(net: ResNet) -> bytes:
    """The network as an ONNX model (opset 13): input ``chips`` (N, 3, 150, 150), already normalised
    as dlib does ((rgb - mean) / 256); output ``encodings`` (N, 128)."""
    nodes: list[bytes] = []
    inits: list[bytes] = []
    counter = iter(range(10**6))

    def conv(x: str, c: Conv) -> str:
        k = next(counter)
        inits.append(_tensor(f"w{k}", c.weight))
        inits.append(_tensor(f"b{k}", c.bias))
        kh = c.weight.shape[2]
        attrs = _attr_ints("kernel_shape", [kh, kh]) + _attr_ints("strides", [c.stride, c.stride])
        attrs += _attr_ints("pads", [c.padding] * 4)
        nodes.append(_node("Conv", [x, f"w{k}", f"b{k}"], [f"c{k}"], attrs))
        return f"c{k}"

    def op(kind: str, inputs: Sequence[str], attrs: bytes = b"") -> str:
        out = f"t{next(counter)}"
        nodes.append(_node(kind, inputs, [out], attrs))
        return out

    def pad(x: str, pads: Sequence[int]) -> str:
        name = f"p{next(counter)}"
        inits.append(_tensor(name, np.array(pads, np.int64)))
        return op("Pad", [x, name])

    def pool(x: str, kind: str, k: int, s: int) -> str:
        return op(kind, [x], _attr_ints("kernel_shape", [k, k]) + _attr_ints("strides", [s, s]))

    x = op("Relu", [conv("chips", net.stem)])
    x = pool(x, "MaxPool", 3, 2)
    side, channels = _out(_out(CHIP_SIDE, 7, 2, 0), 3, 2, 0), net.stem.weight.shape[0]
    for block in net.blocks:
        y = conv(op("Relu", [conv(x, block.conv1)]), block.conv2)
        y_side = _out(side, 3, block.conv1.stride, block.conv1.padding)
        skip, skip_side = x, side
        if block.down:
            skip, skip_side = pool(x, "AveragePool", 2, 2), _out(side, 2, 2, 0)
        # dlib's add_prev adds tensors of different sizes as if both were zero-padded to the larger
        # (more channels on the block's side, one more row and column on the pooled side here)
        out_c = block.conv2.weight.shape[0]
        big = max(y_side, skip_side)
        if out_c > channels:
            skip = pad(skip, [0, 0, 0, 0, 0, out_c - channels, 0, 0])
        if big > skip_side:
            skip = pad(skip, [0, 0, 0, 0, 0, 0, big - skip_side, big - skip_side])
        if big > y_side:
            y = pad(y, [0, 0, 0, 0, 0, 0, big - y_side, big - y_side])
        x = op("Relu", [op("Add", [y, skip])])
        side, channels = big, max(out_c, channels)
    x = op("Flatten", [op("GlobalAveragePool", [x])], _attr_int("axis", 1))
    inits.append(_tensor("fc", net.fc))
    nodes.append(_node("MatMul", [x, "fc"], ["encodings"]))
    # joined once each (the weights are 22 MB: every concatenation would copy them again)
    graph = b"".join(
        [
            *nodes,
            _field(2, "dlib_face_recognition_resnet_model_v1"),
            *(_field(5, t) for t in inits),
            _field(11, _value_info("chips", ["N", 3, CHIP_SIDE, CHIP_SIDE])),
            _field(12, _value_info("encodings", ["N", net.fc.shape[1]])),
        ]
    )
    head = _field(1, 8) + _field(2, "bot.verification.face.resnet")
    opset = _field(8, _field(1, "") + _field(2, 13))
    return b"".join([head, _varint((7 << 3) | 2), _varint(len(graph)), graph, opset])


def _release_freed_memory() -> None:
    """Hand the load's freed buffers back to the system (glibc keeps them otherwise: ~90 MB of a
    worker's resident memory would be the file, the parsed arrays and the ONNX bytes, all dead)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _out(side: int, k: int, s: int, p: int) -> int:
    return 1 + (side + 2 * p - k) // s


class ResNetEncoder:
    """128-d encodings of 150x150 RGB chips (as dlib.get_face_chip cuts them)."""

    def __init__(self, dat_file: Path) -> None:
        import onnxruntime as ort

        net = parse_dlib_resnet(dat_file.read_bytes())
        model = build_onnx(net)
        self._mean = np.array(net.mean_rgb, np.float32)
        opts = ort.SessionOptions()
        # one thread: the verification pool already runs one worker per core
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        del net, model
        _release_freed_memory()

    def encode(self, chips: Sequence[U8]) -> npt.NDArray[np.float64]:
        if not chips:
            return np.zeros((0, 128), np.float64)
        batch = np.stack([np.asarray(c, np.float32) for c in chips])
        x = ((batch - self._mean) / np.float32(256.0)).transpose(0, 3, 1, 2)
        out = self._session.run(["encodings"], {"chips": np.ascontiguousarray(x)})[0]
        return np.asarray(out, np.float64)


@functools.cache
def load_encoder() -> ResNetEncoder:
    import face_recognition_models as frm  # lazily: it prints a deprecation warning on import

    return ResNetEncoder(Path(frm.face_recognition_model_location()))
