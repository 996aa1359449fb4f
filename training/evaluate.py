"""Score embedded-model candidates the way dit-ts does (src/sweep/quality.ts): the Fréchet distance
between the shipped classifier's penultimate features of generated images and of the Fashion-MNIST
test set (assets/fashion-mnist/fd-reference.json), precision and recall (k-NN balls on the same
features), class accuracy and mean p(label), overall and per class, for each guidance scale and
sampler asked.

Every candidate gets the same noise (one seeded generator per scale and sampler), the same
balanced labels (image i has label i % 10) and 8-bit images as `dit` writes them (torchvision's
save_image rounding), so rows of one run compare like for like. The numbers are for choosing a
recipe; the README's figures come from `bench/generate-fd.ts` (TypeScript, the shipped weights).

  python3 evaluate.py --model shipped=../assets/fashion-mnist/model.safetensors \\
      --model new=runs/p2/last.pt --cfg 1,1.5,2,3,4 --sampler ddpm:100,ddim:25 --num-samples 2000 \\
      --json runs/eval.json --sheet runs/eval.png

A --model value is NAME=PATH or NAME=PATH@KEY: an extra EMA that train.py kept (a decay or sigma:S), or
@model for the trained weights themselves (no average; the end point of a --cooldown).
"""
import argparse
import json
import os
import time

import numpy as np
import torch

from classifier import Classifier
from diffusion import SpacedDiffusion
from dit import load_model
from fd_reference import features_and_logits, frechet, stats
from fmnist import CLASSES
from tensorio import grid, read_safetensors, to_uint8, write_png
from train import parse_weights_key

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.path.join(HERE, "..", "assets", "fashion-mnist")


def precision_recall(real, real_radii2, gen, k):
    """Improved precision and recall (Kynkäänniemi et al. 2019) on features, float64, on the
    features' device: a sample counts when it lies in some other set's k-NN ball."""
    d_gr = torch.cdist(gen, real) ** 2
    precision = (d_gr <= real_radii2[None, :]).any(1).double().mean().item()
    gen_radii2 = torch.sort(torch.cdist(gen, gen) ** 2, dim=1).values[:, k]
    recall = (d_gr.T <= gen_radii2[None, :]).any(1).double().mean().item()
    return precision, recall


def taken_for(top, label):
    """The classes (names) a label's misclassified images were given, most first (ties by class id), with counts;
    as the TypeScript side's takenFor (src/sweep/quality.ts)."""
    counts = np.bincount(top, minlength=len(CLASSES))
    misses = sorted((c for c in range(len(CLASSES)) if c != label and counts[c] > 0), key=lambda c: (-counts[c], c))
    return {CLASSES[c]: int(counts[c]) for c in misses}


def worst_class(per_class):
    """(name, scores) of the lowest accuracy in a row's per_class (the first of equals, in class order)."""
    return min(per_class.items(), key=lambda kv: kv[1]["accuracy"])


def taken_for_text(misses):
    """" (taken for Coat 3, Pullover 2)", or "" without misses."""
    return f" (taken for {', '.join(f'{name} {n}' for name, n in misses.items())})" if misses else ""


def score(feats, logits, labels, reference, real=None):
    """feats, logits: float64 NumPy arrays (fd_reference.features_and_logits); labels: a tensor."""
    mu, sigma = stats(feats)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = labels.cpu().numpy()
    top = p.argmax(1)
    hit = top == y
    pl = p[np.arange(len(y)), y]
    per_class = {CLASSES[c]: {"accuracy": float(hit[y == c].mean()), "p_label": float(pl[y == c].mean()), "taken_for": taken_for(top[y == c], c)}
                 for c in range(10) if (y == c).any()}
    out = {"fd": frechet(mu, sigma, reference[0], reference[1]), "accuracy": float(hit.mean()), "p_label": float(pl.mean()), "per_class": per_class}
    if real is not None and len(feats) > real[2]:
        out["precision"], out["recall"] = precision_recall(real[0], real[1], torch.from_numpy(feats).to(real[0].device), real[2])
    return out


@torch.no_grad()
def generate(model, sampler, steps, cfg, labels, seed, device, batch, interval=None):
    """Images in [-1, 1] for `labels`, with classifier-free guidance `cfg` (1 = no unconditional
    pass), applied only at (original) timesteps in `interval` = (lo, hi) when given, as
    `dit sample --guidance-interval lo,hi` does (Kynkäänniemi et al. 2024)."""
    diffusion = SpacedDiffusion(steps)
    gen = torch.Generator().manual_seed(seed)
    noise_all = torch.randn(len(labels), 1, 32, 32, generator=gen)
    out = []
    for s in range(0, len(labels), batch):
        y = labels[s : s + batch].to(device)
        z = noise_all[s : s + batch].to(device)
        step_gen = torch.Generator(device=device).manual_seed(seed * 7919 + s)
        if cfg == 1:
            fn, kw, x = model.forward, dict(y=y), z
        else:
            kw, x = dict(y=torch.cat([y, torch.full_like(y, 10)]), cfg_scale=cfg), torch.cat([z, z])
            fn = model.forward_with_cfg
            if interval is not None:
                def fn(x, t, y, cfg_scale, lo=interval[0], hi=interval[1]):
                    return model.forward_with_cfg(x, t, y, cfg_scale if lo <= int(t[0]) <= hi else 1.0)
        if sampler == "ddpm":
            r = diffusion.p_sample_loop(fn, x.shape, kw, noise=x, generator=step_gen)
        elif sampler == "ddim":
            r = diffusion.ddim_sample_loop(fn, x, kw)
        else:
            raise SystemExit(f"--sampler {sampler}: must be ddpm or ddim")
        out.append(r[: len(y)].float())
    return torch.cat(out)


