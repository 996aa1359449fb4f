"""CPU seconds per training step of train.py's loop as it was and as it is, on the CPU here, in one
process, alternating (old, new, old, new, ...) so that both see the same load:

  cd training && nice -n 5 /usr/bin/python3 bench_step.py --batch-size 16 --steps 20 --rounds 3

The two loops are checks.py's old_loop (per-parameter EMAs, tables copied per lookup, noise and
dropout drawn inside the loss) and new_loop (train.Trainer), both with the three EMAs gpu_round.py
keeps, float32 (train.py --no-bf16, as on this AVX2-only CPU). Prints a table and a JSON line.
The CUDA gains (no synchronisation per step, fused AdamW, compile) cannot be measured here.
"""
import argparse
import json
import statistics
import time

import torch

from checks import batches, new_loop, old_loop
from dit import FASHION_CONFIG


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20, help="steps per timed run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hidden-size", type=int, default=FASHION_CONFIG["hidden_size"])
    ap.add_argument("--depth", type=int, default=FASHION_CONFIG["depth"])
    ap.add_argument("--num-heads", type=int, default=FASHION_CONFIG["num_heads"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    config = dict(FASHION_CONFIG, hidden_size=args.hidden_size, depth=args.depth, num_heads=args.num_heads)
    data = batches(args.steps, args.batch_size)
    times = {"old": [], "new": []}
    for _ in range(args.rounds):
        for name, loop in (("old", old_loop), ("new", new_loop)):
            t0 = time.process_time()
            loop(data, False, config=config)  # includes building the model (the same for both)
            times[name].append((time.process_time() - t0) / args.steps)
    # CPU seconds of this process (one thread), not wall time: the other jobs on this shared machine
    # stretch the wall clock by up to 3x; and the fastest run of each, the one least disturbed.
    old, new = min(times["old"]), min(times["new"])
    print(f"| loop | CPU s/step (best of {args.rounds}) | median | runs |\n| --- | --- | --- | --- |")
    for name in ("old", "new"):
        print(f"| {name} | {min(times[name]):.4f} | {statistics.median(times[name]):.4f} | {' '.join(f'{t:.4f}' for t in times[name])} |")
    print(f"speed-up {old / new:.3f}x (best runs) (p{config['patch_size']} h{config['hidden_size']} d{config['depth']}, batch {args.batch_size}, "
          f"{args.steps} steps, {args.threads} thread(s), torch {torch.__version__})")
    print(json.dumps({"what": "training/bench_step.py", "config": config, "batch_size": args.batch_size, "steps": args.steps,
                      "threads": args.threads, "old_s_per_step": old, "new_s_per_step": new, "speedup": old / new, "runs": times}))


if __name__ == "__main__":
    main()
