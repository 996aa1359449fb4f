"""Fashion-MNIST from Debian's dataset-fashion-mnist (gzipped idx files), as 32x32 images in [-1, 1]."""
import gzip
import os
import struct

import numpy as np
import torch

DATA_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find(name, data_dir):
    for candidate in (name, name + ".gz"):
        p = os.path.join(data_dir, candidate)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{name}(.gz) not found in {data_dir}; install the Debian package dataset-fashion-mnist")


def load_split(split="train", data_dir=DATA_DIR):
    """Returns (images uint8 [N,1,32,32] padded with 0 = background, labels int64 [N])."""
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx(_find(f"{prefix}-images-idx3-ubyte", data_dir))
    labels = _read_idx(_find(f"{prefix}-labels-idx1-ubyte", data_dir))
    # Pad 28 -> 32 with the background value (0, which maps to -1) so the patch grid is 8x8 at patch 4.
    padded = np.zeros((images.shape[0], 1, 32, 32), dtype=np.uint8)
    padded[:, 0, 2:30, 2:30] = images
    return torch.from_numpy(padded), torch.from_numpy(labels.astype(np.int64))


def to_model_range(x_uint8):
    return x_uint8.float() / 127.5 - 1.0
