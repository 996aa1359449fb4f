"""One training round for the embedded model (issue 19) in one call on the lent GPU machine
(docs/gpu/README.md: PyTorch there, no network, one command <= 10 min, <= 8 files back).

Trains the candidates side by side (one train.py process each, all on the one GPU, each for
--minutes), then scores them with evaluate.py's Judge:
  pass 1: every EMA train.py kept (EMAS), DDPM 25 steps at two scales -> the best EMA per candidate;
  pass 2: today's shipped model and each candidate's best EMA over the scales and samplers asked,
          ≥ 2,000 samples each (same noise and labels for every model).
Leaves in --out: eval.json (every row), train.json (per candidate: config, steps, epochs, speed,
the loss at the end, the EMA kept), sheet.png (rows: models x scales, columns: the ten classes)
and NAME.safetensors per candidate (fp16 EMA weights, in 15 MiB parts NAME.safetensors.00, .01 when
larger, since the device call returns files of at most 16 MiB; config and training facts in the metadata:
`python3 export.py --ckpt NAME.safetensors` turns one into the shipped files here). Run it as

  cd training && PYTHONUNBUFFERED=1 python3 gpu_round.py --out "$OUT" --minutes 6 2>&1 | tee "$OUT/log.txt"

with the Fashion-MNIST files carried in .fmnist/ (scripts/fmnist-kit.sh). Candidates of the shipped
architecture go on from the shipped weights (--init shipped, the default; --init none: a random
init). On CUDA each run is train.py --compile blocks --compile-trial 50 (the faster of eager and
compiled, both timed and printed; eager if compiling fails). A first leg with --train-only trains and returns the main EMA's
weights and train.json without scoring; the next call with the same --runs resumes and scores
(docs/gpu/README.md §5: the two legs and their minutes). A CPU smoke run:
  python3 gpu_round.py --out /tmp/round --device cpu --minutes 0.1 --batch-size 16 --eval-samples 12 \
      --eval-cfg 1,4 --eval-samplers ddpm:3,ddim:3 --select-sampler ddpm:2 --select-cfg 4 \
      --data-dir /usr/share/datasets/fashion-mnist
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

import torch

from dit import RAW_WEIGHTS, load_checkpoint, load_model, model_from_checkpoint
from evaluate import Judge, parse_samplers, pick_device, taken_for_text, worst_class, write_sheet
from export import checkpoint_source
from tensorio import write_safetensors
from train import parse_class_weights

HERE = os.path.dirname(os.path.abspath(__file__))
SHIPPED = os.path.join(HERE, "..", "assets", "fashion-mnist", "model.safetensors")

# NAME: train.py architecture flags. `dit sample`'s time per step relative to the first generation (p4 h192
# d6), measured here (2-core EPYC, one run, 8 guided images): A 1, B 3.1 (four times the tokens),
# C 1.6 (2.3 times the parameters). `dit sample` must stay within 5 s on that CPU (today: 100 DDPM
# steps of A then; since 2026-11-28 25 DDPM steps of C with the guidance interval), so the scoring included
# the step counts B (30) and C (60) could afford.
CANDIDATES = {
    "A": "--patch-size 4 --hidden-size 192 --depth 6 --num-heads 3",
    "B": "--patch-size 2 --hidden-size 192 --depth 6 --num-heads 3",
    "C": "--patch-size 4 --hidden-size 256 --depth 8 --num-heads 4",
}
# The main EMA (a decay, capped by train.py's warm-up at about 1 - 9/step, i.e. a power EMA of relative
# length ~0.09 in runs under ~90,000 steps) and power EMAs on either side of it, a shorter (0.05) and a
# longer (0.2) average (train.py --extra-ema). The
# first round (2026-11-27) kept decays 0.9995/0.999/0.9999: under 18,000 steps the warm-up made them
# one and the same average, and pass 1 scored three identical models.
EMAS = (0.9999, "sigma:0.05", "sigma:0.2")


def candidate_config(name):
    """The architecture a candidate's flags give (train.py's model_config)."""
    flags = CANDIDATES[name].split()
    return {flag[2:].replace("-", "_"): int(value) for flag, value in zip(flags[::2], flags[1::2])}


def init_flags(init, name):
    """train.py's --init for a candidate: with `shipped` (a warm start from the model the tree ships), only
    for a candidate of the shipped architecture (the others start from a random init); `none`: none; any
    other value is a weights file every candidate starts from (train.py refuses one of another
    architecture). train.py ignores --init when it resumes (a second leg), so both legs pass the same."""
    if init == "none":
        return []
    if init != "shipped":
        return ["--init", init]
    with open(os.path.join(os.path.dirname(SHIPPED), "config.json")) as f:
        shipped = json.load(f)
    mine = candidate_config(name)
    if any(shipped.get(k) != v for k, v in mine.items()):
        print(f"round: {name} ({mine}) is not the shipped architecture: it starts from a random init", flush=True)
        return []
    return ["--init", SHIPPED]


def train_flags(args):
    """The train.py flags every candidate shares (architecture and --init come per candidate)."""
    compile_mode = args.compile if args.compile != "auto" else ("blocks" if args.device == "cuda" else "off")
    return ["--device", args.device, "--compile", compile_mode, "--compile-trial", str(args.compile_trial), "--data-dir", args.data_dir, "--batch-size", str(args.batch_size), "--lr", str(args.lr),
              "--warmup", "500", "--ema-decay", str(EMAS[0]), "--extra-ema", ",".join(map(str, EMAS[1:])),
              "--time-budget-min", str(args.minutes), "--epochs", str(args.epochs), "--save-every-min", "2", "--log-every", str(args.log_every), "--threads", "2",
              # bf16 autocast on CUDA; on a CPU without bf16 units (AVX2 only) it is many times slower than fp32.
              *(["--no-bf16"] if args.device == "cpu" else []),
              *(["--cooldown", str(args.cooldown)] if args.cooldown else []),
              *(["--class-weights", args.class_weights] if args.class_weights else [])]


def train_all(args, names):
    common = train_flags(args)
    procs = {}
    for name in names:
        cmd = [sys.executable, "train.py", "--out", os.path.join(args.runs, name), *common, *CANDIDATES[name].split(), *init_flags(args.init, name)]
        procs[name] = subprocess.Popen(cmd, cwd=HERE, stdout=open(os.path.join(args.runs, f"{name}.log"), "w"), stderr=subprocess.STDOUT)
        print(f"round: started {name}: {CANDIDATES[name]}", flush=True)
    deadline = time.time() + args.minutes * 60 + args.grace
    for name, p in procs.items():
        try:
            p.wait(timeout=max(1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            print(f"round: {name} overran; SIGTERM (it checkpoints after the current step)", flush=True)
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=args.grace)
            except subprocess.TimeoutExpired:  # stuck (in a compile?): its last periodic checkpoint stands
                print(f"round: {name} still running {args.grace:.0f} s after SIGTERM; SIGKILL", flush=True)
                p.kill()
                p.wait()
        tail = open(os.path.join(args.runs, f"{name}.log")).read().splitlines()[-3:]
        print(f"round: {name} exited {p.returncode}: " + " | ".join(tail), flush=True)


# The device call returns files of at most 16 MiB: a larger one (C, 19.5 MB) goes in parts NAME.00,
# NAME.01, ... to be joined here with `cat NAME.0* >NAME`.
PART_BYTES = 15 << 20


def write_weights(path, tensors, meta):
    write_safetensors(path, tensors, meta)
    size = os.path.getsize(path)
    if size <= PART_BYTES:
        return
    with open(path, "rb") as f:
        for i in range((size + PART_BYTES - 1) // PART_BYTES):
            with open(f"{path}.{i:02d}", "wb") as part:
                part.write(f.read(PART_BYTES))
    os.remove(path)
    print(f"round: {os.path.basename(path)} is {size} bytes: written in parts (join them with cat {os.path.basename(path)}.0*)", flush=True)


def export(args, name, ck, ema_key, file_stem=None):
    """FILE_STEM.safetensors (default NAME; fp16 weights of the EMA `ema_key`) in --out; the summary entry for train.json."""
    ema, arch, facts = checkpoint_source(ck, ema_key)
    meta = {"format": "pt", "source": "EMA weights, training/train.py via gpu_round.py", "config": json.dumps(arch), "training": json.dumps(facts)}
    write_weights(os.path.join(args.out, f"{file_stem or name}.safetensors"), {k: v.to(torch.float16) for k, v in sorted(ema.items())}, meta)
    log = open(os.path.join(args.runs, f"{name}.log")).read().splitlines()
    # The compile trial's verdict and the speeds are near the top of the log, the last steps at its end.
    notes = [line for line in log if line.startswith(("params", "compile", "resumed", "optimizer"))]
    return {"ema": ema_key, "config": arch, "facts": facts, "flags": CANDIDATES[name], "log_notes": notes, "log_tail": log[-8:]}


def pass1_keys(ck):
    """The weights pass 1 scores of one checkpoint: the EMAs, and after a learning-rate cooldown
    (train.py --cooldown, leg 2 of docs/gpu/README.md §5) the trained weights themselves, which the
    decay to 0 brings to rest (RAW_WEIGHTS)."""
    return EMAS + ((RAW_WEIGHTS,) if ck.get("cooldown") is not None else ())


# Issue 19's class-accuracy targets: overall at CFG 1, and every class at CFG 4.
CFG1_ACCURACY_FLOOR = 0.85
CFG4_CLASS_FLOOR = 0.97


def pick_emas(rows):
    """Pass 1's two picks among one candidate's rows (each with "ema", "cfg", "fd", "accuracy",
    "per_class"): the EMA of the lowest FD over the scales (it goes on to pass 2 and out as
    NAME.safetensors), and the one nearest issue 19's accuracy targets: among the EMAs whose class
    accuracy at CFG 1 reaches CFG1_ACCURACY_FLOOR, the highest worst-class accuracy at CFG 4 (every
    class >= CFG4_CLASS_FLOOR there is the target still open: Shirt, 0.945-0.965 with the shipped
    weights); where none reaches the floor, or CFG 1 or 4 was not scored, the highest class accuracy
    at the lowest scale (the round of 2026-11-27 had sigma:0.05 0.952 against sigma:0.2's 0.926 at
    CFG 1.5, FD 8.88 against 7.92). A tie goes to the FD pick."""
    by_fd = min(rows, key=lambda r: r["fd"])["ema"]
    at = lambda cfg: {r["ema"]: r for r in rows if r["cfg"] == cfg}
    at1, at4 = at(1.0), at(4.0)
    floor_met = [e for e, r in at1.items() if r["accuracy"] >= CFG1_ACCURACY_FLOOR and e in at4]
    if floor_met:
        return by_fd, max(floor_met, key=lambda e: (worst_class(at4[e]["per_class"])[1]["accuracy"], e == by_fd))
    at_low = at(min(r["cfg"] for r in rows))
    return by_fd, max(at_low, key=lambda e: (at_low[e]["accuracy"], e == by_fd))


def target_line(rows):
    """Issue 19's numbers from one model's rows at one sampler (each with "cfg", "fd", "accuracy",
    "per_class"): the best FD and its scale, CFG 4's FD and worst class (target: every class >= 0.97),
    CFG 1's class accuracy (target >= 0.85); a scale not scored reads "-"."""
    best = min(rows, key=lambda r: r["fd"])
    at = {r["cfg"]: r for r in rows}
    line = f"best FD {best['fd']:6.2f} at cfg {best['cfg']:g}"
    if 4.0 in at:
        worst = worst_class(at[4.0]["per_class"])
        line += (f"; cfg 4: FD {at[4.0]['fd']:6.2f}, worst class {worst[0]} {worst[1]['accuracy']:.3f}"
                 f"{taken_for_text(worst[1].get('taken_for', {}))} (target {CFG4_CLASS_FLOOR:g})")
    else:
        line += "; cfg 4: -"
    line += f"; cfg 1: class acc. {at[1.0]['accuracy']:.3f} (target {CFG1_ACCURACY_FLOOR:g})" if 1.0 in at else "; cfg 1: -"
    return line


