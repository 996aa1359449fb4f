"""Export the EMA weights of a training checkpoint to assets/fashion-mnist/ (fp16 safetensors + JSON)
and write a float32 forward/sampling reference computed from the exported fp16 weights."""
import argparse
import json
import os

import numpy as np
import torch

from diffusion import SpacedDiffusion
from dit import DiT, FASHION_CONFIG, ema_weights, load_checkpoint
from train import parse_weights_key
from fmnist import CLASSES, DATA_DIR, load_split, to_model_range
from tensorio import SCALE_SUFFIX, quantize_rows_q8, read_safetensors, read_safetensors_metadata, save_npy, write_safetensors


# config.json keys that export() derives itself; every other key that is not architecture is a training fact.
DERIVED_KEYS = ("image_size", "pixel_space", "dataset", "padding")


def load_source(path, ema_decay=None):
    """(EMA tensors, architecture, training facts, metadata to keep) from a train.py checkpoint or from
    fp16 weights (.safetensors): a --weights-only file or gpu_round.py's NAME.safetensors (config and
    facts in the metadata), or an exported model.safetensors whose metadata predates that (today's
    shipped one: config and facts then come from the config.json beside it). Exporting weights is the
    identity on them: fp16 stays fp16 bit for bit and the file's metadata is kept as it is, so
    re-exporting a shipped model.safetensors writes the same bytes."""
    if path.endswith(".safetensors"):
        meta = read_safetensors_metadata(path)
        if "config" in meta:
            arch, facts = json.loads(meta["config"]), json.loads(meta.get("training", "{}"))
        else:
            beside = os.path.join(os.path.dirname(path) or ".", "config.json")
            if not os.path.exists(beside):
                raise SystemExit(f"{path}: its metadata has no config and there is no config.json beside it; put the model's config.json next to it")
            with open(beside, encoding="utf-8") as f:
                config = json.load(f)
            arch = {k: config[k] for k in FASHION_CONFIG if k in config}
            facts = {k: v for k, v in config.items() if k not in arch and k not in DERIVED_KEYS}
        return read_safetensors(path), arch, facts, meta
    return (*checkpoint_source(load_checkpoint(path), ema_decay), None)


