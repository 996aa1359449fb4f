"""Fréchet distance reference for the embedded model (dit generate, dit sweep).

Features are the shipped classifier's penultimate layer (the 128 channels after global average
pooling, assets/fashion-mnist/classifier.safetensors), on the Fashion-MNIST test set (t10k, 10,000
images, 28->32 padded with the background and mapped to [-1, 1] as in training). Writes

  assets/fashion-mnist/fd-reference.json   mu (128) and sigma (128x128) in float64, np.mean and
                                           np.cov(rowvar=False) as pytorch-fid computes them, and
                                           knn_radii2: each test image's squared distance to its
                                           k-th nearest other test image (k = knn_k = 3), the real
                                           manifold of improved precision/recall
  assets/fashion-mnist/fd-real-features.safetensors
                                           features: the 10,000 feature rows (float32, as the
                                           classifier computes them), what precision and recall
                                           compare generated images with

and with --fixture DIR the conformance numbers the tests check dit-ts against (scipy's sqrtm,
pytorch-fid's formula; scripts/fixtures/precision_recall.py for precision/recall): the first 500
test images against the reference, those images made brighter (+40, clipped) against the
unchanged ones, and the first 500 training images (not in the reference) against it.

  /usr/bin/python3 training/fd_reference.py [--fixture test/fixtures/embedded-fd]
"""
import argparse
import json
import os
import sys

import numpy as np
import scipy.linalg
import torch

from classifier import Classifier, to_model_range
from fmnist import load_split
from tensorio import read_safetensors, write_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.path.join(HERE, "..", "assets", "fashion-mnist")
sys.path.insert(0, os.path.join(HERE, "..", "scripts", "fixtures"))
from fixture_io import stats, write_manifest  # noqa: E402
from precision_recall import knn_radii2, precision_recall  # noqa: E402

KNN_K = 3


@torch.no_grad()
def features_and_logits(model, images_uint8):
    x = to_model_range(images_uint8)
    for conv in model.convs:
        x = torch.relu(conv(x))
    feats = x.mean(dim=(2, 3))
    return feats.double().cpu().numpy(), model.fc(feats).double().cpu().numpy()


def frechet(mu1, s1, mu2, s2):
    """pytorch-fid's calculate_frechet_distance (eps retry included)."""
    diff = mu1 - mu2
    # No `disp=`: SciPy deprecated it in 1.16 and later releases refuse it (the GPU machine's SciPy
    # did, 2026-11-27); without it every SciPy returns the matrix alone.
    covmean = scipy.linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((s1 + offset).dot(s2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def scores(logits, labels):
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return float((logits.argmax(1) == labels).mean()), float(p[np.arange(len(labels)), labels].mean())


def class_scores(logits, labels):
    """Per label class: [count, accuracy, mean p(label)]."""
    return [[int((labels == c).sum()), *scores(logits[labels == c], labels[labels == c])] for c in range(logits.shape[1])]


def confusion(logits, labels):
    """Per label class: how many of its images the classifier gave each class (row = label, column =
    the argmax; the diagonal holds the hits)."""
    k = logits.shape[1]
    return np.bincount(labels * k + logits.argmax(1), minlength=k * k).reshape(k, k).tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixture", help="also write the conformance fixture into this folder")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = Classifier()
    model.load_state_dict(read_safetensors(os.path.join(ASSETS, "classifier.safetensors")))
    model.eval()
    images, labels = load_split("test")
    feats, _ = features_and_logits(model, images)
    # The rows ship in float16 (2.6 MB instead of 5.1: the repository travels to the GPU machine
    # within 64 MiB): the manifold for precision/recall is made of those rounded rows, radii included,
    # so dit-ts and this script agree exactly; mu and sigma keep the network's full precision.
    feats32 = feats.astype(np.float32).astype(np.float16).astype(np.float32)
    mu, sigma = stats(feats)
    radii2 = knn_radii2(feats32, KNN_K)
    ref = {
        "what": "Fréchet distance reference: the shipped classifier's penultimate features (global average pool, 128) on Fashion-MNIST t10k",
        "script": "training/fd_reference.py",
        "count": int(len(feats)),
        "mu": mu.tolist(),
        "sigma": sigma.tolist(),
        "knn_k": KNN_K,
        "knn_radii2": radii2.tolist(),
    }
    with open(os.path.join(ASSETS, "fd-reference.json"), "w") as f:
        json.dump(ref, f)
        f.write("\n")
    write_safetensors(os.path.join(ASSETS, "fd-real-features.safetensors"), {"features": torch.from_numpy(feats32).to(torch.float16)},
                      {"what": "penultimate features of the shipped classifier on Fashion-MNIST t10k", "script": "training/fd_reference.py"})
    if args.fixture:
        n = 500
        subset = images[:n]
        bright = torch.clamp(subset.int() + 40, 0, 255).to(torch.uint8)
        train_images, train_labels = load_split("train")
        fa, la = features_and_logits(model, subset)
        fb, lb = features_and_logits(model, bright)
        fc, lc = features_and_logits(model, train_images[:n])
        ma, sa = stats(fa)
        mb, sb = stats(fb)
        mc, sc = stats(fc)
        y = labels[:n].numpy()
        acc_a, conf_a = scores(la, y)
        acc_b, conf_b = scores(lb, y)
        acc_c, conf_c = scores(lc, train_labels[:n].numpy())
        pr = {name: precision_recall(feats32, f.astype(np.float32), KNN_K, radii2) for name, f in (("a", fa), ("b", fb), ("c", fc))}
        os.makedirs(args.fixture, exist_ok=True)
        manifest = {
            "what": "first 500 t10k images (a), the same +40 brighter, clipped to 255 (b), and the first 500 training images (c); features, FD, scores and precision/recall (k = 3, against all of t10k) by training/fd_reference.py",
            "count": n,
            "brighten": 40,
            "a_vs_reference": frechet(ma, sa, mu, sigma),
            "b_vs_reference": frechet(mb, sb, mu, sigma),
            "b_vs_a": frechet(mb, sb, ma, sa),
            "a_accuracy": acc_a,
            "a_mean_p_label": conf_a,
            "b_accuracy": acc_b,
            "b_mean_p_label": conf_b,
            "c_vs_reference": frechet(mc, sc, mu, sigma),
            "c_accuracy": acc_c,
            "c_mean_p_label": conf_c,
            "b_per_class": class_scores(lb, y),
            "b_confusion": confusion(lb, y),
            **{f"{name}_{what}": v for name, (p, r) in pr.items() for what, v in (("precision", p), ("recall", r))},
            "reference_vs_itself": frechet(mu, sigma, mu, sigma),
        }
        write_manifest(args.fixture, manifest)


if __name__ == "__main__":
    main()
