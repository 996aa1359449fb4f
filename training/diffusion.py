"""Gaussian diffusion as the official DiT trains and samples it (diffusion/gaussian_diffusion.py).

1000 linear betas 1e-4..0.02 in float64, epsilon prediction, LEARNED_RANGE variance, the hybrid
loss MSE(eps) + VLB (mean stop-gradient), uniform timesteps. Coefficients stay float64 in numpy and
are cast to float32 per lookup, as the official _extract_into_tensor does. The tables the training
loss and the samplers read are also kept as float64 tensors on each device they are used on (made
once, the same values): a per-call host->device copy is a synchronisation on CUDA, and there were
a dozen in every training step.
"""
import math

import numpy as np
import torch


def linear_betas(num_timesteps=1000):
    scale = 1000 / num_timesteps
    return np.linspace(scale * 0.0001, scale * 0.02, num_timesteps, dtype=np.float64)


def _extract(arr, t, shape):
    """arr[t] (a float64 NumPy table) as float32, broadcast to `shape`."""
    return _broadcast(torch.from_numpy(arr).to(t.device)[t].float(), shape)


def _broadcast(out, shape):
    while out.dim() < len(shape):
        out = out[..., None]
    return out.expand(shape)


def mean_flat(x):
    return x.mean(dim=list(range(1, x.dim())))


def normal_kl(mean1, logvar1, mean2, logvar2):
    return 0.5 * (-1.0 + logvar2 - logvar1 + torch.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * torch.exp(-logvar2))


def approx_standard_normal_cdf(x):
    return 0.5 * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3))))


def discretized_gaussian_log_likelihood(x, means, log_scales):
    """Log-likelihood of 8-bit data in [-1, 1] under a Gaussian discretised into 256 bins."""
    centered = x - means
    inv_stdv = torch.exp(-log_scales)
    cdf_plus = approx_standard_normal_cdf(inv_stdv * (centered + 1.0 / 255.0))
    cdf_min = approx_standard_normal_cdf(inv_stdv * (centered - 1.0 / 255.0))
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_min = torch.log((1.0 - cdf_min).clamp(min=1e-12))
    cdf_delta = cdf_plus - cdf_min
    return torch.where(
        x < -0.999,
        log_cdf_plus,
        torch.where(x > 0.999, log_one_minus_cdf_min, torch.log(cdf_delta.clamp(min=1e-12))),
    )


