"""A small Fashion-MNIST classifier for measuring class adherence of samples (issue 7).

Only Conv2d(3x3, padding 1, stride 1|2, bias) + ReLU, global average pooling and one Linear, so the
TypeScript side can rebuild it as an ONNX graph from classifier.json and the weights with a handful
of ops. Inputs are the DiT's own space: 1x32x32 in [-1, 1], 28->32 padded with -1.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from fmnist import CLASSES, load_split, to_model_range
from tensorio import read_safetensors, save_npy, write_safetensors

# (in_channels, out_channels, stride); each conv is followed by ReLU.
LAYERS = [(1, 32, 1), (32, 64, 2), (64, 128, 2), (128, 128, 2), (128, 128, 1)]


class Classifier(nn.Module):
    def __init__(self, layers=LAYERS, num_classes=10):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(i, o, 3, stride=s, padding=1, bias=True) for i, o, s in layers])
        self.fc = nn.Linear(layers[-1][1], num_classes)

    def forward(self, x):
        for conv in self.convs:
            x = F.relu(conv(x))
        return self.fc(x.mean(dim=(2, 3)))


@torch.no_grad()
def accuracy(model, images, labels, batch=1000):
    model.eval()
    correct = 0
    for i in range(0, len(images), batch):
        logits = model(to_model_range(images[i : i + batch]))
        correct += (logits.argmax(1) == labels[i : i + batch]).sum().item()
    return correct / len(images)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="../assets/fashion-mnist")
    args = p.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    xtr, ytr = load_split("train")
    xte, yte = load_split("test")
    model = Classifier()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = len(xtr) // args.batch_size
    total = steps_per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=total)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        run = 0.0
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size : (b + 1) * args.batch_size]
            x = to_model_range(xtr[idx])
            # Random shifts of up to 2 px stay inside the padded border and make the classifier less
            # sensitive to the exact placement of generated garments.
            dx, dy = np.random.randint(-2, 3, size=2)
            x = torch.roll(x, shifts=(int(dy), int(dx)), dims=(2, 3))
            loss = F.cross_entropy(model(x), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            run += loss.item()
            if (b + 1) % 100 == 0:
                print(f"epoch {epoch} step {b+1} loss {run/100:.4f} wall {(time.time()-t0)/60:.1f}min", flush=True)
                run = 0.0
        acc = accuracy(model, xte, yte)
        print(f"epoch {epoch} test accuracy {acc:.4f} wall {(time.time()-t0)/60:.1f}min", flush=True)

    os.makedirs(os.path.join(args.out, "reference"), exist_ok=True)
    st_path = os.path.join(args.out, "classifier.safetensors")
    write_safetensors(st_path, {k: v.float() for k, v in model.state_dict().items()}, {"source": "training/classifier.py"})

    # Accuracy and the reference are measured on the float32 weights as written to the file.
    model = Classifier()
    model.load_state_dict(read_safetensors(st_path))
    model.eval()
    acc = accuracy(model, xte, yte)
    spec = {
        "input": {"shape": [1, 32, 32], "range": [-1, 1], "padding": "28→32, background −1"},
        "layers": [
            *[{"kind": "conv2d", "in_channels": i, "out_channels": o, "kernel_size": 3, "stride": s, "padding": 1,
               "activation": "relu", "weight": f"convs.{k}.weight", "bias": f"convs.{k}.bias"}
              for k, (i, o, s) in enumerate(LAYERS)],
            {"kind": "global_avg_pool"},
            {"kind": "linear", "in_features": LAYERS[-1][1], "out_features": 10, "weight": "fc.weight", "bias": "fc.bias"},
        ],
        "output": "logits over classes.json order",
        "classes": CLASSES,
        "test_accuracy": round(acc, 4),
        "test_set": "Fashion-MNIST t10k (10000 images)",
        "train": {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
                  "wall_minutes": round((time.time() - t0) / 60, 1)},
    }
    with open(os.path.join(args.out, "classifier.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1, ensure_ascii=False)
        f.write("\n")

    ref = os.path.join(args.out, "reference")
    x = to_model_range(xte[:8])
    with torch.no_grad():
        logits = model(x)
    save_npy(os.path.join(ref, "classifier.x.npy"), x.numpy().astype(np.float32))
    save_npy(os.path.join(ref, "classifier.logits.npy"), logits.numpy().astype(np.float32))
    manifest_path = os.path.join(ref, "manifest.json")
    manifest = json.load(open(manifest_path)) if os.path.exists(manifest_path) else {}
    manifest["classifier"] = {"weights": "../classifier.safetensors (float32)", "x": "classifier.x.npy",
                              "logits": "classifier.logits.npy", "labels": yte[:8].tolist(),
                              "note": "first 8 t10k test images, padded and mapped to [-1, 1]"}
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"test accuracy {acc:.4f}; wrote {st_path}, classifier.json, reference", flush=True)


if __name__ == "__main__":
    main()
