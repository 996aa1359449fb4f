"""PyTorch timings of the official DiT forward, the reference that bench/gpu.sh sets dit-ts against.

The model is facebookresearch/DiT's models.py itself (loaded from --models-py; the GPU kit packs
it), with timm's PatchEmbed/Attention/Mlp as that file imports them. Weights are random, uniform
in +-1/sqrt(fan_in), because the official adaLN-Zero init zeroes whole branches and timing on zeros
can flatter a kernel. Each mode runs the same inputs:

  fp32   float32 matmuls with TF32 off (the "plain PyTorch" line)
  tf32   float32 tensors, TF32 matmuls and convolutions on
  bf16   torch.autocast(dtype=bfloat16), TF32 off

For each (mode, batch): the median of --repeats forwards after --warmup, timed with CUDA events on
a GPU (wall clock on the CPU), and the relative error of the output against fp32 on the same input.

  python3 bench/torch_dit.py --models-py .gpu-kit/official/models.py --batches 2,8 --out torch.json

Prints one JSON line (also written to --out).
"""
import argparse
import importlib.util
import json
import math
import statistics
import sys
import time


def load_official(models_py):
    spec = importlib.util.spec_from_file_location("dit_official_models", models_py)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def randomize(model, torch, seed):
    """Uniform +-1/sqrt(fan_in) for every weight and bias; pos_embed stays the fixed sin-cos table."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "pos_embed":
                continue
            fan_in = p[0].numel() if p.dim() > 1 else p.numel()
            bound = 1.0 / math.sqrt(fan_in)
            p.copy_(torch.rand(p.shape, generator=g) * (2 * bound) - bound)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-py", required=True, help="facebookresearch/DiT models.py")
    ap.add_argument("--model", default="DiT-XL/2")
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--batches", default="2,8")
    ap.add_argument("--modes", default="fp32,tf32,bf16")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cuda", help="cuda | cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out")
    args = ap.parse_args()

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_dit.py: --device cuda but torch.cuda.is_available() is False")
    device = torch.device(args.device)
    official = load_official(args.models_py)
    if args.model not in official.DiT_models:
        sys.exit(f"torch_dit.py: --model {args.model}: must be one of {', '.join(official.DiT_models)}")

    torch.manual_seed(args.seed)
    latent = args.image_size // 8
    model = official.DiT_models[args.model](input_size=latent, num_classes=1000)
    randomize(model, torch, args.seed)
    model = model.eval().to(device)

    import timm

    report = {
        "model": args.model,
        "image_size": args.image_size,
        "device": args.device,
        "gpu": torch.cuda.get_device_name(device) if args.device == "cuda" else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "timm": timm.__version__,
        "timm_fused_attention": bool(getattr(model.blocks[0].attn, "fused_attn", False)),
        "parameters": sum(p.numel() for p in model.parameters()),
        "results": [],
    }

    def set_tf32(on):
        torch.backends.cuda.matmul.allow_tf32 = on
        torch.backends.cudnn.allow_tf32 = on

    def sync():
        if args.device == "cuda":
            torch.cuda.synchronize()

    def time_once(fn):
        if args.device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1000.0
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    for batch in [int(b) for b in args.batches.split(",")]:
        g = torch.Generator().manual_seed(args.seed + batch)
        x = torch.randn(batch, 4, latent, latent, generator=g).to(device)
        t = torch.randint(0, 1000, (batch,), generator=g).to(device)
        y = torch.randint(0, 1000, (batch,), generator=g).to(device)
        reference = None
        for mode in args.modes.split(","):
            if mode not in ("fp32", "tf32", "bf16"):
                sys.exit(f"torch_dit.py: mode {mode}: must be fp32, tf32 or bf16")
            entry = {"mode": mode, "batch": batch}
            if mode == "tf32" and args.device != "cuda":
                report["results"].append({**entry, "skipped": "TF32 exists on CUDA only"})
                continue
            set_tf32(mode == "tf32")
            autocast = torch.autocast(device_type=args.device, dtype=torch.bfloat16, enabled=mode == "bf16")
            out = None

            def forward():
                nonlocal out
                with autocast:
                    out = model(x, t, y)

            if args.device == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            with torch.inference_mode():
                for _ in range(args.warmup):
                    forward()
                sync()
                times = [time_once(forward) for _ in range(args.repeats)]
            result = out.float()
            if mode == "fp32":
                reference = result
            entry.update(
                seconds_per_forward=statistics.median(times),
                seconds_all=times,
                finite=bool(torch.isfinite(result).all()),
                relative_error_to_fp32=None if mode == "fp32" else float((result - reference).norm() / reference.norm()),
                peak_memory_mb=torch.cuda.max_memory_allocated(device) / 2**20 if args.device == "cuda" else None,
            )
            report["results"].append(entry)
            print(f"torch {mode} batch {batch}: {entry['seconds_per_forward'] * 1000:.2f} ms", file=sys.stderr)
    set_tf32(False)

    line = json.dumps(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