def ema_file_stem(name, ema_key):
    """C, sigma:0.05 -> C.ema-sigma-0.05 (the device call returns names of letters, digits, '.', '_', '-')."""
    return f"{name}.ema-{str(ema_key).replace(':', '-')}"


def save(args, device, rows, summary):
    """eval.json and train.json as they stand (rewritten after each step, whole, through a rename)."""
    for file, value in (("eval.json", {"what": "training/gpu_round.py", "device": str(device), "args": vars(args), "rows": rows}),
                        ("train.json", summary)):
        path = os.path.join(args.out, file)
        with open(path + ".tmp", "w") as f:
            json.dump(value, f, indent=1)
        os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=6, help="training time per candidate (they run at the same time)")
    ap.add_argument("--grace", type=float, default=60, help="seconds past --minutes before a run is stopped")
    # The first round (5 min each, side by side on an H200, docs/gpu/2026-11-27-round.md): C gave the lowest
    # FD at every scale, A (the first generation's architecture retrained at batch 512) and B (patch 2) were worse than
    # the shipped model; the next round trains C alone, with the whole GPU.
    ap.add_argument("--candidates", default="C")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--data-dir", default=os.path.join(HERE, "..", ".fmnist"))
    ap.add_argument("--runs", default="/tmp/fmnist-runs")
    ap.add_argument("--epochs", type=int, default=10000, help="train.py --epochs: a cap far past what --minutes reaches (train.py's "
                    "default 100 stopped the 2026-11-27 second round at 4 of its 11 minutes)")
    # The shipped model is C after 11,622 steps with its loss still falling (docs/gpu/2026-11-27-round2.md):
    # a round goes on from its weights (int8 rows, read as code x scale; in the tree, so nothing more to carry).
    ap.add_argument("--init", default="shipped", help="shipped: warm-start candidates of the shipped architecture from "
                    "assets/fashion-mnist/model.safetensors; none: random init; or a weights file (train.py --init)")
    ap.add_argument("--cooldown", type=float, default=0, metavar="F", help="train.py --cooldown: the learning rate falls linearly "
                    "to 0 over the last share F of --minutes (docs/gpu/README.md §5 gives it to the last leg); 0: none")
    ap.add_argument("--class-weights", default="", metavar="C:W,...", help="train.py --class-weights: every image of class C W times "
                    "per epoch, the extra copies never label-dropped (e.g. 6:3 for Shirt, the class under issue 19's CFG-4 floor)")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--log-every", type=int, default=500)
    ap.add_argument("--eval-samples", type=int, default=2000)
    ap.add_argument("--eval-cfg", default="1,1.5,2,3,4")
    # DDPM 100 fully guided (the first generation's numbers in issue 19 are at it), DDPM 40 guided on
    # 82-579 (the embedded default until 2026-11-28), and DDPM 25 with the same interval, the default
    # since (EMBEDDED_DEFAULTS): in TypeScript (2,000 samples) it scored CFG 4 better than 40 steps (FD
    # 17.85 against 18.35, Shirt 0.965 against 0.905) and CFG 1-1.5 worse (FD 12.27 and 7.73 against
    # 9.76 and 6.34). The second round also scored DDPM 60 with the interval and DDIM 30 (C's worst at
    # CFG 1-2); they are left out for training time.
    ap.add_argument("--eval-samplers", default="ddpm:100,ddpm:40@82-579,ddpm:25@82-579",
                    help="SAMPLER:STEPS[@LO-HI]; @82-579 guides only for sigma in (0.28, 5.4], EDM2's interval (Kynkäänniemi et al. 2024)")
    ap.add_argument("--eval-batch", type=int, default=2000)
    ap.add_argument("--score-only", action="store_true", help="skip training: score the last.pt files already in --runs")
    ap.add_argument("--train-only", action="store_true", help="a first leg: train, write each candidate's main-EMA weights and "
                    "train.json, score nothing (the next call, with the same --runs, trains on and scores)")
    ap.add_argument("--compile", default="auto", choices=("auto", "off", "blocks", "full"),
                    help="train.py --compile; auto: blocks on CUDA, off on the CPU")
    ap.add_argument("--compile-trial", type=int, default=50, help="train.py --compile-trial: eager and compiled steps timed, the faster kept")
    ap.add_argument("--select-sampler", default="ddpm:25", help="pass 1's sampler (which EMA decay)")
    ap.add_argument("--select-cfg", default="1,1.5,4", help="pass 1's scales: the EMA of the lowest FD over them is scored in pass 2; the "
                    "EMA nearest issue 19's accuracy targets goes out too when it is another (pick_emas)")
    args = ap.parse_args()
    device = pick_device(args.device)
    args.device = device.type
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        print("round:", torch.cuda.get_device_name(0), "torch", torch.__version__, flush=True)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.runs, exist_ok=True)
    names = [n for n in args.candidates.split(",") if n]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        raise SystemExit(f"--candidates {unknown}: must be among {list(CANDIDATES)}")
    if not 0 <= args.cooldown <= 1:
        raise SystemExit(f"--cooldown {args.cooldown}: a share of --minutes from 0 (none) to 1 (the whole leg), e.g. 0.5")
    parse_class_weights(args.class_weights)  # refused here, before the preflight, not in each train.py
    if args.init not in ("shipped", "none") and not os.path.isfile(args.init):
        raise SystemExit(f"--init {args.init}: no such file; give shipped, none or a weights file (model.safetensors with config.json beside it, or a train.py last.pt)")

    # Preflight: the whole scoring path (sampling, classifier, FD, precision/recall, the sheet, the
    # weights writer) on a few images of the shipped model, before minutes of training depend on it.
    # (The first round lost its scoring to a SciPy API change found only after training.)
    judge = Judge(device)
    shipped = load_model(SHIPPED).to(device)
    pre = judge.rows("preflight", shipped, parse_samplers("ddpm:2"), [4.0], 20, 0, 20, sheet=[])
    pick_emas([dict(pre[0], ema="a"), dict(pre[0], ema="b", cfg=1.0, accuracy=1.0)])  # pass 1's picks read real rows
    write_sheet(os.path.join(args.runs, "preflight.png"), [torch.zeros(10, 1, 32, 32)])
    write_weights(os.path.join(args.runs, "preflight.safetensors"), {"w": torch.zeros(2, dtype=torch.float16)}, {"format": "pt"})
    print(f"round: preflight passed (FD {pre[0]['fd']:.1f} on 20 images of 2 steps)", flush=True)

    t0 = time.time()
    if not args.score_only:
        train_all(args, names)
    trained = [n for n in names if os.path.exists(os.path.join(args.runs, n, "last.pt"))]
    print(f"round: training took {time.time() - t0:.0f} s; trained: {trained}", flush=True)

    if args.train_only:
        summary = {name: export(args, name, load_checkpoint(os.path.join(args.runs, name, "last.pt")), EMAS[0]) for name in trained}
        save(args, device, [], summary)
        print(f"round: --train-only: main-EMA weights and train.json written; done in {time.time() - t0:.0f} s", flush=True)
        return

    cfgs = [float(c) for c in args.eval_cfg.split(",")]
    rows, summary, sheet = [], {}, []
    # Pass 1: which EMA decay (or, after a cooldown, the trained weights: pass1_keys), by the lowest FD
    # over a few scales at one sampler (pick_emas; the one nearest issue 19's accuracy targets goes out too). Each candidate's checkpoint is read once,
    # for both passes and the exports. The chosen EMA's model is kept for pass 2, the others dropped.
    checkpoints = {name: load_checkpoint(os.path.join(args.runs, name, "last.pt")) for name in trained}
    models = {"shipped": (shipped, {})}
    for name in trained:
        ema_models, mine = {}, []
        for decay in pass1_keys(checkpoints[name]):
            ema_models[decay] = model_from_checkpoint(checkpoints[name], decay).to(device)
            mine += judge.rows(f"{name}@{decay}", ema_models[decay], parse_samplers(args.select_sampler),
                               [float(c) for c in args.select_cfg.split(",")], args.eval_samples, 0, args.eval_batch, pass_=1, ema=decay)
        rows += mine
        by_fd, by_acc = pick_emas(mine)
        models[name] = (ema_models[by_fd], {"ema": by_fd})
        del ema_models
        # The weights go out as soon as their EMA is chosen: a call cut short in pass 2 still returns them.
        summary[name] = export(args, name, checkpoints[name], by_fd)
        if by_acc != by_fd:
            # The EMA nearest the accuracy targets goes out too (2 more files: C's 8 in all, the call's limit),
            # to be scored and perhaps shipped here (scripts/ship-embedded.ts takes either file).
            stem = ema_file_stem(name, by_acc)
            export(args, name, checkpoints[name], by_acc, stem)
            summary[name]["also_exported"] = {"ema": by_acc, "file": f"{stem}.safetensors", "why": "nearest issue 19's accuracy targets in pass 1: the best worst class at CFG 4 among those reaching the floor at CFG 1 (pick_emas)"}
        save(args, device, rows, summary)
    # Pass 2: today's model and each candidate's best EMA, over every scale and sampler.
    samplers = parse_samplers(args.eval_samplers)
    # Spec by spec, every model in turn, so that a call cut short has compared them all on the first specs.
    for spec in samplers:
        for name, (model, extra) in models.items():
            rows += judge.rows(name, model, [spec], cfgs, args.eval_samples, 0, args.eval_batch, sheet if spec is samplers[0] else None,
                               pass_=2, **extra)
            save(args, device, rows, summary)
        if spec is samplers[0] and sheet:
            write_sheet(os.path.join(args.out, "sheet.png"), sheet)

    print("\nround: issue 19's numbers per model and sampler (pass 2)")
    for model in ["shipped", *trained]:
        for spec in samplers:
            mine = [r for r in rows if r["model"] == model and r.get("pass_") == 2 and r["spec"] == spec["spec"]]
            if mine:
                print(f"  {model:>8} {spec['spec']:<15} {target_line(mine)}")
    print(f"round: done in {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
