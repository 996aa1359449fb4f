"""Train the embedded default DiT on Fashion-MNIST (pixel space, 1x32x32, 10 classes) on CPU.

Resumable: a checkpoint {"model","ema","opt","args", plus "step","epoch"} is written at every epoch
end and when the time budget runs out; run the same command again to continue.
"""
import argparse
import copy
import os
import signal
import time
from collections import OrderedDict

import torch

from diffusion import GaussianDiffusion
from dit import DiT, FASHION_CONFIG
from fmnist import load_split, to_model_range


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
    args = p.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    ckpt_path = os.path.join(args.out, "last.pt")

    model = DiT(**FASHION_CONFIG)
    ema = copy.deepcopy(model)
    for q in ema.parameters():
        q.requires_grad_(False)
    # weight_decay 0 as in the official train.py; pos_embed is frozen so it is not optimised.
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=args.lr, weight_decay=0)
    diffusion = GaussianDiffusion()
    step, epoch, start_batch, elapsed_before = 0, 0, 0, 0.0

    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location="cpu")
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        step, epoch, start_batch = ck["step"], ck["epoch"], ck["batch"]
        elapsed_before = ck.get("train_seconds", 0.0)
        torch.set_rng_state(ck["rng"])
        print(f"resumed from {ckpt_path}: step {step}, epoch {epoch}, batch {start_batch}", flush=True)
    else:
        ema.load_state_dict(model.state_dict())

    images, labels = load_split("train")
    n = images.shape[0]
    steps_per_epoch = n // args.batch_size  # drop the last partial batch, like drop_last=True
    print(f"params {sum(q.numel() for q in model.parameters() if q.requires_grad)/1e6:.3f}M, "
          f"{n} images, {steps_per_epoch} steps/epoch", flush=True)

    model.train()
    ema.eval()
    t0 = time.time()
    log_loss = log_mse = log_vb = 0.0
    log_n = 0
    log_t = time.time()

    def save(batch_index, ep):
        tmp = ckpt_path + ".tmp"
        torch.save({
            "model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "args": args,
            "step": step, "epoch": ep, "batch": batch_index,
            "train_seconds": elapsed_before + time.time() - t0, "rng": torch.get_rng_state(),
        }, tmp)
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
        perm = torch.randperm(n, generator=g)
        for b in range(start_batch, steps_per_epoch):
            idx = perm[b * args.batch_size : (b + 1) * args.batch_size]
            x = to_model_range(images[idx])
            y = labels[idx]
            t = torch.randint(0, diffusion.num_timesteps, (x.shape[0],))
            lr = args.lr * min(1.0, (step + 1) / args.warmup)
            for group in opt.param_groups:
                group["lr"] = lr
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not args.no_bf16):
                terms = diffusion.training_losses(model, x, t, dict(y=y))
            loss = terms["loss"].mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            # EMA warm-up: early on the average follows the model closely, later it uses the full decay.
            update_ema(ema, model, min(args.ema_decay, (1 + step) / (10 + step)))

            log_loss += loss.item(); log_mse += terms["mse"].mean().item(); log_vb += terms["vb"].mean().item(); log_n += 1
            if step % args.log_every == 0:
                now = time.time()
                wall = elapsed_before + now - t0
                print(f"step {step:6d} epoch {epoch} loss {log_loss/log_n:.4f} mse {log_mse/log_n:.4f} vb {log_vb/log_n:.4f} "
                      f"lr {lr:.2e} {(now-log_t)/log_n:.3f}s/step wall {wall/60:.1f}min", flush=True)
                log_loss = log_mse = log_vb = 0.0
                log_n = 0
                log_t = now
            over_budget = args.time_budget_min and (time.time() - t0) / 60 >= args.time_budget_min
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
