"""Checks of training/'s own arithmetic, run here before a GPU round (CI has no PyTorch):

  cd training && /usr/bin/python3 checks.py

- frechet() (fd_reference.py) against a NumPy eigenvalue reference, also with a SciPy whose sqrtm
  refuses `disp=` (the GPU machine's, 2026-11-27: the first round lost its scoring to it);
- the power-function EMA's gamma for a relative length sigma_rel (train.py) against the pairs
  Karras et al. 2024 give (sigma_rel 0.05 -> gamma 16.97, 0.10 -> 6.94), and that the warm-up makes
  every decay-d EMA one and the same below step 9d/(1-d) while power EMAs differ.
"""
import numpy as np
import scipy.linalg

import fd_reference
from train import ema_beta, power_ema_gamma


def frechet_reference(mu1, s1, mu2, s2):
    """tr(sqrt(s1 s2)) as the sum of sqrt(eig(s1^1/2 s2 s1^1/2)), a symmetric PSD matrix."""
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.clip(np.linalg.eigvalsh(root @ s2 @ root), 0, None)
    d = mu1 - mu2
    return float(d @ d + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(inner).sum())


def check_frechet():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(500, 16)), rng.normal(size=(500, 16)) * 1.3 + 0.2
    stats = [(x.mean(0), np.cov(x, rowvar=False)) for x in (a, b)]
    want = frechet_reference(*stats[0], *stats[1])
    got = fd_reference.frechet(*stats[0], *stats[1])
    assert abs(got - want) <= 1e-6 * abs(want), (got, want)
    assert abs(fd_reference.frechet(*stats[0], *stats[0])) < 1e-6
    original = scipy.linalg.sqrtm

    def sqrtm_without_disp(m, blocksize=64):  # a later SciPy's signature: no `disp`
        return original(m)

    scipy.linalg.sqrtm = sqrtm_without_disp
    try:
        again = fd_reference.frechet(*stats[0], *stats[1])
    finally:
        scipy.linalg.sqrtm = original
    assert abs(again - want) <= 1e-6 * abs(want), (again, want)
    print(f"frechet: {got:.6f} vs eigenvalue reference {want:.6f}; also with a sqrtm without disp=")


def check_ema():
    for sigma, gamma in ((0.05, 16.97), (0.10, 6.94)):
        assert abs(power_ema_gamma(sigma) - gamma) < 0.01, (sigma, power_ema_gamma(sigma))
    for step in (100, 4000, 8000):  # below 9d/(1-d) = 8991 for d = 0.999: the warm-up decides alone
        assert ema_beta(0.9995, step) == ema_beta(0.999, step) == ema_beta(0.9999, step) == (1 + step) / (10 + step)
    assert ema_beta(0.9995, 17000) == ema_beta(0.9999, 17000) != ema_beta(0.999, 17000) == 0.999
    # beta ~ 1 - (gamma + 1)/t: sigma 0.05 averages over a shorter window than the warm-up (~1 - 9/t), 0.2 a longer one.
    assert ema_beta("sigma:0.05", 4000) < ema_beta(0.9999, 4000) < ema_beta("sigma:0.2", 4000)
    print("ema: gamma(0.05) = %.3f, gamma(0.10) = %.3f; at step 4000: sigma 0.05 %.5f, warm-up %.5f, sigma 0.2 %.5f"
          % (power_ema_gamma(0.05), power_ema_gamma(0.10), ema_beta("sigma:0.05", 4000), ema_beta(0.9999, 4000), ema_beta("sigma:0.2", 4000)))


if __name__ == "__main__":
    check_frechet()
    check_ema()
    print("checks passed")
