"""Train the embedded default DiT on Fashion-MNIST (pixel space, 1x32x32, 10 classes), on the CPU
or a CUDA GPU (--device).

Resumable: a checkpoint {"model","ema","emas","opt","args","config", plus "step","epoch"} is written
at every epoch end (or, instead, every --save-every-min minutes) and when the time budget runs out or the
process gets SIGTERM/SIGINT; run the same command again to continue. The architecture (--patch-size,
--hidden-size, --depth, --num-heads) is DiT's with its official key names, so any variant loads where
the shipped model does. Extra EMAs (--extra-ema) are kept beside the main one for evaluate.py to
compare: a decay d (like the main one: min(d, (1 + step) / (10 + step)) each step), or `sigma:S`, a
power-function EMA of relative length S (Karras et al. 2024, "Analyzing and Improving the Training
Dynamics of Diffusion Models", section 3.1: beta_t = (1 - 1/t)^(gamma + 1), gamma from S). The
warm-up caps every decay d at (1 + step) / (10 + step), about 1 - 9/step, until step = 9d/(1-d)
(18,000 for 0.9995): in shorter runs every decay-d EMA is the same average. Power EMAs differ at any
length, since their averaging window is a fixed share of the run.

Per step the loop makes no host<->device copy and no synchronisation except at log steps and
checkpoints: the training set sits on the device once, as floats in [-1, 1], indexed by each
epoch's permutation; timesteps, noise and the label-dropout mask are drawn on the device, in the
order the model and loss used to draw them; the diffusion tables and the timestep frequencies are
kept on the device; the EMAs are updated with one _foreach_mul_/_foreach_add_ pair each (the same
ema * d + p * (1 - d) per tensor as before); on CUDA AdamW is the fused kernel (torch >= 2), TF32 on.
On the CPU a run is bit for bit what the per-parameter loop gave (checks.py); on CUDA the same seed
gives the same data order, timesteps, noise and dropout, with float results that may differ in the
last bits from run to run (atomics in the embedding's backward, cuBLAS/fused-kernel choices).

--compile blocks|full (torch >= 2) compiles each DiT block (the first compile serves all of them)
or the whole loss (model and diffusion terms, forward and backward). --compile-trial N first times
N eager steps, then N compiled ones (after a few that compile), and keeps the faster; every one of
them is a training step. If compiling or a compiled step raises, the step is redone eagerly with the
same inputs and the run goes on eager. CUDA graphs (mode="reduce-overhead") are not offered: their
outputs are overwritten by the next replay, and the loss sums kept for the log, the optimizer's and
the EMAs' in-place updates of the same parameters around the graph would each need care that
cannot be tested here without a GPU, for a gain that is small once the step is not launch-bound.

--cooldown F lets the learning rate fall linearly to 0 over the last share F of --time-budget-min
(warm-up, a constant rate, then a decay: the schedule of runs whose length is a time budget rather
than a step count). Its first step is logged; its first and last are saved, and export.py puts them
in the facts.

--class-weights "6:3" shows every image of class 6 three times per epoch (integer weights): more
training on a class the model finds hard (Shirt) without changing what the unconditional model
learns: the extra copies never have their label dropped, so the null label still sees the data's
own class balance (oversampling a class in the unconditional model too would weaken the guidance
towards it: CFG pushes along log p(x|c) - log p(x), and p(x) would then lean towards c).
"""
import argparse
import copy
import functools
import importlib
import inspect
import os
import signal
import time
import torch

from diffusion import GaussianDiffusion
from dit import DiT, FASHION_CONFIG, RAW_WEIGHTS, load_checkpoint
from fmnist import DATA_DIR, load_split, to_model_range

COMPILE_MODES = ("off", "blocks", "full")


def model_config(args):
    """The DiT config of this run: FASHION_CONFIG with the architecture flags applied."""
    config = dict(FASHION_CONFIG)
    config.update(patch_size=args.patch_size, hidden_size=args.hidden_size, depth=args.depth, num_heads=args.num_heads)
    if config["input_size"] % config["patch_size"] or config["hidden_size"] % config["num_heads"]:
        raise SystemExit(f"--patch-size must divide {config['input_size']} and --num-heads must divide --hidden-size: got {config}")
    return config