def checkpoint_source(ck, ema_decay=None):
    """load_source for a train.py checkpoint already in memory."""
    args = ck.get("args") if isinstance(ck.get("args"), dict) else vars(ck.get("args"))  # older checkpoints: a Namespace
    facts = {
        "train_steps": ck.get("step"),
        "train_epochs": round(ck.get("epoch") + ck.get("batch", 0) / ck.get("steps_per_epoch", 60000 // 128), 3),
        "train_minutes": round(ck.get("train_seconds", 0) / 60, 1),
        "ema_decay": ema_decay or ck.get("ema_decay", 0.999),  # a decay, or "sigma:S" (a power EMA, train.py)
        "batch_size": args.get("batch_size"),
    }
    init = ck.get("init")
    if init is not None:  # warm-started (train.py --init): count the whole training, and say from what
        for key, digits in (("train_steps", None), ("train_epochs", 3), ("train_minutes", 1)):
            if init.get(key) is not None and facts[key] is not None:
                facts[key] = round(facts[key] + init[key], digits) if digits else facts[key] + init[key]
        facts["init"] = init
    if args.get("class_weights"):  # train.py --class-weights: classes shown more than once per epoch
        facts["class_weights"] = args["class_weights"]
    if ck.get("cooldown") is not None:  # train.py --cooldown: the steps over which the learning rate fell to 0
        facts["lr_cooldown"] = ck["cooldown"]
    return ema_weights(ck, ema_decay), ck.get("config", FASHION_CONFIG), facts


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ckpt", default="runs/fmnist/last.pt", help="train.py's last.pt, or fp16 weights: a --weights-only file, gpu_round.py's NAME.safetensors, a shipped model.safetensors (with its config.json beside it)")
    p.add_argument("--out", default="../assets/fashion-mnist")
    p.add_argument("--ema", type=parse_weights_key, help="which EMA to export when the run kept several: a decay or sigma:S (default: "
                   "the main one), or model: the trained weights, not an average (the end point of a train.py --cooldown)")
    p.add_argument("--weights-only", metavar="FILE", help="write only FILE: fp16 EMA weights with the config and training facts in its metadata (for carrying back from a GPU run)")
    p.add_argument("--data-dir", default=DATA_DIR)
    p.add_argument("--dtype", choices=("fp16", "q8"), default="fp16", help="model.safetensors' weights: fp16, or q8 (linear weights as int8 "
                   "per output row with an fp16 scale each, the rest fp16; about half the bytes: the shipped model, scripts/ship-embedded.ts)")
    args = p.parse_args()

    ema, arch, facts, kept = load_source(args.ckpt, args.ema)
    # q8 quantizes the source's values as they are (a q8 source reads back as code * scale in float32,
    # which quantizes to the same codes and scales: re-exporting a shipped q8 file is the identity too).
    q8 = args.dtype == "q8" and not args.weights_only  # --weights-only files stay fp16 (they are sources)
    tensors = quantize_rows_q8(dict(sorted(ema.items()))) if q8 else {k: v.to(torch.float16) for k, v in sorted(ema.items())}
    meta = dict(kept) if kept is not None else {"format": "pt", "source": "EMA weights, training/train.py", "config": json.dumps(arch), "training": json.dumps(facts)}
    if q8:
        meta["quantization"] = (f"linear weights int8 per output row: value = code * <name>{SCALE_SUFFIX} (fp16, one per row), "
                                "scale = max|row| / 127; every other tensor fp16")
    if args.weights_only:
        write_safetensors(args.weights_only, tensors, meta)
        print(f"wrote {args.weights_only}: {arch} {facts}")
        return
    os.makedirs(os.path.join(args.out, "reference"), exist_ok=True)
    st_path = os.path.join(args.out, "model.safetensors")
    write_safetensors(st_path, tensors, meta)

    config = dict(arch)
    config.update({"image_size": 32, "pixel_space": True, "dataset": "fashion-mnist", "padding": "28→32, background −1", **facts})
    with open(os.path.join(args.out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(args.out, "classes.json"), "w", encoding="utf-8") as f:
        json.dump(CLASSES, f, indent=1)
        f.write("\n")

    # The reference must come from what was shipped: reload the file (fp16, or int8 rows dequantized) and run in float32.
    model = DiT(**arch)
    loaded = {k: v.float() for k, v in read_safetensors(st_path).items()}
    model.load_state_dict(loaded, strict=True)
    model.eval()

    ref = os.path.join(args.out, "reference")
    torch.manual_seed(123)
    images, labels = load_split("test", args.data_dir)
    x0 = to_model_range(images[:4])
    t = torch.tensor([0, 250, 500, 999], dtype=torch.int64)
    y = torch.tensor([int(labels[0]), int(labels[1]), 9, 10], dtype=torch.int64)  # 10 = null class
    noise = torch.randn_like(x0)
    from diffusion import GaussianDiffusion
    x = GaussianDiffusion().q_sample(x0, t, noise)
    with torch.no_grad():
        out = model(x, t, y)
    save_npy(os.path.join(ref, "dit.x.npy"), x.numpy().astype(np.float32))
    save_npy(os.path.join(ref, "dit.t.npy"), t.numpy())
    save_npy(os.path.join(ref, "dit.y.npy"), y.numpy())
    save_npy(os.path.join(ref, "dit.out.npy"), out.numpy().astype(np.float32))

    # A short full sampling run so the TypeScript sampler can be checked end to end on the shipped model.
    sample_labels = list(range(8))
    steps, cfg, seed = 10, 4.0, 0
    torch.manual_seed(seed)
    z = torch.randn(len(sample_labels), 1, 32, 32)
    zz = torch.cat([z, z], 0)
    yy = torch.tensor(sample_labels + [10] * len(sample_labels))
    d = SpacedDiffusion(steps)
    s = d.p_sample_loop(model.forward_with_cfg, zz.shape, dict(y=yy, cfg_scale=cfg), noise=zz)[: len(sample_labels)]
    save_npy(os.path.join(ref, "sample.noise.npy"), z.numpy())
    save_npy(os.path.join(ref, "sample.npy"), s.numpy().astype(np.float32))

    manifest_path = os.path.join(ref, "manifest.json")
    manifest = json.load(open(manifest_path)) if os.path.exists(manifest_path) else {}
    manifest["dit"] = {
        "weights": f"../model.safetensors ({'int8 linear weights per row with fp16 scales, the rest fp16' if q8 else 'fp16'}; loaded and run in float32)",
        "forward": {"x": "dit.x.npy", "t": "dit.t.npy", "y": "dit.y.npy", "out": "dit.out.npy",
                    "note": "out = model.forward(x, t, y); x are test images noised with q_sample; y = 10 is the null class"},
        "sample": {"labels": sample_labels, "cfg": cfg, "steps": steps, "seed": seed, "sampler": "ddpm",
                   "guidance": "all channels (eps), variance channels conditional", "initial_noise": "sample.noise.npy",
                   "out": "sample.npy",
                   "note": "torch.manual_seed(seed); z = randn(8,1,32,32); batch [z, z] with labels + null; p_sample_loop over space_timesteps(1000, '10'), clip_denoised False; first half kept"},
    }
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"exported {facts} -> {st_path} ({os.path.getsize(st_path)} bytes)")


if __name__ == "__main__":
    main()