class GaussianDiffusion:
    def __init__(self, betas=None):
        betas = linear_betas() if betas is None else np.asarray(betas, dtype=np.float64)
        self.betas = betas
        self.num_timesteps = len(betas)
        alphas = 1.0 - betas
        self.alphas_cumprod = np.cumprod(alphas, axis=0)
        self.alphas_cumprod_prev = np.append(1.0, self.alphas_cumprod[:-1])
        self.sqrt_alphas_cumprod = np.sqrt(self.alphas_cumprod)
        self.sqrt_one_minus_alphas_cumprod = np.sqrt(1.0 - self.alphas_cumprod)
        self.sqrt_recip_alphas_cumprod = np.sqrt(1.0 / self.alphas_cumprod)
        self.sqrt_recipm1_alphas_cumprod = np.sqrt(1.0 / self.alphas_cumprod - 1)
        self.posterior_variance = betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        # The posterior variance is 0 at t=0; the official code reuses the t=1 value there before the log.
        self.posterior_log_variance_clipped = np.log(np.append(self.posterior_variance[1], self.posterior_variance[1:]))
        self.posterior_mean_coef1 = betas * np.sqrt(self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        self.posterior_mean_coef2 = (1.0 - self.alphas_cumprod_prev) * np.sqrt(alphas) / (1.0 - self.alphas_cumprod)
        self.log_betas = np.log(betas)

    def _coef(self, name, t, shape):
        """self.<name>[t] as float32 broadcast to `shape`, like _extract, from a float64 copy of the
        table kept on t's device (attribute _on_<name>: made at the first use there, or by prepare())."""
        table = getattr(self, "_on_" + name, None)
        if table is None or table.device != t.device:
            table = torch.from_numpy(getattr(self, name)).to(t.device)
            setattr(self, "_on_" + name, table)
        return _broadcast(table[t].float(), shape)

    def prepare(self, device):
        """Every table on `device` now, before torch.compile traces the loss (no copies in the graph)."""
        t = torch.zeros(1, dtype=torch.long, device=device)
        for name in ("sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod", "posterior_mean_coef1", "posterior_mean_coef2",
                     "posterior_log_variance_clipped", "log_betas", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod"):
            self._coef(name, t, (1,))
        return self

    def q_sample(self, x_start, t, noise):
        return (
            self._coef("sqrt_alphas_cumprod", t, x_start.shape) * x_start
            + self._coef("sqrt_one_minus_alphas_cumprod", t, x_start.shape) * noise
        )

    def q_posterior_mean_variance(self, x_start, x_t, t):
        mean = self._coef("posterior_mean_coef1", t, x_t.shape) * x_start + self._coef("posterior_mean_coef2", t, x_t.shape) * x_t
        log_var = self._coef("posterior_log_variance_clipped", t, x_t.shape)
        return mean, log_var

    def p_mean_variance_from_output(self, model_output, x, t, clip_denoised=False):
        c = x.shape[1]
        eps, var_values = torch.split(model_output, c, dim=1)
        min_log = self._coef("posterior_log_variance_clipped", t, x.shape)
        max_log = self._coef("log_betas", t, x.shape)
        frac = (var_values + 1) / 2  # model output in [-1, 1] interpolates between the two log-variances
        model_log_variance = frac * max_log + (1 - frac) * min_log
        pred_xstart = self._coef("sqrt_recip_alphas_cumprod", t, x.shape) * x - self._coef("sqrt_recipm1_alphas_cumprod", t, x.shape) * eps
        if clip_denoised:
            pred_xstart = pred_xstart.clamp(-1, 1)
        mean, _ = self.q_posterior_mean_variance(pred_xstart, x, t)
        return mean, model_log_variance, pred_xstart

    def training_losses(self, model_fn, x_start, t, model_kwargs, noise=None):
        if noise is None:
            noise = torch.randn_like(x_start)
        x_t = self.q_sample(x_start, t, noise)
        model_output = model_fn(x_t, t, **model_kwargs).float()
        return self.loss_terms(x_start, x_t, t, noise, model_output)

    def loss_terms(self, x_start, x_t, t, noise, model_output):
        """training_losses' terms from the model's output (float32) at x_t."""
        c = x_start.shape[1]
        eps, var_values = torch.split(model_output, c, dim=1)
        # The VLB term trains only the variance: the mean goes in detached, as the official code does.
        frozen = torch.cat([eps.detach(), var_values], dim=1)
        true_mean, true_log_var = self.q_posterior_mean_variance(x_start, x_t, t)
        mean, log_var, _ = self.p_mean_variance_from_output(frozen, x_t, t)
        kl = mean_flat(normal_kl(true_mean, true_log_var, mean, log_var)) / math.log(2.0)
        nll = -mean_flat(discretized_gaussian_log_likelihood(x_start, mean, 0.5 * log_var)) / math.log(2.0)
        vb = torch.where(t == 0, nll, kl)
        # Official LossType.MSE adds vb as is; RESCALED_MSE multiplies by num_timesteps/1000, which is 1 here.
        vb = vb * (self.num_timesteps / 1000.0)
        mse = mean_flat((noise - eps) ** 2)
        return {"loss": mse + vb, "mse": mse, "vb": vb}

    @torch.no_grad()
    def p_sample_loop(self, model_fn, shape, model_kwargs, noise=None, progress=False, generator=None):
        """DDPM ancestral sampling over all timesteps of this (possibly respaced) process, on the
        device of `noise`; the step noise comes from `generator` (default: the global one)."""
        x = torch.randn(*shape) if noise is None else noise
        indices = list(range(self.num_timesteps))[::-1]
        for i in indices:
            t = torch.full((shape[0],), i, dtype=torch.long, device=x.device)
            out = model_fn(x, self._map(t), **model_kwargs).float()
            mean, log_var, _ = self.p_mean_variance_from_output(out, x, t)
            z = torch.randn(x.shape, device=x.device, generator=generator)
            nonzero = (t != 0).float().view(-1, *([1] * (x.dim() - 1)))
            x = mean + nonzero * torch.exp(0.5 * log_var) * z
        return x

    @torch.no_grad()
    def ddim_sample_loop(self, model_fn, noise, model_kwargs):
        """DDIM with eta 0 (the official ddim_sample): x0 from eps, then the deterministic update
        x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev) eps, with eps re-derived from the x0 used."""
        x = noise
        for i in list(range(self.num_timesteps))[::-1]:
            t = torch.full((x.shape[0],), i, dtype=torch.long, device=x.device)
            out = model_fn(x, self._map(t), **model_kwargs).float()
            _, _, x0 = self.p_mean_variance_from_output(out, x, t)
            eps = (self._coef("sqrt_recip_alphas_cumprod", t, x.shape) * x - x0) / self._coef("sqrt_recipm1_alphas_cumprod", t, x.shape)
            x = _extract(np.sqrt(self.alphas_cumprod_prev), t, x.shape) * x0 + _extract(np.sqrt(1.0 - self.alphas_cumprod_prev), t, x.shape) * eps
        return x

    def _map(self, t):
        return t


class SpacedDiffusion(GaussianDiffusion):
    """Respaced process (space_timesteps with one section); the model sees the original timestep."""

    def __init__(self, num_steps, base_betas=None):
        base = linear_betas() if base_betas is None else base_betas
        n = len(base)
        if num_steps == 1:
            use = {0}
        else:
            stride = (n - 1) / (num_steps - 1)
            use = {round(k * stride) for k in range(num_steps)}
        alphas_cumprod = np.cumprod(1.0 - base)
        last = 1.0
        new_betas, self.timestep_map = [], []
        for i, ac in enumerate(alphas_cumprod):
            if i in use:
                new_betas.append(1 - ac / last)
                last = ac
                self.timestep_map.append(i)
        super().__init__(np.array(new_betas))

    def _map(self, t):
        return torch.tensor(self.timestep_map, dtype=torch.long, device=t.device)[t]