@functools.lru_cache(maxsize=None)
def power_ema_gamma(sigma_rel):
    """gamma of the power-function EMA whose relative standard deviation is sigma_rel:
    sigma_rel^2 = (gamma + 1) / ((gamma + 2)^2 (gamma + 3)), solved by bisection (decreasing in gamma)."""
    if not 0 < sigma_rel < 12 ** -0.5:
        raise SystemExit(f"--extra-ema sigma:{sigma_rel}: the relative length must be in (0, {12 ** -0.5:.4f})")
    lo, hi = -1 + 1e-9, 1e6
    for _ in range(200):
        mid = (lo + hi) / 2
        if (mid + 1) / ((mid + 2) ** 2 * (mid + 3)) > sigma_rel ** 2:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def parse_ema(spec):
    """An --extra-ema entry: a decay (float) or "sigma:S" (the key it is stored under, as given)."""
    if spec.startswith("sigma:"):
        power_ema_gamma(float(spec[6:]))
        return spec
    d = float(spec)
    if not 0 < d < 1:
        raise SystemExit(f"--extra-ema {spec}: a decay must be in (0, 1), or give sigma:S for a power EMA")
    return d


def parse_weights_key(spec):
    """Which weights of a checkpoint to read (export.py --ema, evaluate.py): a decay, "sigma:S", or
    "model" (RAW_WEIGHTS: the trained weights themselves)."""
    return RAW_WEIGHTS if spec == RAW_WEIGHTS else parse_ema(spec)


def ema_beta(key, step):
    """This step's decay of the EMA stored under `key` (step counts from 1)."""
    if isinstance(key, str):
        return (1 - 1 / step) ** (power_ema_gamma(float(key[6:])) + 1)
    return min(key, (1 + step) / (10 + step))


class Emas:
    """The EMAs of a model's trainable parameters, each under its key (a decay or "sigma:S"), updated
    per step with one _foreach_mul_ and one _foreach_add_ each: ema = ema * d + p * (1 - d), tensor
    by tensor as the per-parameter loop did, in a few kernels instead of two per parameter."""

    def __init__(self, model, models):
        """models: (key, EMA model) pairs (a list: --extra-ema may repeat the main decay)."""
        names = [n for n, q in model.named_parameters() if q.requires_grad]
        self.params = [q for q in model.parameters() if q.requires_grad]
        self.targets = []
        for key, m in models:
            own = dict(m.named_parameters())
            self.targets.append((key, [own[n] for n in names]))

    @torch.no_grad()
    def update(self, step):
        """After optimizer step `step` (from 1); ema_beta's warm-up: early on each average follows the
        model closely, later it uses its full decay."""
        for key, target in self.targets:
            decay = ema_beta(key, step)
            torch._foreach_mul_(target, decay)
            torch._foreach_add_(target, self.params, alpha=1 - decay)


def parse_class_weights(spec, num_classes=10):
    """--class-weights "6:3,4:2" -> {6: 3, 4: 2}: how many times each image of a class is in an epoch (integers >= 1)."""
    out = {}
    for item in (i.strip() for i in spec.split(",") if i.strip()):
        c, sep, w = item.partition(":")
        if not (sep and c.isdigit() and w.isdigit() and int(c) < num_classes and int(w) >= 1):
            raise SystemExit(f"--class-weights {spec!r}: each item is CLASS:WEIGHT with a class id 0..{num_classes - 1} and a whole "
                             f"weight >= 1, e.g. --class-weights 6:3 (every Shirt image three times per epoch)")
        out[int(c)] = int(w)
    return out


def epoch_pool(labels, weights):
    """(indexes into the training set, whether each entry is an extra copy): every image once, in order,
    then for each weighted class (ascending) its images weight - 1 more times. Without weights the pool is
    arange(n), so an epoch's order is the unweighted run's."""
    n = labels.shape[0]
    parts, extra = [torch.arange(n, device=labels.device)], [torch.zeros(n, dtype=torch.bool, device=labels.device)]
    for c in sorted(weights):
        members = torch.nonzero(labels == c).flatten()
        for _ in range(weights[c] - 1):
            parts.append(members)
            extra.append(torch.ones(len(members), dtype=torch.bool, device=labels.device))
    return torch.cat(parts), torch.cat(extra)