class Judge:
    """The shipped classifier and the test-set reference statistics, on `device`."""

    def __init__(self, device):
        ref = json.load(open(os.path.join(ASSETS, "fd-reference.json")))
        self.reference = (np.array(ref["mu"], dtype=np.float64), np.array(ref["sigma"], dtype=np.float64))
        # The test set's features and k-NN radii (fd_reference.py), for precision and recall.
        feats = read_safetensors(os.path.join(ASSETS, "fd-real-features.safetensors"))["features"]
        self.real = (feats.double().to(device), torch.tensor(ref["knn_radii2"], dtype=torch.float64, device=device), int(ref["knn_k"]))
        classifier = Classifier()
        classifier.load_state_dict(read_safetensors(os.path.join(ASSETS, "classifier.safetensors")))
        self.classifier = classifier.eval().to(device)
        self.device = device

    def rows(self, name, model, samplers, cfgs, num_samples, seed, batch, sheet=None, **extra):
        """One row per (sampler, scale); the first sampler's first ten images per scale go to `sheet`."""
        labels = torch.arange(num_samples) % 10
        params = sum(p.numel() for p in model.parameters())
        out = []
        for spec in samplers:
            sampler, steps = spec["sampler"], spec["steps"]
            for cfg in cfgs:
                t0 = time.time()
                u8 = to_uint8(generate(model, sampler, steps, cfg, labels, seed, self.device, batch, spec["interval"]))
                feats, logits = features_and_logits(self.classifier, u8)
                row = {"model": name, **extra, "params": params, "patch_size": model.patch_size, "spec": spec["spec"], "sampler": sampler,
                       "steps": steps, "guidance_interval": spec["interval"], "cfg": cfg, "n": num_samples, "seconds": round(time.time() - t0, 2), **score(feats, logits, labels, self.reference, self.real)}
                out.append(row)
                worst = worst_class(row["per_class"])
                pr = f"  P/R {row['precision']:.3f}/{row['recall']:.3f}" if "precision" in row else ""
                print(f"{name:>14} {spec['spec']:<15} cfg {cfg:<4g} FD {row['fd']:7.2f}{pr}  acc {row['accuracy']:.3f}  "
                      f"p(label) {row['p_label']:.3f}  worst {worst[0]} {worst[1]['accuracy']:.2f}{taken_for_text(worst[1]['taken_for'])}  ({row['seconds']} s)", flush=True)
                if sheet is not None and spec is samplers[0]:
                    sheet.append(u8[:10].cpu().float() / 127.5 - 1)
        return out


def parse_samplers(text):
    """"ddpm:100,ddim:30,ddpm:100@82-579" -> specs; @LO-HI guides only at timesteps in [LO, HI]."""
    out = []
    for spec in text.split(","):
        head, _, interval = spec.partition("@")
        sampler, steps = head.split(":")
        out.append({"spec": spec, "sampler": sampler, "steps": int(steps), "interval": tuple(int(v) for v in interval.split("-")) if interval else None})
    return out


def write_sheet(path, sheet):
    write_png(path, np.kron(grid(torch.cat(sheet), nrow=10), np.ones((3, 3), dtype=np.uint8)))


def pick_device(name):
    return torch.device("cuda" if name == "auto" and torch.cuda.is_available() else ("cpu" if name == "auto" else name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", required=True, help="NAME=PATH[@EMA]: EMA a decay, sigma:S or model (the trained weights); repeat")
    ap.add_argument("--cfg", default="1,1.5,2,3,4")
    ap.add_argument("--sampler", default="ddpm:25", help="comma-separated SAMPLER:STEPS[@LO-HI] (ddpm, ddim; @: guidance interval in timesteps)")
    ap.add_argument("--num-samples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write all rows here")
    ap.add_argument("--sheet", help="PNG: per model, one row of the ten classes at each scale (first sampler)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    judge = Judge(device)
    cfgs = [float(c) for c in args.cfg.split(",")]
    samplers = parse_samplers(args.sampler)
    rows, sheet = [], []
    for spec in args.model:
        name, path = spec.split("=", 1)
        decay = None
        if "@" in path:
            path, d = path.rsplit("@", 1)
            decay = parse_weights_key(d)
        model = load_model(path, decay).to(device)
        rows += judge.rows(name, model, samplers, cfgs, args.num_samples, args.seed, args.batch, sheet, path=path, ema=decay)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"what": "training/evaluate.py", "seed": args.seed, "rows": rows}, f, indent=1)
    if args.sheet and sheet:
        write_sheet(args.sheet, sheet)
        print(f"wrote {args.sheet}: rows = models x scales ({', '.join(f'{c:g}' for c in cfgs)}), columns = classes")


if __name__ == "__main__":
    main()
