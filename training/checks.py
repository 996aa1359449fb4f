"""Checks of training/'s own arithmetic, run here before a GPU round (CI has no PyTorch):

  cd training && /usr/bin/python3 checks.py

- frechet() (fd_reference.py) against a NumPy eigenvalue reference, also with a SciPy whose sqrtm
  refuses `disp=` (the GPU machine's, 2026-11-27: the first round lost its scoring to it);
- the power-function EMA's gamma for a relative length sigma_rel (train.py) against the pairs
  Karras et al. 2024 give (sigma_rel 0.05 -> gamma 16.97, 0.10 -> 6.94), and that the warm-up makes
  every decay-d EMA one and the same below step 9d/(1-d) while power EMAs differ;
- train.py's step (noise, timesteps and dropout drawn ahead on the device, diffusion tables and
  timestep frequencies kept on the device, foreach EMAs) against the loop as it was before
  (per-parameter EMAs, tables copied per lookup, noise and dropout drawn inside the loss and the
  model), from the same seed: the same weights, EMAs, optimizer state, losses and random state, bit
  for bit, in float32 and under bf16 autocast; then the same with a stand-in torch.compile that fails
  (the step is redone eagerly; --compile full and blocks, all undone) and one that works (the
  compiled path, and --compile-trial's switch). torch 1.13 has no torch.compile: the real one runs
  only on the GPU machine, where the trial and the fallback guard it;
- train.py --procs 2: the gradient two processes agree on (each its half of the batch, DDP over
  gloo) is the one-process gradient of the whole batch, with the same draws;
- train.py --init (a warm start): the weights it loads are the file's, a file of another
  architecture is refused, and export.py counts the earlier training into the exported facts;
- a run that finishes its --epochs with --save-every-min writes its last step, not the last
  periodic checkpoint's;
- gpu_round.py's warm start: C goes on from the shipped weights (int8 rows, every key and shape, their
  steps counted), another architecture starts from a random init;
- train.py --cooldown: the learning rate's factor (1, then linear to 0 over the last share of the
  time budget), a run that decays to about 0 and saves and exports the steps it decayed over, and the
  refusals of a share outside (0, 1] or without a time budget;
- gpu_round.py's pass 1 picks: the EMA of the lowest FD over the scales, and the one of the highest
  class accuracy at the lowest scale (exported too, under a name the device call returns); the
  summary line of issue 19's numbers (CFG 4's worst class, CFG 1's class accuracy);
- evaluate.py's per-class misses (taken_for), listed as the TypeScript side lists them;
- train.py --class-weights: the parsing and its refusals, the epoch pool (every image once in order,
  then a weighted class's images again, flagged as extra), the label dropout that never drops an
  extra copy (the rest of the step's draws unchanged), a run that records its weights, exports them
  in the facts and refuses to resume under other weights;
- export.py --dtype q8 (the shipped weights): int8 rows read back as code * scale, within half a
  step, and re-quantize to the same bytes.
"""
import copy
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import scipy.linalg
import torch

import diffusion as diffusion_module
import fd_reference
import tensorio
import train
from export import checkpoint_source
from tensorio import write_safetensors
from dit import DiT, FASHION_CONFIG, TimestepEmbedder
from fmnist import to_model_range
from train import Emas, Trainer, ema_beta, power_ema_gamma


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


class TablesCopiedPerLookup(diffusion_module.GaussianDiffusion):
    """The diffusion as it was: each coefficient copied from its NumPy table at every lookup."""

    def _coef(self, name, t, shape):
        return diffusion_module._extract(getattr(self, name), t, shape)


@torch.no_grad()
def update_ema_per_parameter(ema, model, decay):
    """train.py's EMA update as it was."""
    ema_params = dict(ema.named_parameters())
    for name, param in model.named_parameters():
        if param.requires_grad:
            ema_params[name].mul_(decay).add_(param.data, alpha=1 - decay)


EMA_KEYS = (0.999, 0.9999, "sigma:0.05")
TINY = dict(FASHION_CONFIG, hidden_size=64, depth=2, num_heads=2)