def cooldown_factor(elapsed_s, budget_s, share):
    """The learning rate's factor under --cooldown: 1 until the last `share` of the time budget, then
    falling linearly to 0 at its end."""
    if share <= 0:
        return 1.0
    return min(1.0, max(0.0, budget_s - elapsed_s) / (share * budget_s))


def make_optimizer(model, lr, device):
    """AdamW over the trainable parameters (weight decay 0 as in the official train.py; pos_embed is
    frozen): the fused CUDA kernel where this torch has it, else torch's default."""
    params = [q for q in model.parameters() if q.requires_grad]
    if device.type == "cuda" and "fused" in inspect.signature(torch.optim.AdamW).parameters:
        try:
            return torch.optim.AdamW(params, lr=lr, weight_decay=0, fused=True), "fused"
        except (RuntimeError, TypeError, ValueError) as e:
            print(f"optimizer: fused AdamW refused ({e}); the default one", flush=True)
    return torch.optim.AdamW(params, lr=lr, weight_decay=0), "default"


class Trainer:
    """One optimizer step at a time: the draws, the loss (eager or compiled), AdamW, the EMAs."""

    def __init__(self, model, opt, diffusion, emas, bf16, forward=None):
        """forward: what computes the model's output (default: the model; several CPU processes: its
        DistributedDataParallel wrapper, which averages the gradients across them in backward)."""
        self.model, self.opt, self.diffusion, self.emas, self.bf16 = model, opt, diffusion, emas, bf16
        self.forward = model if forward is None else forward
        self.compiled = None  # None, or (mode, the loss function to call)
        self.dropout = model.y_embedder.dropout_prob

    def losses(self, x, t, y, drop, noise):
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            terms = self.diffusion.training_losses(self.forward, x, t, dict(y=y, force_drop_ids=drop), noise)
        return terms["loss"].mean(), terms["mse"].mean().detach(), terms["vb"].mean().detach()

    def step(self, x, y, step, lr, keep=None):
        """Step number `step` (from 1) on the batch (x in [-1, 1], y): the mean loss, MSE and VLB, on the device.
        keep: a bool mask of the batch's entries whose labels are never dropped (--class-weights' extra copies)."""
        # Drawn in the order the loss and the model drew them (t, then noise in training_losses, then
        # the label dropout in LabelEmbedder.token_drop): the same random stream as before.
        t = torch.randint(0, self.diffusion.num_timesteps, (x.shape[0],), device=x.device)
        noise = torch.randn_like(x)
        drop = torch.rand(x.shape[0], device=x.device) < self.dropout if self.dropout > 0 else None
        if drop is not None and keep is not None:
            drop = drop & ~keep
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.zero_grad(set_to_none=True)
        if self.compiled is None:
            loss, mse, vb = self.losses(x, t, y, drop, noise)
            loss.backward()
        else:
            try:
                loss, mse, vb = self.compiled[1](x, t, y, drop, noise)
                loss.backward()
            except Exception as e:  # compiling, or a compiled kernel, failed: this step again, eagerly
                print(f"compile: {self.compiled[0]} failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                      "redoing the step eagerly and staying eager", flush=True)
                self.set_compile("off")
                self.opt.zero_grad(set_to_none=True)
                loss, mse, vb = self.losses(x, t, y, drop, noise)
                loss.backward()
        self.opt.step()
        self.emas.update(step)
        return torch.stack([loss.detach(), mse, vb])

    def set_compile(self, mode):
        """Switch to `mode` (COMPILE_MODES); returns whether it is now on. Compiling itself happens at the next step."""
        if self.compiled is not None and self.compiled[0] == "blocks":
            for block in self.model.blocks:
                block._compiled_call_impl = None  # what nn.Module.compile() set: the block is eager again
            self.diffusion.__dict__.pop("loss_terms", None)  # the class's own method again
        self.compiled = None
        if mode == "off" or not compile_available(mode):
            return False
        self.compiled = (mode, None)
        try:
            if mode == "blocks":
                # One compiled graph serves every block (same code; the parameters are inputs, not
                # constants), and one the loss terms after the model (some 60 small element-wise kernels each way).
                for block in self.model.blocks:
                    block.compile()
                self.diffusion.loss_terms = torch.compile(self.diffusion.loss_terms)
                self.compiled = (mode, self.losses)
            else:
                self.compiled = (mode, torch.compile(self.losses))
        except Exception as e:  # torch.compile itself refused (an unsupported Python, say)
            print(f"compile: {mode} refused ({type(e).__name__}: {e}); eager", flush=True)
            self.set_compile("off")
            return False
        return True


class Ranks:
    """Several CPU processes training one model: `train.py --procs N ...` starts N copies of itself
    (WORLD_SIZE, RANK and a local rendezvous in their environment; Debian's torch 1.13 torchrun fails
    under Python 3.11), passes SIGTERM/SIGINT on and waits for them. On this 2-core machine one
    process with 2 threads is no faster than with 1 (2.3 s against 1.7-2.1 s per step of the shipped architecture at batch 128: the
    threads share out each small operation), while two 1-thread processes each keep most of their
    speed (1.4 s per step for both, 1.9x). Each process takes every N-th image of the step's batch (the same global batch as one
    process), its own timesteps, noise and label dropout (its own seed), and DistributedDataParallel
    averages the gradients (gloo): one model, one AdamW, the same EMAs everywhere. Checkpoints hold
    every process's random state and are written by process 0; a resume with another N re-seeds.
    Decisions by clock or signal (checkpoint, stop) are agreed on at every step."""

    @staticmethod
    def start(args, device):
        """(number of processes, this one's rank); with --procs N > 1 in the parent, runs the N and exits."""
        world = int(os.environ.get("WORLD_SIZE", args.procs))
        if world < 1:
            raise SystemExit(f"--procs {world}: give 1 or more processes")
        if world > 1 and (device.type != "cpu" or args.compile != "off" or args.batch_size % world):
            raise SystemExit(f"--procs {world} is for training on the CPU, eager, with --batch-size a multiple of {world}: "
                             f"got --device {device.type}, --compile {args.compile}, --batch-size {args.batch_size}")
        if world == 1:
            return 1, 0
        if "RANK" not in os.environ:
            raise SystemExit(Ranks.launch(world))
        torch.distributed.init_process_group("gloo")
        return world, int(os.environ["RANK"])

    @staticmethod
    def free_port():
        """A free local port for the processes' rendezvous."""
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    @staticmethod
    def launch(world):
        """Run this command in `world` processes; their exit status (the first non-zero one)."""
        import subprocess
        import sys

        env = dict(os.environ, WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(Ranks.free_port()), OMP_NUM_THREADS="1")
        procs = [subprocess.Popen([sys.executable, *sys.argv], env=dict(env, RANK=str(r))) for r in range(world)]

        def forward(signum, frame):
            for q in procs:
                q.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        codes = [q.wait() for q in procs]
        return next((c for c in codes if c), 0)

    @staticmethod
    def seed(seed, rank, step):
        """Process `rank`'s seed for a new run (step 0) or a resume with another number of processes."""
        return seed + 7919 * rank + 104729 * step

    @staticmethod
    def rng_state(ck, rank, world, seed):
        """The random state this process resumes with."""
        saved = ck.get("rng_ranks")
        if saved is not None and len(saved) == world:
            return saved[rank]
        if rank == 0:
            return ck["rng"]
        return torch.Generator().manual_seed(Ranks.seed(seed, rank, ck["step"])).get_state()

    @staticmethod
    def gather_rng(world):
        states = [None] * world
        torch.distributed.all_gather_object(states, torch.get_rng_state())
        return states

    @staticmethod
    def mean(t, world):
        """t averaged over the processes (the logged loss: each process's share of the batch)."""
        if world > 1:
            t = t.clone()
            torch.distributed.all_reduce(t)
            t /= world
        return t

    @staticmethod
    def any_of(flags, world):
        """Each flag, true where any process has it true."""
        if world == 1:
            return flags
        t = torch.tensor([float(f) for f in flags])
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return tuple(bool(v) for v in t.tolist())


def load_init(path, config):
    """--init: (float32 state dict, facts about it) from exported weights or a train.py checkpoint's main
    EMA. The facts (file name, SHA-256, its train_steps/train_epochs/train_minutes) go into every
    checkpoint of the run; export.py adds the steps so the shipped config counts the whole training."""
    import hashlib
    from export import load_source  # export imports this module: import it here, not at the top

    if not os.path.isfile(path):
        raise SystemExit(f"--init {path}: no such file; give a model.safetensors (config.json beside it) or a train.py last.pt")
    weights, arch, facts, _ = load_source(path)
    arch = {**FASHION_CONFIG, **arch}
    if arch != config:
        raise SystemExit(f"--init {path} holds a model of config {arch}, not this run's {config}: pass the same architecture flags")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    init = {"file": os.path.basename(path), "sha256": h.hexdigest()}
    init.update({k: facts[k] for k in ("train_steps", "train_epochs", "train_minutes") if facts.get(k) is not None})
    return {k: v.float() for k, v in weights.items()}, init


def compile_available(mode):
    """Whether this torch can compile `mode` (blocks or full); says why not. Raises Dynamo's limit of
    recompilations per function (8 by default: one per block, if each block's graph is guarded on
    the module itself, would reach it)."""
    if not hasattr(torch, "compile"):
        print(f"compile: unavailable in torch {torch.__version__} (needs >= 2.0); eager", flush=True)
        return False
    if mode == "blocks" and not hasattr(torch.nn.Module, "compile"):
        print(f"compile: nn.Module.compile (--compile blocks) is not in torch {torch.__version__}; eager", flush=True)
        return False
    try:
        config = importlib.import_module("torch._dynamo").config
        for name in ("recompile_limit", "cache_size_limit"):  # the name since 2.6, and before
            if hasattr(config, name):
                setattr(config, name, max(getattr(config, name), 64))
    except Exception as e:  # a torch without these settings: compile with its defaults
        print(f"compile: Dynamo's recompile limit left as it is ({type(e).__name__}: {e})", flush=True)
    return True


class CompileTrial:
    """--compile-trial N: after WARM eager steps, N eager steps timed, then compiled: WARM steps (the
    compiling) and N timed; keeps the faster and prints both. Every one is a training step."""
    WARM = 5

    def __init__(self, trainer, mode, n, device):
        self.trainer, self.mode, self.n, self.device = trainer, mode, n, device
        self.k = 0
        self.done = False
        self.marks = {}

    def _now(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    def before_step(self):
        """Call before each step of this process."""
        if self.done:
            return
        w, n, k = self.WARM, self.n, self.k
        self.k += 1
        if k == w:
            self.marks["eager"] = self._now()
        elif k == w + n:
            self.eager_s = (self._now() - self.marks["eager"]) / n
            self.marks["compile"] = self._now()
            self.done = not self.trainer.set_compile(self.mode)
        elif k == 2 * w + n:
            now = self._now()
            self.compile_s = now - self.marks["compile"]
            self.marks["compiled"] = now
        elif k == 2 * w + 2 * n:
            self.done = True
            if self.trainer.compiled is None:  # it failed and fell back
                return
            compiled_s = (self._now() - self.marks["compiled"]) / n
            keep = compiled_s < self.eager_s
            print(f"compile trial ({self.mode}): eager {self.eager_s * 1e3:.1f} ms/step, compiled {compiled_s * 1e3:.1f} ms/step "
                  f"(the first {w} compiled steps, compiling included, took {self.compile_s:.1f} s): "
                  f"{'keeping compiled' if keep else 'back to eager'}", flush=True)
            if not keep:
                self.trainer.set_compile("off")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="runs/fmnist")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0 = no limit); for smoke tests")
    p.add_argument("--time-budget-min", type=float, default=0, help="stop (with a checkpoint) after this many minutes of this process")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--procs", type=int, default=1, help="CPU only: train in this many processes of --threads each, one model "
                   "(DistributedDataParallel, gloo); on the 2-core EPYC --procs 2 --threads 1 is 1.9x one process")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--no-bf16", action="store_true")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (cuda when there is one)")
    p.add_argument("--data-dir", default=DATA_DIR, help="folder with the Fashion-MNIST idx(.gz) files")
    p.add_argument("--patch-size", type=int, default=FASHION_CONFIG["patch_size"])
    p.add_argument("--hidden-size", type=int, default=FASHION_CONFIG["hidden_size"])
    p.add_argument("--depth", type=int, default=FASHION_CONFIG["depth"])
    p.add_argument("--num-heads", type=int, default=FASHION_CONFIG["num_heads"])
    p.add_argument("--extra-ema", default="", help="comma-separated further EMAs kept beside --ema-decay: decays (0.9999) "
                   "or power EMAs of relative length S (sigma:0.05)")
    p.add_argument("--save-every-min", type=float, default=0, help="checkpoint every this many minutes instead of at every epoch end (0: at epoch ends)")
    p.add_argument("--compile", default="off", choices=COMPILE_MODES, help="torch.compile (torch >= 2): each DiT block (blocks) or the "
                   "whole loss with the model (full); falls back to eager if compiling fails")
    p.add_argument("--init", metavar="WEIGHTS", help="start a new run from these weights instead of a random init: a shipped or exported "
                   "model.safetensors (config.json beside it, or in its metadata) or a train.py checkpoint (its main EMA); the same "
                   "architecture flags; AdamW starts fresh, the EMAs start from the weights. Ignored when --out already holds last.pt")
    p.add_argument("--cooldown", type=float, default=0, metavar="F", help="let the learning rate fall linearly to 0 over the last "
                   "share F (0 < F <= 1) of --time-budget-min; 0: a constant rate after the warm-up")
    p.add_argument("--compile-trial", type=int, default=0, help="with --compile: time this many eager steps, then as many "
                   "compiled ones, and keep the faster (0: compile at once)")
    p.add_argument("--class-weights", default="", metavar="C:W,...", help="show every image of class C W times per epoch (whole W >= 1), "
                   "e.g. 6:3 for Shirt; the extra copies never have their label dropped, so the unconditional model keeps the data's balance")
    args = p.parse_args()
    class_weights = parse_class_weights(args.class_weights)
    if args.cooldown and not (0 < args.cooldown <= 1 and args.time_budget_min > 0):
        raise SystemExit(f"--cooldown {args.cooldown}: give a share of the time budget above 0 and at most 1, with --time-budget-min "
                         f"(now {args.time_budget_min}); e.g. --time-budget-min 3 --cooldown 0.5 decays over the last 1.5 minutes")

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else ("cpu" if args.device == "auto" else args.device))
    world, rank = Ranks.start(args, device)
    say = print if rank == 0 else (lambda *a, **k: None)  # one process speaks for all
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    os.makedirs(args.out, exist_ok=True)
    ckpt_path = os.path.join(args.out, "last.pt")

    config = model_config(args)
    model = DiT(**config).to(device)
    ema = copy.deepcopy(model)
    for q in ema.parameters():
        q.requires_grad_(False)
    decays = [args.ema_decay] + [parse_ema(d) for d in args.extra_ema.split(",") if d]
    extra = {d: copy.deepcopy(ema) for d in decays[1:]}
    opt, opt_kind = make_optimizer(model, args.lr, device)
    diffusion = GaussianDiffusion().prepare(device)
    step, epoch, start_batch, elapsed_before = 0, 0, 0, 0.0
    init = None  # where a warm-started run's weights came from (saved in every checkpoint; export.py adds its steps)
    cooldown = None  # {"share", "minutes", "from_step", "leg_start", "to_step"} once a --cooldown has begun (saved; export.py reports it)

    if os.path.exists(ckpt_path):
        ck = load_checkpoint(ckpt_path)
        if ck.get("config", FASHION_CONFIG) != config:
            raise SystemExit(f"{ckpt_path} holds a model of config {ck.get('config', FASHION_CONFIG)}, not {config}: use another --out or the same architecture flags")
        saved_weights = parse_class_weights(ck["args"].get("class_weights", "")) if isinstance(ck.get("args"), dict) else {}
        if saved_weights != class_weights:  # an epoch's batches are positions in the pool: another pool would mean other batches
            raise SystemExit(f"{ckpt_path} was trained with --class-weights {ck['args'].get('class_weights') or '(none)'}, not "
                             f"{args.class_weights or '(none)'}: resume with the same --class-weights or use another --out")
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        for d, m in extra.items():
            m.load_state_dict(ck.get("emas", {}).get(d, ck["ema"]))
        opt.load_state_dict(ck["opt"])
        step, epoch, start_batch = ck["step"], ck["epoch"], ck["batch"]
        elapsed_before = ck.get("train_seconds", 0.0)
        torch.set_rng_state(Ranks.rng_state(ck, rank, world, args.seed))
        if device.type == "cuda" and "cuda_rng" in ck:
            torch.cuda.set_rng_state(ck["cuda_rng"])
        init = ck.get("init")
        cooldown = ck.get("cooldown")
        warm = "" if init is None else f" (warm-started from {init['file']})"
        say(f"resumed from {ckpt_path}: step {step}, epoch {epoch}, batch {start_batch}{warm}", flush=True)
        if args.init:
            say(f"--init {args.init} ignored: resuming {ckpt_path}", flush=True)
    else:
        if args.init:
            weights, init = load_init(args.init, config)
            model.load_state_dict({k: v.to(device) for k, v in weights.items()})
            say(f"warm start from {args.init}: {init}", flush=True)
        ema.load_state_dict(model.state_dict())
        for m in extra.values():
            m.load_state_dict(model.state_dict())

    # The whole set on the device once, already in the model's range (60,000 x 1 x 32 x 32 floats, 246 MB).
    images, labels = load_split("train", args.data_dir)
    images, labels = to_model_range(images.to(device)), labels.to(device)
    pool, pool_extra = epoch_pool(labels, class_weights)
    n = pool.shape[0]
    steps_per_epoch = n // args.batch_size  # drop the last partial batch, like drop_last=True
    weighted = f" ({images.shape[0]} images, class weights {class_weights})" if class_weights else ""
    say(f"params {sum(q.numel() for q in model.parameters() if q.requires_grad)/1e6:.3f}M, "
        f"{n} images per epoch{weighted}, {steps_per_epoch} steps/epoch; {device}, torch {torch.__version__}, AdamW {opt_kind}", flush=True)
    forward = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else None
    trainer = Trainer(model, opt, diffusion, Emas(model, [(args.ema_decay, ema), *extra.items()]), bf16=not args.no_bf16, forward=forward)
    if rank and step == 0:  # a new run: the same initial weights everywhere (seed), then each process its own draws
        torch.manual_seed(Ranks.seed(args.seed, rank, 0))
    trial = None
    if args.compile != "off" and not compile_available(args.compile):
        args.compile = "off"
    if args.compile != "off" and args.compile_trial > 0:
        trial = CompileTrial(trainer, args.compile, args.compile_trial, device)
    else:
        trainer.set_compile(args.compile)

    model.train()
    ema.eval()
    t0 = time.time()
    last_save = t0
    log_sum = 0.0  # loss, MSE, VLB summed on the device; read (a synchronisation) only when logging
    log_n = 0
    log_t = time.time()

    def save(batch_index, ep):
        rng_ranks = Ranks.gather_rng(world) if world > 1 else None  # every process's random state; process 0 writes
        if rank:
            return
        tmp = ckpt_path + ".tmp"
        state = {
            "model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "args": vars(args),
            "config": config, "ema_decay": args.ema_decay, "emas": {d: m.state_dict() for d, m in extra.items()},
            "step": step, "epoch": ep, "batch": batch_index, "steps_per_epoch": steps_per_epoch,
            "train_seconds": elapsed_before + time.time() - t0, "rng": torch.get_rng_state(),
        }
        if init is not None:
            state["init"] = init
        if cooldown is not None:
            if cooldown["leg_start"] == start_step:  # this process's decay: it has reached this step
                cooldown["to_step"] = step
            state["cooldown"] = cooldown
        if device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state()
        if rng_ranks is not None:
            state["rng_ranks"] = rng_ranks
            state["world_size"] = world
        torch.save(state, tmp)
        os.replace(tmp, ckpt_path)

    # SIGTERM/SIGINT stop the run cleanly after the current step, with a resumable checkpoint.
    stop = {"flag": False}

    def request_stop(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    done = False
    start_step = step
    while epoch < args.epochs and not done:
        # The permutation depends only on (seed, epoch) so a resumed epoch sees the same order.
        g = torch.Generator().manual_seed(args.seed * 1000 + epoch)
        perm = torch.randperm(n, generator=g).to(device)
        for b in range(start_batch, steps_per_epoch):
            idx = perm[b * args.batch_size : (b + 1) * args.batch_size]
            if world > 1:  # this process's share of the batch; DDP averages the gradients of the shares
                idx = idx[rank::world]
            keep = pool_extra[idx] if class_weights else None
            idx = pool[idx]
            x, y = images[idx], labels[idx]
            lr = args.lr * min(1.0, (step + 1) / args.warmup)
            if args.cooldown:
                f = cooldown_factor(time.time() - t0, args.time_budget_min * 60, args.cooldown)
                if world > 1:  # the clocks differ: every process takes the mean, so all step with one rate
                    f = float(Ranks.mean(torch.tensor([f]), world))
                if f < 1 and (cooldown is None or cooldown["leg_start"] != start_step):
                    cooldown = {"share": args.cooldown, "minutes": round(args.cooldown * args.time_budget_min, 2), "from_step": step, "leg_start": start_step}
                    say(f"cooldown: from step {step} the learning rate falls linearly to 0 over {cooldown['minutes']} min", flush=True)
                lr *= f
            if trial is not None:
                trial.before_step()
            log_sum = log_sum + trainer.step(x, y, step + 1, lr, keep)
            step += 1
            log_n += 1
            if step % args.log_every == 0:
                log_loss, log_mse, log_vb = (v / log_n for v in Ranks.mean(log_sum, world).tolist())
                now = time.time()
                wall = elapsed_before + now - t0
                say(f"step {step:6d} epoch {epoch} loss {log_loss:.4f} mse {log_mse:.4f} vb {log_vb:.4f} "
                    f"lr {lr:.2e} {(now-log_t)/log_n:.3f}s/step wall {wall/60:.1f}min", flush=True)
                log_sum = 0.0
                log_n = 0
                log_t = now
            over_budget = bool(args.time_budget_min) and (time.time() - t0) / 60 >= args.time_budget_min
            save_due = bool(args.save_every_min) and (time.time() - last_save) / 60 >= args.save_every_min
            stop_due = bool(args.max_steps and step >= args.max_steps) or over_budget or stop["flag"]
            save_due, stop_due = Ranks.any_of((save_due, stop_due), world)  # clocks and signals differ: all act together
            if save_due and not stop_due:  # stopping writes the checkpoint below
                save(b + 1, epoch)
                last_save = time.time()
            if stop_due:
                save(b + 1, epoch)
                say(f"stopped at step {step} (epoch {epoch}, batch {b+1}); checkpoint {ckpt_path}", flush=True)
                done = True
                break
        if done:
            break
        epoch += 1
        start_batch = 0
        # With --save-every-min the periodic checkpoints replace the epoch-end ones: on a GPU an epoch
        # of C at batch 512 takes about a second, and writing model, EMAs and AdamW (234 MB) that often
        # would cost a large share of the run (the first round wrote one every ~117 steps).
        if not args.save_every_min:
            save(0, epoch)
        say(f"epoch {epoch} done at step {step}, wall {(elapsed_before + time.time() - t0)/60:.1f}min"
            f"{'' if args.save_every_min else '; checkpoint saved'}", flush=True)
    if not done and args.save_every_min and step > start_step:
        # Every epoch ran: the periodic checkpoints stop short of the end (up to --save-every-min of
        # steps), so the finished run is written here.
        save(0, epoch)
        say(f"finished {args.epochs} epochs at step {step}; checkpoint {ckpt_path}", flush=True)
    if world > 1:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
