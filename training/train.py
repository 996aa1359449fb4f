"""Train the embedded default DiT on Fashion-MNIST (pixel space, 1x32x32, 10 classes), on the CPU
or a CUDA GPU (--device).

Resumable: a checkpoint {"model","ema","emas","opt","args","config", plus "step","epoch"} is written
at every epoch end (or every --save-every-min minutes) and when the time budget runs out or the
process gets SIGTERM/SIGINT; run the same command again to continue. The architecture (--patch-size,
--hidden-size, --depth, --num-heads) is DiT's with its official key names, so any variant loads where
the shipped model does. Extra EMAs (--extra-ema) are kept beside the main one for evaluate.py to
compare: a decay d (like the main one: min(d, (1 + step) / (10 + step)) each step), or `sigma:S`, a
power-function EMA of relative length S (Karras et al. 2024, "Analyzing and Improving the Training
Dynamics of Diffusion Models", section 3.1: beta_t = (1 - 1/t)^(gamma + 1), gamma from S). The
warm-up caps every decay d at (1 + step) / (10 + step), about 1 - 9/step, until step = 9d/(1-d)
(18,000 for 0.9995): in shorter runs every decay-d EMA is the same average. Power EMAs differ at any
length, since their averaging window is a fixed share of the run.
"""
import argparse
import copy
import functools
import os
import signal
import time
from collections import OrderedDict

import torch

from diffusion import GaussianDiffusion
from dit import DiT, FASHION_CONFIG, load_checkpoint
from fmnist import DATA_DIR, load_split, to_model_range


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


def ema_beta(key, step):
    """This step's decay of the EMA stored under `key` (step counts from 1)."""
    if isinstance(key, str):
        return (1 - 1 / step) ** (power_ema_gamma(float(key[6:])) + 1)
    return min(key, (1 + step) / (10 + step))


@torch.no_grad()
def update_ema(ema, model, decay):
    ema_params = OrderedDict(ema.named_parameters())
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        ema_params[name].mul_(decay).add_(param.data, alpha=1 - decay)


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
    p.add_argument("--save-every-min", type=float, default=0, help="also checkpoint every this many minutes (0 = at epoch ends only)")
    args = p.parse_args()

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else ("cpu" if args.device == "auto" else args.device))
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
    # weight_decay 0 as in the official train.py; pos_embed is frozen so it is not optimised.
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=args.lr, weight_decay=0)
    diffusion = GaussianDiffusion()
    step, epoch, start_batch, elapsed_before = 0, 0, 0, 0.0

    if os.path.exists(ckpt_path):
        ck = load_checkpoint(ckpt_path)
        if ck.get("config", FASHION_CONFIG) != config:
            raise SystemExit(f"{ckpt_path} holds a model of config {ck.get('config', FASHION_CONFIG)}, not {config}: use another --out or the same architecture flags")
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        for d, m in extra.items():
            m.load_state_dict(ck.get("emas", {}).get(d, ck["ema"]))
        opt.load_state_dict(ck["opt"])
        step, epoch, start_batch = ck["step"], ck["epoch"], ck["batch"]
        elapsed_before = ck.get("train_seconds", 0.0)
        torch.set_rng_state(ck["rng"])
        if device.type == "cuda" and "cuda_rng" in ck:
            torch.cuda.set_rng_state(ck["cuda_rng"])
        print(f"resumed from {ckpt_path}: step {step}, epoch {epoch}, batch {start_batch}", flush=True)
    else:
        ema.load_state_dict(model.state_dict())
        for m in extra.values():
            m.load_state_dict(model.state_dict())

    images, labels = load_split("train", args.data_dir)
    images, labels = images.to(device), labels.to(device)
    n = images.shape[0]
    steps_per_epoch = n // args.batch_size  # drop the last partial batch, like drop_last=True
    print(f"params {sum(q.numel() for q in model.parameters() if q.requires_grad)/1e6:.3f}M, "
          f"{n} images, {steps_per_epoch} steps/epoch", flush=True)

    model.train()
    ema.eval()
    t0 = time.time()
    last_save = t0
    log_loss = log_mse = log_vb = 0.0
    log_n = 0
    log_t = time.time()

    def save(batch_index, ep):
        tmp = ckpt_path + ".tmp"
        state = {
            "model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "args": vars(args),
            "config": config, "ema_decay": args.ema_decay, "emas": {d: m.state_dict() for d, m in extra.items()},
            "step": step, "epoch": ep, "batch": batch_index, "steps_per_epoch": steps_per_epoch,
            "train_seconds": elapsed_before + time.time() - t0, "rng": torch.get_rng_state(),
        }
        if device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state()
        torch.save(state, tmp)
        os.replace(tmp, ckpt_path)

    # SIGTERM/SIGINT stop the run cleanly after the current step, with a resumable checkpoint.
    stop = {"flag": False}

    def request_stop(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    done = False
    while epoch < args.epochs and not done:
        # The permutation depends only on (seed, epoch) so a resumed epoch sees the same order.
        g = torch.Generator().manual_seed(args.seed * 1000 + epoch)
        perm = torch.randperm(n, generator=g).to(device)
        for b in range(start_batch, steps_per_epoch):
            idx = perm[b * args.batch_size : (b + 1) * args.batch_size]
            x = to_model_range(images[idx])
            y = labels[idx]
            t = torch.randint(0, diffusion.num_timesteps, (x.shape[0],), device=device)
            lr = args.lr * min(1.0, (step + 1) / args.warmup)
            for group in opt.param_groups:
                group["lr"] = lr
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=not args.no_bf16):
                terms = diffusion.training_losses(model, x, t, dict(y=y))
            loss = terms["loss"].mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            # EMA warm-up: early on the average follows the model closely, later it uses the full decay.
            update_ema(ema, model, ema_beta(args.ema_decay, step))
            for d, m in extra.items():
                update_ema(m, model, ema_beta(d, step))

            # Summed on the device; read (a synchronisation) only when logging.
            log_loss += loss.detach(); log_mse += terms["mse"].mean().detach(); log_vb += terms["vb"].mean().detach(); log_n += 1
            if step % args.log_every == 0:
                log_loss, log_mse, log_vb = float(log_loss), float(log_mse), float(log_vb)
                now = time.time()
                wall = elapsed_before + now - t0
                print(f"step {step:6d} epoch {epoch} loss {log_loss/log_n:.4f} mse {log_mse/log_n:.4f} vb {log_vb/log_n:.4f} "
                      f"lr {lr:.2e} {(now-log_t)/log_n:.3f}s/step wall {wall/60:.1f}min", flush=True)
                log_loss = log_mse = log_vb = 0.0
                log_n = 0
                log_t = now
            over_budget = args.time_budget_min and (time.time() - t0) / 60 >= args.time_budget_min
            if args.save_every_min and (time.time() - last_save) / 60 >= args.save_every_min:
                save(b + 1, epoch)
                last_save = time.time()
            if (args.max_steps and step >= args.max_steps) or over_budget or stop["flag"]:
                save(b + 1, epoch)
                print(f"stopped at step {step} (epoch {epoch}, batch {b+1}); checkpoint {ckpt_path}", flush=True)
                done = True
                break
        if done:
            break
        epoch += 1
        start_batch = 0
        save(0, epoch)
        print(f"epoch {epoch} done at step {step}, wall {(elapsed_before + time.time() - t0)/60:.1f}min; checkpoint saved", flush=True)


if __name__ == "__main__":
    main()