def fresh(config=TINY, seed=0):
    """A DiT (tiny by default), its EMAs and AdamW, from `seed`."""
    torch.manual_seed(seed)
    model = DiT(**config).train()
    emas = {key: copy.deepcopy(model).requires_grad_(False) for key in EMA_KEYS}
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-3, weight_decay=0)
    return model, emas, opt


def batches(n, size=16):
    g = torch.Generator().manual_seed(7)
    images = torch.randint(0, 256, (n * size, 1, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (n * size,), generator=g)
    return [(to_model_range(images[i * size:(i + 1) * size]), labels[i * size:(i + 1) * size]) for i in range(n)]


def lr_at(step):
    return 1e-3 * min(1.0, (step + 1) / 3)


def old_loop(data, bf16, config=TINY):
    model, emas, opt = fresh(config)
    # timestep_embedding's frequencies made at every forward, as before the buffer.
    model.t_embedder.forward = lambda t: model.t_embedder.mlp(TimestepEmbedder.timestep_embedding(t, model.t_embedder.frequency_embedding_size))
    diffusion = TablesCopiedPerLookup()
    torch.manual_seed(1)
    losses = []
    for step, (x, y) in enumerate(data):
        t = torch.randint(0, diffusion.num_timesteps, (x.shape[0],), device=x.device)
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            terms = diffusion.training_losses(model, x, t, dict(y=y))
        loss = terms["loss"].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        for key, m in emas.items():
            update_ema_per_parameter(m, model, ema_beta(key, step + 1))
        losses.append(torch.stack([loss.detach(), terms["mse"].mean().detach(), terms["vb"].mean().detach()]))
    return model, emas, opt, torch.stack(losses), torch.get_rng_state()


def new_loop(data, bf16, compile_mode="off", trial=0, config=TINY):
    model, emas, opt = fresh(config)
    trainer = Trainer(model, opt, diffusion_module.GaussianDiffusion().prepare(torch.device("cpu")), Emas(model, list(emas.items())), bf16)
    plan = train.CompileTrial(trainer, compile_mode, trial, torch.device("cpu")) if trial else None
    if not plan:
        trainer.set_compile(compile_mode)
    torch.manual_seed(1)
    losses = []
    for step, (x, y) in enumerate(data):
        if plan:
            plan.before_step()
        losses.append(trainer.step(x, y, step + 1, lr_at(step)))
    return model, emas, opt, torch.stack(losses), torch.get_rng_state(), trainer


def assert_same(old, new, what):
    (m0, e0, o0, l0, r0), (m1, e1, o1, l1, r1) = old, new[:5]
    assert torch.equal(l0, l1), (what, l0, l1)
    assert torch.equal(r0, r1), (what, "random state")
    for a, b in zip(m0.state_dict().values(), m1.state_dict().values()):
        assert torch.equal(a, b), what
    for key in EMA_KEYS:
        for a, b in zip(e0[key].parameters(), e1[key].parameters()):
            assert torch.equal(a, b), (what, key)
    for a, b in zip(o0.state_dict()["state"].values(), o1.state_dict()["state"].values()):
        assert all(torch.equal(a[k], b[k]) for k in ("exp_avg", "exp_avg_sq")), what


def check_step():
    t = torch.arange(1000)
    d = diffusion_module.GaussianDiffusion()
    for name in ("sqrt_alphas_cumprod", "posterior_log_variance_clipped", "log_betas", "sqrt_recipm1_alphas_cumprod"):
        assert torch.equal(d._coef(name, t, (1000, 1)), diffusion_module._extract(getattr(d, name), t, (1000, 1))), name
    assert "t_embedder.freqs" not in DiT(**TINY).state_dict()  # the checkpoints' keys stay DiT's
    for bf16, n in ((False, 8), (True, 3)):
        data = batches(n)
        old = old_loop(data, bf16)
        assert_same(old, new_loop(data, bf16), f"bf16={bf16}")
        print(f"step: {n} steps of train.py's Trainer = the loop as it was, bit for bit ({'bf16 autocast' if bf16 else 'float32'}; "
              f"loss {float(old[3][0, 0]):.4f} -> {float(old[3][-1, 0]):.4f})")

    # torch.compile stand-ins (torch 1.13 has none): one that fails when the compiled function runs, one that works.
    data = batches(15)
    old = old_loop(data, False)
    had = getattr(torch, "compile", None)
    had_module = getattr(torch.nn.Module, "compile", None)

    def failing(fn):
        def call(*a, **k):
            raise RuntimeError("stand-in compile failure")
        return call

    try:
        torch.compile = failing
        new = new_loop(data, False, "full")
        assert new[5].compiled is None, "a failed compile must leave the trainer eager"
        assert_same(old, new, "failed compile")
        # --compile blocks: nn.Module.compile's stand-in only records the compiled call (torch 1.13's
        # Module.__call__ does not look at it); the compiled loss terms fail, and all is undone.
        torch.nn.Module.compile = lambda self: setattr(self, "_compiled_call_impl", failing(self))
        new = new_loop(data, False, "blocks")
        assert new[5].compiled is None and "loss_terms" not in vars(new[5].diffusion)
        assert all(block._compiled_call_impl is None for block in new[0].blocks)
        assert_same(old, new, "failed blocks compile")

        def refusing(fn):
            raise RuntimeError("stand-in: torch.compile refuses")

        torch.compile = refusing  # at set-up: the blocks already compiled are undone, the run is eager
        new = new_loop(data, False, "blocks")
        assert new[5].compiled is None and all(block._compiled_call_impl is None for block in new[0].blocks)
        assert_same(old, new, "refused compile")
        calls = []

        def working(fn):
            def call(*a, **k):
                calls.append(1)
                return fn(*a, **k)
            return call

        torch.compile = working
        new = new_loop(data, False, "full", trial=2)  # 5 + 2 eager, 5 + 2 compiled: decided before step 15
        kept = new[5].compiled is not None
        assert len(calls) == (8 if kept else 7), (calls, kept)
        assert_same(old, new, "compile trial")
    finally:
        for owner, name, value in ((torch, "compile", had), (torch.nn.Module, "compile", had_module)):
            if value is None:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
    print("step: with a compile that fails (redone eagerly) and one that works (--compile-trial): the same run")


def shared_draws(n=16):
    """A batch with its timesteps, noise and label-dropout mask, fixed."""
    g = torch.Generator().manual_seed(11)
    x, y = batches(1, n)[0]
    return x, torch.randint(0, 1000, (n,), generator=g), y, torch.rand(n, generator=g) < 0.1, torch.randn(x.shape, generator=g)


def procs_worker(rank, world, port, out):
    """One of check_procs's processes: its share of shared_draws() through DistributedDataParallel."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    model = fresh()[0]
    trainer = Trainer(model, None, diffusion_module.GaussianDiffusion(), None, False, forward=torch.nn.parallel.DistributedDataParallel(model))
    x, t, y, drop, noise = (v[rank::world] for v in shared_draws())
    trainer.losses(x, t, y, drop, noise)[0].backward()
    if rank == 0:
        torch.save({n: q.grad for n, q in model.named_parameters() if q.grad is not None}, out)
    torch.distributed.destroy_process_group()


def check_procs():
    model = fresh()[0]
    Trainer(model, None, diffusion_module.GaussianDiffusion(), None, False).losses(*shared_draws())[0].backward()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "grads.pt")
        torch.multiprocessing.spawn(procs_worker, args=(2, train.Ranks.free_port(), out), nprocs=2)
        grads = torch.load(out)
    want = {n: q.grad for n, q in model.named_parameters() if q.grad is not None}
    assert set(grads) == set(want)
    err = max(float((grads[n] - want[n]).norm() / want[n].norm().clamp_min(1e-12)) for n in want)
    assert err < 1e-5, err
    print(f"procs: 2 processes' averaged gradient = 1 process's on the whole batch (largest relative difference {err:.1e})")


def check_init():
    model = fresh()[0]
    weights = {k: v.detach().to(torch.float16) for k, v in model.state_dict().items()}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "w.safetensors")
        write_safetensors(path, weights, {"config": json.dumps(TINY), "training": json.dumps({"train_steps": 40, "train_epochs": 0.5, "train_minutes": 2.5})})
        loaded, init = train.load_init(path, dict(TINY))
        assert set(loaded) == set(weights) and all(torch.equal(loaded[k], weights[k].float()) for k in weights)
        assert init["train_steps"] == 40 and init["train_epochs"] == 0.5 and len(init["sha256"]) == 64, init
        try:
            train.load_init(path, dict(TINY, depth=3))
            raise AssertionError("an --init of another architecture must be refused")
        except SystemExit as e:
            assert "depth" in str(e) and "architecture flags" in str(e), e
    ck = {"step": 10, "epoch": 0, "batch": 10, "steps_per_epoch": 20, "train_seconds": 60, "ema_decay": 0.999,
          "args": {"batch_size": 16}, "ema": {}, "config": TINY, "init": init}
    facts = checkpoint_source(ck)[2]
    assert (facts["train_steps"], facts["train_epochs"], facts["train_minutes"]) == (50, 1.0, 3.5) and facts["init"] == init, facts
    print("init: --init loads the file's weights, refuses another architecture; export counts the earlier 40 steps (50 in all)")


def check_round_init():
    """gpu_round.py --init shipped (its default): C, the shipped architecture, goes on from the tree's
    weights (int8 rows) and counts their steps; another architecture starts from a random init."""
    import argparse

    import gpu_round

    assert gpu_round.init_flags("shipped", "C") == ["--init", gpu_round.SHIPPED]
    assert gpu_round.init_flags("shipped", "A") == [] and gpu_round.init_flags("none", "C") == []
    assert gpu_round.init_flags("w.safetensors", "A") == ["--init", "w.safetensors"]
    flags = dict(compile="auto", device="cuda", compile_trial=50, data_dir="d", batch_size=512, lr=6e-4, minutes=6, epochs=10, log_every=500, cooldown=0)
    weighted = gpu_round.train_flags(argparse.Namespace(**flags, class_weights="6:3"))
    assert weighted[weighted.index("--class-weights") + 1] == "6:3" and weighted[weighted.index("--compile") + 1] == "blocks", weighted
    assert "--class-weights" not in gpu_round.train_flags(argparse.Namespace(**flags, class_weights="")), "no weights, no flag"
    config = train.model_config(argparse.Namespace(**gpu_round.candidate_config("C")))
    weights, init = train.load_init(gpu_round.SHIPPED, config)
    shipped = tensorio.read_safetensors(gpu_round.SHIPPED)
    model = DiT(**config)
    model.load_state_dict(weights)  # every key, every shape
    assert all(torch.equal(weights[k], shipped[k].float()) for k in shipped)
    with open(os.path.join(os.path.dirname(gpu_round.SHIPPED), "config.json")) as f:
        assert init["train_steps"] == json.load(f)["train_steps"], init
    try:
        train.load_init(gpu_round.SHIPPED, train.model_config(argparse.Namespace(**gpu_round.candidate_config("A"))))
        raise AssertionError("the shipped weights must be refused for architecture A")
    except SystemExit as e:
        assert "architecture flags" in str(e), e
    print(f"round init: C warm-starts from the shipped weights ({init['train_steps']} steps), A from a random init")


def write_idx_gz(path, array):
    """A uint8 array as a gzipped idx file (fmnist.py's format)."""
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def tiny_run(tmp, *flags):
    """A train.py command for a tiny model (hidden 32, depth 1) on 40 random images written into tmp,
    writing into tmp/run, with train.py's defaults for what `flags` (and the caller) do not give."""
    rng = np.random.default_rng(0)
    write_idx_gz(os.path.join(tmp, "train-images-idx3-ubyte.gz"), rng.integers(0, 256, (40, 28, 28)))
    write_idx_gz(os.path.join(tmp, "train-labels-idx1-ubyte.gz"), rng.integers(0, 10, (40,)))
    return [sys.executable, "train.py", "--out", os.path.join(tmp, "run"), "--data-dir", tmp, "--batch-size", "8",
            "--save-every-min", "60", "--threads", "1", "--no-bf16", "--patch-size", "4", "--hidden-size", "32",
            "--depth", "1", "--num-heads", "2", *flags]


HERE = os.path.dirname(os.path.abspath(__file__))


def check_finish():
    """A run that finishes its epochs with --save-every-min writes its last step (the 2026-11-27 second
    GPU round's first leg stopped at --epochs after 11,700 steps with a checkpoint of step 5,521)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = tiny_run(tmp, "--epochs", "2", "--log-every", "100", "--warmup", "2")
        subprocess.run(cmd, cwd=HERE, check=True, capture_output=True, timeout=600)
        ck = torch.load(os.path.join(tmp, "run", "last.pt"), map_location="cpu")
        assert (ck["step"], ck["epoch"], ck["batch"]) == (10, 2, 0), (ck["step"], ck["epoch"], ck["batch"])
    print("finish: a run that ends at --epochs with --save-every-min writes its last step (10 of 10)")


def check_cooldown():
    """train.py --cooldown F: the factor is 1 until the last share F of the time budget, then falls
    linearly to 0; a short run ends with a learning rate near 0 and saves the steps of its decay."""
    f = train.cooldown_factor
    assert [f(e, 60, 0.5) for e in (0, 30, 45, 54, 60, 75)] == [1.0, 1.0, 0.5, 0.2, 0.0, 0.0]
    assert f(59, 60, 0) == 1.0 and f(15, 60, 1) == 0.75
    with tempfile.TemporaryDirectory() as tmp:
        base = tiny_run(tmp, "--epochs", "100000", "--warmup", "1", "--lr", "1e-3")
        out = os.path.join(tmp, "run")
        for bad in (["--cooldown", "0.5"], ["--time-budget-min", "1", "--cooldown", "1.5"]):
            r = subprocess.run(base + bad, cwd=HERE, capture_output=True, text=True, timeout=600)
            assert r.returncode != 0 and "--cooldown" in r.stderr and not os.path.exists(out), (bad, r.stderr[-300:])
        r = subprocess.run(base + ["--time-budget-min", "0.1", "--cooldown", "0.5", "--log-every", "1"], cwd=HERE,
                           check=True, capture_output=True, text=True, timeout=600)
        lrs = [float(line.split(" lr ")[1].split()[0]) for line in r.stdout.splitlines() if " lr " in line]
        ck = torch.load(os.path.join(out, "last.pt"), map_location="cpu")
        cool = ck["cooldown"]
        # Every step logged: the last line is the last step, whose rate is at most (one step's time / 3 s) of 1e-3.
        assert lrs[0] == 1e-3 and lrs[-1] < 2e-4 and lrs == sorted(lrs, reverse=True), lrs
        assert 0 < cool["from_step"] < cool["to_step"] == ck["step"] and cool["minutes"] == 0.05, (cool, ck["step"])
        assert checkpoint_source(ck)[2]["lr_cooldown"] == cool
    print(f"cooldown: the rate falls from 1e-3 to {lrs[-1]:.1e} over steps {cool['from_step']}-{cool['to_step']}, saved and exported")


def check_class_weights():
    """train.py --class-weights: parsing, the pool, the dropout that spares extra copies, a run end to end."""
    assert train.parse_class_weights("6:3, 4:2") == {6: 3, 4: 2} and train.parse_class_weights("") == {}
    for bad in ("6", "6:0", "10:2", "x:2", "6:1.5", "-1:2"):
        try:
            train.parse_class_weights(bad)
            raise AssertionError(f"--class-weights {bad} must be refused")
        except SystemExit as e:
            assert "--class-weights" in str(e) and "CLASS:WEIGHT" in str(e), e
    labels = torch.tensor([0, 6, 1, 6, 2])
    pool, extra = train.epoch_pool(labels, {})
    assert torch.equal(pool, torch.arange(5)) and not extra.any()
    pool, extra = train.epoch_pool(labels, {6: 3, 1: 2})
    assert pool.tolist() == [0, 1, 2, 3, 4, 2, 1, 3, 1, 3] and extra.tolist() == [False] * 5 + [True] * 5, (pool, extra)

    # The step's label dropout: the same draws as without keep, less the kept entries.
    model, emas, opt = fresh()
    trainer = Trainer(model, opt, diffusion_module.GaussianDiffusion().prepare(torch.device("cpu")), Emas(model, list(emas.items())), False)
    trainer.dropout = 0.5
    seen = []
    real_losses = trainer.losses
    trainer.losses = lambda x, t, y, drop, noise: (seen.append(drop), real_losses(x, t, y, drop, noise))[1]
    x, y = batches(1, size=64)[0]
    keep = torch.arange(64) % 2 == 0
    torch.manual_seed(3)
    trainer.step(x, y, 1, 1e-3, keep)
    torch.manual_seed(3)
    torch.randint(0, 1000, (64,))
    torch.randn_like(x)
    expected = torch.rand(64) < 0.5
    assert torch.equal(seen[0], expected & ~keep) and expected[1::2].any() and expected[0::2].any(), (seen[0], expected)

    with tempfile.TemporaryDirectory() as tmp:
        cmd = tiny_run(tmp, "--max-steps", "3", "--log-every", "1", "--warmup", "1")
        r = subprocess.run(cmd + ["--class-weights", "3:4"], cwd=HERE, check=True, capture_output=True, text=True, timeout=600)
        counts = np.bincount(train.load_split("train", tmp)[1].numpy(), minlength=10)
        assert f"{40 + 3 * counts[3]} images per epoch" in r.stdout, (counts[3], r.stdout[:400])
        ck = torch.load(os.path.join(tmp, "run", "last.pt"), map_location="cpu")
        assert ck["args"]["class_weights"] == "3:4" and checkpoint_source(ck)[2]["class_weights"] == "3:4"
        r = subprocess.run(cmd + ["--class-weights", "3:2"], cwd=HERE, capture_output=True, text=True, timeout=600)
        assert r.returncode != 0 and "--class-weights 3:4, not 3:2" in r.stderr, r.stderr[-300:]
        r = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, timeout=600)
        assert r.returncode != 0 and "not (none)" in r.stderr, r.stderr[-300:]
    print(f"class weights: parsed and refused, the pool, dropout sparing {int((expected & keep).sum())} kept draws, "
          f"a run of {40 + 3 * counts[3]} images per epoch records, exports and guards its weights")


def check_q8():
    """export.py --dtype q8: what read_safetensors gives back is code * scale per row, within half a
    step of the weights, and quantizing that again gives the same codes and scales (re-export = identity)."""
    torch.manual_seed(0)
    weights = {"blocks.0.attn.qkv.weight": torch.randn(12, 8).half(), "blocks.0.attn.qkv.bias": torch.randn(12).half(),
               "y_embedder.embedding_table.weight": torch.randn(3, 8).half(), "zero.weight": torch.zeros(2, 8).half()}
    q = tensorio.quantize_rows_q8(weights)
    assert q["blocks.0.attn.qkv.weight"].dtype == torch.int8 and q["blocks.0.attn.qkv.weight_scale"].shape == (12, 1)
    assert q["y_embedder.embedding_table.weight"].dtype == torch.float16 and "y_embedder.embedding_table.weight_scale" not in q
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "q8.safetensors")
        write_safetensors(path, q)
        back = tensorio.read_safetensors(path)
        again = os.path.join(tmp, "again.safetensors")
        write_safetensors(again, tensorio.quantize_rows_q8(back))
        assert open(path, "rb").read() == open(again, "rb").read(), "re-quantizing a q8 file must give the same bytes"
    assert set(back) == set(weights), sorted(back)
    w, scale = weights["blocks.0.attn.qkv.weight"].float(), q["blocks.0.attn.qkv.weight_scale"].float()
    assert torch.equal(back["blocks.0.attn.qkv.weight"], q["blocks.0.attn.qkv.weight"].float() * scale)
    assert ((back["blocks.0.attn.qkv.weight"] - w).abs() <= scale / 2 * 1.001).all()
    assert q["blocks.0.attn.qkv.weight"].abs().amax(1).eq(127).all() and torch.equal(back["zero.weight"], weights["zero.weight"].float())
    print("q8: int8 rows read back as code * scale within half a step; re-quantizing gives the same bytes")


def check_taken_for():
    """evaluate.py's per-class misses: the classes given, most first, ties by class id, the label's own left out
    (the same list as test/cli/quality.test.ts's for the TypeScript takenFor)."""
    import evaluate
    top = np.array([6] * 191 + [0, 2, 4] * 3 + [3])
    assert list(evaluate.taken_for(top, 6).items()) == [("T-shirt/top", 3), ("Pullover", 3), ("Coat", 3), ("Dress", 1)], evaluate.taken_for(top, 6)
    assert evaluate.taken_for(np.array([1, 1]), 1) == {} and evaluate.taken_for_text({}) == ""
    assert evaluate.taken_for_text(evaluate.taken_for(top, 6)) == " (taken for T-shirt/top 3, Pullover 3, Coat 3, Dress 1)"
    print("taken for: the misses by class, most first, as the TypeScript side lists them")


def check_pick_emas():
    """gpu_round.pick_emas: FD decides over every scale; the second pick is the best worst class at CFG 4
    among the EMAs whose class accuracy at CFG 1 reaches the CFG-1 floor, else the highest class
    accuracy at the lowest scale (rows in any order); a tie goes to the FD pick;
    ema_file_stem makes a name the device call returns."""
    import gpu_round
    floor = gpu_round.CFG1_ACCURACY_FLOOR
    classes = lambda shirt: {"T-shirt/top": {"accuracy": 1.0}, "Shirt": {"accuracy": shirt}, "Bag": {"accuracy": 0.99}}
    row = lambda ema, cfg, fd, acc, shirt=0.9: {"ema": ema, "cfg": cfg, "fd": fd, "accuracy": acc, "per_class": classes(shirt)}
    # No EMA reaches the floor at CFG 1: the most accurate there (0.9999's best Shirt at CFG 4 does not count).
    rows = [row(0.9999, 1.0, 9.0, floor - 0.05), row(0.9999, 4.0, 30.0, 0.999, 0.99),
            row("sigma:0.05", 1.0, 8.5, floor - 0.01), row("sigma:0.05", 4.0, 29.0, 0.990, 0.95),
            row("sigma:0.2", 4.0, 28.0, 0.995, 0.96), row("sigma:0.2", 1.0, 7.9, floor - 0.03)]
    assert gpu_round.pick_emas(rows) == ("sigma:0.2", "sigma:0.05"), gpu_round.pick_emas(rows)
    assert gpu_round.pick_emas([r for r in rows if r["ema"] != "sigma:0.05"]) == ("sigma:0.2", "sigma:0.2")
    # Two reach it: the better worst class at CFG 4 (0.9999's Shirt 0.99), not the higher CFG-1 accuracy.
    met = [dict(r, accuracy=floor + 0.02) if r["ema"] == 0.9999 and r["cfg"] == 1.0 else
           dict(r, accuracy=floor + 0.04) if r["ema"] == "sigma:0.05" and r["cfg"] == 1.0 else r for r in rows]
    assert gpu_round.pick_emas(met) == ("sigma:0.2", 0.9999), gpu_round.pick_emas(met)
    # A worst class under Shirt counts as the worst: Bag 0.99 < Shirt 0.995 for 0.9999.
    met_bag = [dict(r, per_class=classes(0.995)) if r["ema"] == 0.9999 and r["cfg"] == 4.0 else r for r in met]
    assert gpu_round.pick_emas(met_bag) == ("sigma:0.2", 0.9999)
    worse = [dict(r, per_class={**classes(0.99), "Bag": {"accuracy": 0.94}}) if r["ema"] == 0.9999 and r["cfg"] == 4.0 else r for r in met]
    assert gpu_round.pick_emas(worse) == ("sigma:0.2", "sigma:0.05"), gpu_round.pick_emas(worse)
    tie = [row(0.9999, 1.0, 9.0, 0.82), row("sigma:0.2", 1.0, 7.9, 0.82), row("sigma:0.05", 1.0, 8.0, 0.82)]
    assert gpu_round.pick_emas(tie) == ("sigma:0.2", "sigma:0.2")
    tie4 = [row(e, c, fd, 0.9, 0.96) for e, fd in ((0.9999, 9.0), ("sigma:0.2", 7.9)) for c in (1.0, 4.0)]
    assert gpu_round.pick_emas(tie4) == ("sigma:0.2", "sigma:0.2")
    # The floor is CFG 1's: scored only at 1.5 and 4, the most accurate at 1.5 (sigma:0.05), though 0.9999
    # reaches 0.85 there and has the better worst class at CFG 4.
    no_cfg1 = [dict(r, cfg=1.5) if r["cfg"] == 1.0 else r for r in met]
    assert gpu_round.pick_emas(no_cfg1) == ("sigma:0.2", "sigma:0.05"), gpu_round.pick_emas(no_cfg1)
    assert gpu_round.ema_file_stem("C", "sigma:0.05") == "C.ema-sigma-0.05" and gpu_round.ema_file_stem("C", 0.9999) == "C.ema-0.9999"
    scored = [{"cfg": 4.0, "fd": 17.85, "accuracy": 0.993, "per_class": classes(0.965)},
              {"cfg": 1.0, "fd": 12.27, "accuracy": 0.824, "per_class": classes(0.5)},
              {"cfg": 1.5, "fd": 7.73, "accuracy": 0.911, "per_class": classes(0.71)}]
    assert gpu_round.target_line(scored) == ("best FD   7.73 at cfg 1.5; cfg 4: FD  17.85, worst class Shirt 0.965 (target 0.97); "
                                             "cfg 1: class acc. 0.824 (target 0.85)"), gpu_round.target_line(scored)
    assert gpu_round.target_line(scored[2:]) == "best FD   7.73 at cfg 1.5; cfg 4: -; cfg 1: -"
    scored[0]["per_class"]["Shirt"]["taken_for"] = {"Coat": 4, "Pullover": 3}
    assert "worst class Shirt 0.965 (taken for Coat 4, Pullover 3) (target 0.97)" in gpu_round.target_line(scored), gpu_round.target_line(scored)
    # After a cooldown pass 1 scores the trained weights too, read from the checkpoint's "model".
    from dit import RAW_WEIGHTS, ema_weights
    assert gpu_round.pass1_keys({}) == gpu_round.EMAS
    assert gpu_round.pass1_keys({"cooldown": {"from_step": 5}}) == gpu_round.EMAS + (RAW_WEIGHTS,)
    ck = {"model": "trained", "ema": "main", "ema_decay": 0.9999, "emas": {"sigma:0.05": "short"}}
    assert [ema_weights(ck, k) for k in (None, 0.9999, "sigma:0.05", RAW_WEIGHTS)] == ["main", "main", "short", "trained"]
    assert [train.parse_weights_key(k) for k in ("model", "sigma:0.1", "0.999")] == [RAW_WEIGHTS, "sigma:0.1", 0.999]
    assert gpu_round.ema_file_stem("C", RAW_WEIGHTS) == "C.ema-model"
    print("round picks: FD over every scale; the best worst class at CFG 4 among the EMAs over the CFG-1 floor, "
          "else class accuracy at the lowest; a tie goes to the FD pick; the targets' line; "
          "the trained weights scored after a cooldown")


if __name__ == "__main__":
    check_class_weights()
    check_taken_for()
    check_pick_emas()
    check_cooldown()
    check_round_init()
    check_q8()
    check_finish()
    check_procs()
    check_init()
    check_frechet()
    check_ema()
    check_step()
    print("checks passed")
