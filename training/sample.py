"""Look at the model: per-class DDPM samples at several CFG scales -> one PNG grid (rows: CFG x
sample index, columns: the ten classes), plus the classifier's verdict on them if it exists."""
import argparse
import os

import numpy as np
import torch

from diffusion import SpacedDiffusion
from dit import load_model
from tensorio import grid, read_safetensors, write_png


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights", default="runs/fmnist/last.pt", help="training checkpoint (EMA used) or exported .safetensors")
    p.add_argument("--cfg", default="1,4,10")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--per-class", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=int, default=3, help="nearest-neighbour upscaling of the PNG")
    p.add_argument("--out", default="runs/samples.png")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.weights)
    diffusion = SpacedDiffusion(args.steps)
    classifier = None
    cls_path = "../assets/fashion-mnist/classifier.safetensors"
    if os.path.exists(cls_path):
        from classifier import Classifier
        classifier = Classifier()
        classifier.load_state_dict(read_safetensors(cls_path))
        classifier.eval()

    labels = [c for _ in range(args.per_class) for c in range(10)]
    n = len(labels)
    rows = []
    for cfg in [float(s) for s in args.cfg.split(",")]:
        torch.manual_seed(args.seed)  # same noise for every CFG scale, so only guidance differs
        z = torch.randn(n, 1, 32, 32)
        zz = torch.cat([z, z], 0)
        yy = torch.tensor(labels + [10] * n)
        with torch.no_grad():
            s = diffusion.p_sample_loop(model.forward_with_cfg, zz.shape, dict(y=yy, cfg_scale=cfg), noise=zz)[:n]
        rows.append(s)
        msg = f"cfg {cfg:g}: pixel mean {s.mean():.3f} std {s.std():.3f}"
        if classifier is not None:
            with torch.no_grad():
                probs = classifier(s.clamp(-1, 1)).softmax(1)
            hit = (probs.argmax(1) == torch.tensor(labels)).float().mean().item()
            conf = probs[torch.arange(n), torch.tensor(labels)].mean().item()
            msg += f"; classifier agrees {hit:.2f}, mean p(label) {conf:.2f}"
        print(msg, flush=True)
    img = grid(torch.cat(rows, 0), nrow=10)
    img = np.kron(img, np.ones((args.scale, args.scale), dtype=np.uint8))
    write_png(args.out, img)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
