"""Where a model's load time goes: each way of loading the same fp16 model folder, in a fresh process.

    python bench/load.py                      # the tiny random-weight model, on the CPU
    python bench/load.py --arch sd15          # a GPU: the full-size SD 1.5 architecture (random weights)

For each way: importing torch and diffusers, the GPU's start (CUDA's context), and the load itself.
- plain: ``from_pretrained(dtype=fp16).to(device)``, as the plain script of bench/generate.py does;
- storyreel: the diffusers backend's load (weights read straight onto the device with ``device_map``).
The model file is read once before, so each way finds it in the page cache.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
WAYS = ("plain", "storyreel", "plain", "storyreel")  # twice each, interleaved: the first of all may pay more


def one(way: str, model: Path) -> dict:
    t0 = time.perf_counter()
    import diffusers  # noqa: F401
    import torch
    from generate import plain_load  # (it puts the project's root on the path)

    from storyreel.backends.diffusers_local import DiffusersBackend, _quiet_libraries

    _quiet_libraries()
    t1 = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.zeros(1, device=device)
    if device == "cuda":
        torch.cuda.synchronize()
    t2 = time.perf_counter()
    if way == "plain":
        pipe = plain_load(model, device)
    else:
        pipe = DiffusersBackend(str(model))._load()
    if device == "cuda":
        torch.cuda.synchronize()
    t3 = time.perf_counter()
    assert pipe.unet.device.type == device
    return {"way": way, "import": t1 - t0, "gpu_start": t2 - t1, "load": t3 - t2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="tiny", help="tiny, sd15, sd21 or sdxl (built with random weights)")
    ap.add_argument("--models", type=Path, default=None, help="keep the models built here, for the next runs")
    ap.add_argument("--model", type=Path, default=None, help="a model folder to load instead of building one")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args, _ = ap.parse_known_args()  # bench/gpu.sh gives every benchmark the same BENCH_ARGS: others are not ours
    if args.one:
        print(json.dumps(one(args.one, args.model)))
        return
    from generate import built_once

    work = Path(tempfile.mkdtemp(prefix="storyreel-load-"))
    model = args.model or built_once(args.arch, args.models or work)
    size = sum(f.stat().st_size for f in model.rglob("*") if f.is_file())
    for f in model.rglob("*.safetensors"):
        f.read_bytes()  # into the page cache
    print(f"{model.name}: {size / 2**30:.2f} GiB on disk")
    rows = []
    for way in WAYS:
        out = subprocess.run([sys.executable, __file__, "--one", way, "--model", str(model)], capture_output=True,
                             text=True, check=False)  # fmt: skip
        if out.returncode:
            print(f"  {way}: failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"  {way:<10} import {row['import']:5.2f} s   GPU start {row['gpu_start']:5.2f} s   load {row['load']:5.2f} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
