"""DiT (Peebles & Xie, 2023) with the official module and state-dict key names.

Written against facebookresearch/DiT models.py so that a state dict saved from this module loads,
key for key, wherever an official checkpoint loads. timm is not available here, so the patch
embedding, attention and MLP are written out with the submodule names timm would give them.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class PatchEmbed(nn.Module):
    """Conv2d with kernel = stride = patch; the module is named `proj` as in timm."""

    def __init__(self, img_size, patch_size, in_chans, embed_dim):
        super().__init__()
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size, bias=True)

    def forward(self, x):
        x = self.proj(x)  # N, D, H/p, W/p
        return x.flatten(2).transpose(1, 2)  # N, T, D (row-major over the patch grid)


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        assert dim % num_heads == 0, f"hidden_size {dim} must be divisible by num_heads {num_heads}"
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2.0: the same function, fused
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)
            x = attn.softmax(dim=-1) @ v
        x = x.transpose(1, 2).reshape(b, n, c)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class TimestepEmbedder(nn.Module):
    def __init__(self, hidden_size, frequency_embedding_size=256):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, hidden_size, bias=True),
            nn.SiLU(),
            nn.Linear(hidden_size, hidden_size, bias=True),
        )
        self.frequency_embedding_size = frequency_embedding_size
        # Computed once on the CPU (the values timestep_embedding computes) and moved with the module:
        # not in the state dict, and no host->device copy (a CUDA synchronisation) per forward.
        self.register_buffer("freqs", self.frequencies(frequency_embedding_size), persistent=False)

    @staticmethod
    def frequencies(dim, max_period=10000):
        half = dim // 2
        return torch.exp(-math.log(max_period) * torch.arange(0, half, dtype=torch.float32) / half)

    @staticmethod
    def timestep_embedding(t, dim, max_period=10000, freqs=None):
        if freqs is None:
            freqs = TimestepEmbedder.frequencies(dim, max_period).to(t.device)
        args = t[:, None].float() * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if dim % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return emb

    def forward(self, t):
        return self.mlp(self.timestep_embedding(t, self.frequency_embedding_size, freqs=self.freqs))


class LabelEmbedder(nn.Module):
    """Class embedding; with dropout > 0 an extra last row is the null class used for guidance."""

    def __init__(self, num_classes, hidden_size, dropout_prob):
        super().__init__()
        use_cfg_embedding = dropout_prob > 0
        self.embedding_table = nn.Embedding(num_classes + int(use_cfg_embedding), hidden_size)
        self.num_classes = num_classes
        self.dropout_prob = dropout_prob

    def token_drop(self, labels, force_drop_ids=None):
        if force_drop_ids is None:
            drop_ids = torch.rand(labels.shape[0], device=labels.device) < self.dropout_prob
        else:
            drop_ids = force_drop_ids == 1
        return torch.where(drop_ids, torch.full_like(labels, self.num_classes), labels)

    def forward(self, labels, train, force_drop_ids=None):
        if (train and self.dropout_prob > 0) or force_drop_ids is not None:
            labels = self.token_drop(labels, force_drop_ids)
        return self.embedding_table(labels)


class DiTBlock(nn.Module):
    def __init__(self, hidden_size, num_heads, mlp_ratio=4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size, bias=True))

    def forward(self, x, c):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))
        return x


class FinalLayer(nn.Module):
    def __init__(self, hidden_size, patch_size, out_channels):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels, bias=True)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size, bias=True))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class DiT(nn.Module):
    def __init__(
        self,
        input_size=32,
        patch_size=2,
        in_channels=4,
        hidden_size=1152,
        depth=28,
        num_heads=16,
        mlp_ratio=4.0,
        class_dropout_prob=0.1,
        num_classes=1000,
        learn_sigma=True,
    ):
        super().__init__()
        self.learn_sigma = learn_sigma
        self.in_channels = in_channels
        self.out_channels = in_channels * 2 if learn_sigma else in_channels
        self.patch_size = patch_size
        self.num_heads = num_heads

        self.x_embedder = PatchEmbed(input_size, patch_size, in_channels, hidden_size)
        self.t_embedder = TimestepEmbedder(hidden_size)
        self.y_embedder = LabelEmbedder(num_classes, hidden_size, class_dropout_prob)
        num_patches = self.x_embedder.num_patches
        # A frozen Parameter (not a buffer) so it is saved under `pos_embed` exactly like the official one.
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches, hidden_size), requires_grad=False)
        self.blocks = nn.ModuleList([DiTBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth)])
        self.final_layer = FinalLayer(hidden_size, patch_size, self.out_channels)
        self.initialize_weights()

    def initialize_weights(self):
        def _basic_init(module):
            if isinstance(module, nn.Linear):
                torch.nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.constant_(module.bias, 0)

        self.apply(_basic_init)

        grid = int(self.x_embedder.num_patches ** 0.5)
        pos_embed = get_2d_sincos_pos_embed(self.pos_embed.shape[-1], grid)
        self.pos_embed.data.copy_(torch.from_numpy(pos_embed).float().unsqueeze(0))

        # The patch conv is initialised like a Linear over its flattened kernel.
        w = self.x_embedder.proj.weight.data
        nn.init.xavier_uniform_(w.view([w.shape[0], -1]))
        nn.init.constant_(self.x_embedder.proj.bias, 0)

        nn.init.normal_(self.y_embedder.embedding_table.weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)

        # adaLN-Zero: every block starts as the identity and the output starts at zero.
        for block in self.blocks:
            nn.init.constant_(block.adaLN_modulation[-1].weight, 0)
            nn.init.constant_(block.adaLN_modulation[-1].bias, 0)
        nn.init.constant_(self.final_layer.adaLN_modulation[-1].weight, 0)
        nn.init.constant_(self.final_layer.adaLN_modulation[-1].bias, 0)
        nn.init.constant_(self.final_layer.linear.weight, 0)
        nn.init.constant_(self.final_layer.linear.bias, 0)

    def unpatchify(self, x):
        c = self.out_channels
        p = self.patch_size
        h = w = int(x.shape[1] ** 0.5)
        assert h * w == x.shape[1]
        x = x.reshape(x.shape[0], h, w, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, h * p, h * p)

    def forward(self, x, t, y, force_drop_ids=None):
        """force_drop_ids (1 = the null class), when given, replaces the label dropout's own draw:
        train.py draws it outside so that a compiled forward holds no random numbers."""
        x = self.x_embedder(x) + self.pos_embed
        t = self.t_embedder(t)
        y = self.y_embedder(y, self.training, force_drop_ids)
        c = t + y
        for block in self.blocks:
            x = block(x, c)
        x = self.final_layer(x, c)
        return self.unpatchify(x)

    def forward_with_cfg(self, x, t, y, cfg_scale):
        """Classifier-free guidance on ALL channels (eps of the one image channel here).

        The official code guides only the first 3 channels (a quirk for 4-channel latents); with a
        1-channel pixel model guiding the eps channels is the standard form. The variance channels
        keep the conditional prediction, as in the official code.
        """
        half = x[: len(x) // 2]
        combined = torch.cat([half, half], dim=0)
        model_out = self.forward(combined, t, y)
        eps, rest = model_out[:, : self.in_channels], model_out[:, self.in_channels :]
        cond_eps, uncond_eps = torch.split(eps, len(eps) // 2, dim=0)
        half_eps = uncond_eps + cfg_scale * (cond_eps - uncond_eps)
        eps = torch.cat([half_eps, half_eps], dim=0)
        return torch.cat([eps, rest], dim=1)


def get_2d_sincos_pos_embed(embed_dim, grid_size):
    """[grid_size**2, embed_dim]; first half of channels from the column index, second from the row."""
    grid_h = np.arange(grid_size, dtype=np.float32)
    grid_w = np.arange(grid_size, dtype=np.float32)
    grid = np.meshgrid(grid_w, grid_h)  # 'xy' indexing: grid[0] varies along columns
    grid = np.stack(grid, axis=0).reshape([2, 1, grid_size, grid_size])
    assert embed_dim % 2 == 0
    emb_a = _1d_sincos(embed_dim // 2, grid[0])
    emb_b = _1d_sincos(embed_dim // 2, grid[1])
    return np.concatenate([emb_a, emb_b], axis=1)


def _1d_sincos(embed_dim, pos):
    assert embed_dim % 2 == 0
    omega = np.arange(embed_dim // 2, dtype=np.float64)
    omega /= embed_dim / 2.0
    omega = 1.0 / 10000 ** omega
    pos = pos.reshape(-1)
    out = np.einsum("m,d->md", pos, omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


# The shipped embedded model's architecture (issue 19's second generation, "C"): 1-channel 32x32
# pixels, patch 4, 9.76M parameters; train.py's and bench_step.py's defaults. The first generation
# (issue 6) was hidden 192, depth 6, 3 heads (4.17M): gpu_round.py's candidate "A".
FASHION_CONFIG = dict(
    input_size=32,
    patch_size=4,
    in_channels=1,
    hidden_size=256,
    depth=8,
    num_heads=4,
    mlp_ratio=4.0,
    class_dropout_prob=0.1,
    num_classes=10,
    learn_sigma=True,
)


def load_checkpoint(path):
    """A training checkpoint of train.py (plain Python values beside tensors, which torch >= 2.6
    refuses to load by default)."""
    kw = {"weights_only": False} if "weights_only" in torch.load.__code__.co_varnames else {}
    return torch.load(path, map_location="cpu", **kw)


# Names a checkpoint's trained weights themselves (no average) wherever an EMA is chosen (export.py
# --ema, evaluate.py NAME=PATH@KEY, gpu_round.py's pass 1): after train.py --cooldown has brought the
# learning rate to 0 they are the run's end point, and may beat every EMA.
RAW_WEIGHTS = "model"


def ema_weights(ck, ema=None):
    """The EMA state dict of decay `ema` (None: the main one; RAW_WEIGHTS: the trained weights, not an
    average) from a training checkpoint."""
    if ema == RAW_WEIGHTS:
        return ck["model"]
    return ck["ema"] if ema is None or ema == ck.get("ema_decay") else ck["emas"][ema]


def load_model(path, ema=None):
    """A DiT in eval mode from a training checkpoint (`last.pt`: its config and EMA weights, or the
    EMA of decay `ema` when it kept several) or from exported `.safetensors` with `config.json`
    beside it (FASHION_CONFIG when there is none)."""
    import json
    import os

    if path.endswith(".safetensors"):
        from tensorio import read_safetensors, read_safetensors_metadata

        sd = {k: v.float() for k, v in read_safetensors(path).items()}
        cfg_path = os.path.join(os.path.dirname(path) or ".", "config.json")
        config = dict(FASHION_CONFIG)
        meta = read_safetensors_metadata(path)
        if "config" in meta:  # a file of export.py --weights-only
            config.update(json.loads(meta["config"]))
        elif os.path.exists(cfg_path):
            with open(cfg_path) as f:
                saved = json.load(f)
            config.update({k: saved[k] for k in FASHION_CONFIG if k in saved})
    else:
        return model_from_checkpoint(load_checkpoint(path), ema)
    model = DiT(**config)
    model.load_state_dict(sd)
    return model.eval()


def model_from_checkpoint(ck, ema=None):
    """The EMA model of decay `ema` (None: the main one) of a loaded train.py checkpoint, in eval mode."""
    model = DiT(**ck.get("config", FASHION_CONFIG))
    model.load_state_dict(ema_weights(ck, ema))
    return model.eval()
