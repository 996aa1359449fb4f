"""Minimal writers/readers: safetensors (no pip package here), .npy via numpy, grayscale/RGB PNG via zlib."""
import json
import struct
import zlib

import numpy as np
import torch

_DTYPES = {torch.float16: ("F16", np.float16), torch.float32: ("F32", np.float32), torch.int64: ("I64", np.int64), torch.int8: ("I8", np.int8)}
# An int8 tensor NAME holds weights quantized per row (dim 0): value = code * NAME + SCALE_SUFFIX[row]
# (the compressed-tensors naming, x.weight / x.weight_scale). The TypeScript reader
# (src/checkpoint/safetensors.ts) and read_safetensors below give the float tensor under NAME.
SCALE_SUFFIX = "_scale"
Q8_MAX = 127


def quantize_rows_q8(tensors):
    """{name: fp16 or float tensor} -> the same with every linear weight (2-D, `.weight`, not an
    embedding table) as symmetric int8 codes per output row plus an fp16 scale per row [rows, 1]:
    scale = max|row| / 127 (rounded to fp16), code = round-half-even(w / scale) clamped to +-127.
    Everything else is fp16. The DiT's linear weights are 97 % of its parameters."""
    out = {}
    for name, t in tensors.items():
        if t.ndim == 2 and name.endswith(".weight") and "embedding_table" not in name:
            w = t.float()
            scale = (w.abs().amax(dim=1, keepdim=True) / Q8_MAX).half()
            scale[scale == 0] = 1
            out[name] = torch.round(w / scale.float()).clamp(-Q8_MAX, Q8_MAX).to(torch.int8)
            out[name + SCALE_SUFFIX] = scale
        else:
            out[name] = t.half()
    return out


def write_safetensors(path, tensors, metadata=None):
    """tensors: ordered {name: torch.Tensor}. Layout: u64 LE header length, JSON header, raw LE data."""
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        code, np_dtype = _DTYPES[t.dtype]
        data = t.detach().cpu().contiguous().numpy().astype(np.dtype(np_dtype).newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def read_safetensors_metadata(path):
    """The __metadata__ strings of a safetensors file ({} when it has none)."""
    with open(path, "rb") as f:
        n, = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)).get("__metadata__", {})


def read_safetensors(path):
    """{name: tensor}; int8 rows come back as float32 code * scale (their scale tensors are not listed)."""
    inv = {"F16": np.float16, "F32": np.float32, "I64": np.int64, "I8": np.int8}
    with open(path, "rb") as f:
        n, = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=np.dtype(inv[info["dtype"]]).newbyteorder("<")).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    for name in [n for n, t in out.items() if t.dtype == torch.int8]:
        scale = out.pop(name + SCALE_SUFFIX, None)
        if scale is None or scale.shape[0] != out[name].shape[0] or scale.numel() != out[name].shape[0]:
            raise ValueError(f"{path}: int8 tensor {name} needs one float scale per row in {name + SCALE_SUFFIX}")
        rows = out[name].shape[0]
        out[name] = (out[name].float().reshape(rows, -1) * scale.float().reshape(rows, 1)).reshape(out[name].shape)
    return out


def save_npy(path, array):
    np.save(path, np.ascontiguousarray(array))


def write_png(path, img_uint8):
    """img: [H, W] (grayscale) or [H, W, 3] uint8."""
    img = np.ascontiguousarray(img_uint8, dtype=np.uint8)
    h, w = img.shape[:2]
    color_type = 0 if img.ndim == 2 else 2
    rows = img.reshape(h, -1)
    raw = b"".join(b"\x00" + rows[i].tobytes() for i in range(h))

    def chunk(tag, payload):
        return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def to_uint8(x):
    """Images in [-1, 1] to 8 bits as torchvision's save_image(normalize=True, value_range=(-1, 1))
    and dit-ts write them: clamp, (x + 1) / 2, * 255 + 0.5, truncate."""
    return ((x.clamp(-1, 1) + 1) / 2 * 255 + 0.5).clamp(0, 255).to(torch.uint8)


def grid(images, nrow, padding=2, pad_value=0):
    """torchvision make_grid layout for [N, 1, H, W] images in [-1, 1] -> uint8 [H', W']."""
    x = to_uint8(images).numpy()[:, 0]
    n, h, w = x.shape
    cols = min(nrow, n)
    rows = (n + cols - 1) // cols
    canvas = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding), pad_value, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        canvas[r * (h + padding) + padding : r * (h + padding) + padding + h, c * (w + padding) + padding : c * (w + padding) + padding + w] = x[i]
    return canvas
