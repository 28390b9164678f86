"""Generation benchmark: a story's candidates made by storyreel's worker and by a plain diffusers script, in one run.

    python bench/generate.py                              # here: the tiny random-weight model, on the CPU
    python bench/generate.py --arch sd15 --size 384x704   # a GPU: full-size SD 1.5 architecture, random weights
    python bench/generate.py --arch sd21 --turbo          # the SD-Turbo shape: SD 2.1 architecture, 1 step, no CFG
    python bench/generate.py --arch sdxl --size 768x1344

No checkpoint can be downloaded here, so the model is built by this script with random weights (the architectures'
published configs) and saved to a local folder in fp16, as a downloaded model would be; both runs load it from there.
The job: --scenes scenes x --candidates candidates, every picture saved as a PNG.

- plain: what a diffusers user writes: from_pretrained(fp16).to(device), one pipeline call per scene with a CPU
  generator per picture, then each PIL image .save()d; its load, pipeline and save times.
- storyreel, end to end: the project's candidates queued and made by the worker (model load included), stored with
  their records (`storyreel generate`).
- storyreel, warm: the same job on another project with the worker's model already loaded (the studio's case).
Prints each run's time and pictures per second, the ratio to plain, storyreel's own time per picture outside the
backend call (in the worker's thread; storing runs beside it), and how far the pictures are from plain's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SCENES = [
    "the prince rides along white cliffs above a grey sea at dawn",
    "a green dragon sleeps on a hoard of gold in a dark cave",
    "an old healer waits at the edge of a pine forest with a lantern",
    "a harbour burns at night under a red sky, small boats fleeing",
    "the prince climbs a frozen mountain path in a snowstorm",
    "the dragon opens one huge green eye in the firelight",
    "the prince and the dragon sit and talk beside a melting glacier",
    "a crowd of fishermen look up at the sky in fear",
    "the dragon and the prince fly over the harbour in spring",
    "a feast in the castle hall with lanterns and music",
]


def stories(n: int) -> list[str]:
    """``n`` scenes' texts: SCENES, then again with a view number."""
    return [SCENES[i % len(SCENES)] + (f", view {i // len(SCENES) + 1}" if i >= len(SCENES) else "") for i in range(n)]


# the model ---------------------------------------------------------------------------------------------------------
def build(arch: str, folder: Path) -> Path:
    """A pipeline of this architecture with random weights, saved in fp16 to ``folder``."""
    import torch

    if arch == "tiny":
        from tiny_sd import build_tiny_sd

        return build_tiny_sd(folder)
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,  # fmt: skip
    )
    from tiny_sd import _write_tokenizer
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"  # random init of a billion weights: quicker there
    _write_tokenizer(folder / "_tok")
    tok = CLIPTokenizer(str(folder / "_tok" / "vocab.json"), str(folder / "_tok" / "merges.txt"), model_max_length=77)
    vae = AutoencoderKL(block_out_channels=[128, 256, 512, 512], down_block_types=["DownEncoderBlock2D"] * 4,
                        up_block_types=["UpDecoderBlock2D"] * 4, latent_channels=4, layers_per_block=2,
                        sample_size=1024 if arch == "sdxl" else 768 if arch == "sd21" else 512,
                        scaling_factor=0.13025 if arch == "sdxl" else 0.18215)  # fmt: skip
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="trailing" if arch == "sd21" else "leading")  # fmt: skip

    def clip(hidden: int, layers: int, heads: int, inner: int, act: str = "quick_gelu", proj: bool = False) -> object:
        cfg = CLIPTextConfig(vocab_size=49408, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                             intermediate_size=inner, hidden_act=act, projection_dim=hidden, max_position_embeddings=77,
                             bos_token_id=0, eos_token_id=1, pad_token_id=1)  # fmt: skip
        return (CLIPTextModelWithProjection if proj else CLIPTextModel)(cfg)

    if arch == "sd15":
        unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8,
                                    block_out_channels=(320, 640, 1280, 1280))  # fmt: skip
        pipe = StableDiffusionPipeline(vae=vae, text_encoder=clip(768, 12, 12, 3072), tokenizer=tok, unet=unet,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)  # fmt: skip
    elif arch == "sd21":
        unet = UNet2DConditionModel(sample_size=96, cross_attention_dim=1024, attention_head_dim=(5, 10, 20, 20),
                                    use_linear_projection=True, block_out_channels=(320, 640, 1280, 1280))  # fmt: skip
        pipe = StableDiffusionPipeline(vae=vae, text_encoder=clip(1024, 23, 16, 4096, "gelu"), tokenizer=tok,
                                       unet=unet, scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)  # fmt: skip
    elif arch == "sdxl":
        unet = UNet2DConditionModel(
            sample_size=128, cross_attention_dim=2048, block_out_channels=(320, 640, 1280),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=(5, 10, 20), transformer_layers_per_block=(1, 2, 10), use_linear_projection=True,
            addition_embed_type="text_time", addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816,
        )  # fmt: skip
        pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=clip(768, 12, 12, 3072), tokenizer=tok,
                                         text_encoder_2=clip(1280, 32, 20, 5120, "gelu", proj=True), tokenizer_2=tok,
                                         unet=unet, scheduler=scheduler)  # fmt: skip
    else:
        raise SystemExit(f"--arch {arch}: tiny, sd15, sd21 or sdxl")
    pipe.to(device, torch.float16 if device == "cuda" else torch.float32)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def built_once(arch: str, folder: Path) -> Path:
    """The model of this architecture in ``folder``: built there unless a run before built it."""
    model = folder / f"model-{arch}"
    if not (model / "model_index.json").exists():
        shutil.rmtree(model, ignore_errors=True)  # a build stopped half way
        build(arch, model)
    return model


# the two runs ------------------------------------------------------------------------------------------------------
def plain_load(model: Path, device: str):
    """How a diffusers user loads a model: ``from_pretrained`` in fp16 (fp32 on a CPU), then ``.to(device)``."""
    import torch
    from diffusers import DiffusionPipeline

    from storyreel.backends.diffusers_local import _takes_dtype

    dtype = torch.float16 if device == "cuda" else torch.float32
    kw = {"dtype" if _takes_dtype() else "torch_dtype": dtype}
    return DiffusionPipeline.from_pretrained(model, safety_checker=None, **kw).to(device)


def plain(model: Path, prompts: list[tuple[str, str]], args: argparse.Namespace, out: Path) -> dict:
    """The plain diffusers script, with the prompts storyreel composed (positive, negative) for each scene."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    w, h = (int(x) for x in args.size.split("x"))
    t0 = time.perf_counter()
    pipe = plain_load(model, device)
    pipe.set_progress_bar_config(disable=True)
    sync(device)
    t_load = time.perf_counter() - t0
    t_pipe = t_save = 0.0
    for i, (positive, negative) in enumerate(prompts):
        seeds = [args.seed + k for k in range(args.candidates)]
        t1 = time.perf_counter()
        images = pipe(prompt=[positive] * len(seeds), negative_prompt=[negative] * len(seeds)
                      if args.guidance > 1 else None, num_inference_steps=args.steps, guidance_scale=args.guidance,
                      width=w, height=h, generator=[torch.Generator("cpu").manual_seed(s) for s in seeds]).images  # fmt: skip
        t2 = time.perf_counter()
        for seed, im in zip(seeds, images, strict=True):
            im.save(out / f"{i}-{seed}.png")
        t_save += time.perf_counter() - t2
        t_pipe += t2 - t1
    del pipe
    free(device)
    return {"load": t_load, "pipeline": t_pipe, "save": t_save, "total": time.perf_counter() - t0}


STYLE = "storybook illustration"
PROJECTS = ("first", "second", "third")  # plain's twin end to end, the warm worker's, and --deepcache's
NEGATIVE = "blurry"


def composed(project) -> list[tuple[str, str]]:
    """Each scene's prompt as storyreel composed it (style, characters' words, what to draw), in order."""
    from storyreel import pipeline

    scenes = project.scenes()
    made = pipeline.prompts_for(project, scenes, project.characters(), pipeline.in_force(project))
    return [(made[s.id].positive, made[s.id].negative) for s in scenes]


def new_project(root: Path, name: str, scenes: list[str]):
    """A project of these scenes, made with the sketch backend (spaCy finds its characters)."""
    from storyreel import edit

    story = "\n".join(f"Narrator: Scene {i + 1}. | {text}" for i, text in enumerate(scenes))
    return edit.create_project(root, name, story, {"backend": "sketch", "style": STYLE, "negative": NEGATIVE,
                                                   "aspect": "9:16"})  # fmt: skip


def configure(project, model: Path, args: argparse.Namespace, deepcache: int = 0) -> None:
    """The benchmark's settings, given as a user would (``storyreel generate --backend diffusers --model ...``)."""
    from storyreel.pipeline import Options, resolve

    resolve(project, Options(backend="diffusers", model=str(model), candidates=args.candidates, seed=args.seed,
                             steps=args.steps, guidance=args.guidance, size=args.size, compile=args.compile,
                             deepcache=deepcache))  # fmt: skip


def storyreel_run(project, backend=None, batch: int | None = None) -> tuple[dict, object]:
    """The worker's run over the project's candidates: end to end (model load included) unless given a backend."""
    import torch

    from storyreel import pipeline
    from storyreel.executors.inprocess import Worker, backend_key

    device = "cuda" if torch.cuda.is_available() else "cpu"
    t0 = time.perf_counter()
    opts = pipeline.in_force(project)
    load = 0.0
    if backend is None:  # the model loaded first, as the worker would, to say how long that took
        backend = pipeline.backend_for(opts)
        backend._load()
        sync(device)
        load = time.perf_counter() - t0
    ids = pipeline.queue_candidates(project, opts, backend=backend)
    key = backend_key(backend.name, backend.location or backend.model_id, backend.options)
    worker = Worker(batch_size=batch, backends={key: backend})  # batches across scenes, of the backend's size
    ended = worker.drain(project, ids)
    sync(device)
    total = time.perf_counter() - t0
    assert all(j.state == "done" for j in ended), [j.error for j in ended if j.state != "done"][:1]
    return {"total": total, "load": load, "images": worker.made, "backend": worker.backend_seconds, "own": worker.own_seconds,
            "store": worker.storer.seconds}, backend  # fmt: skip


def phases(project, backend, size: int) -> dict:
    """One more batch of ``size`` of the project's pictures, the device synchronised around each part of the
    pipeline: where a batch's time goes (text encoders, UNet, VAE decoder, the rest)."""
    import torch

    from storyreel.types import ImageRequest

    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows = [r for s in project.scenes() for r in project.candidates(s.id)][:size]
    requests = [ImageRequest(r.prompt, r.negative, r.seed, r.steps, r.guidance, r.width, r.height) for r in rows]
    pipe = backend._load()
    spent: dict[str, float] = {}
    calls: dict[str, int] = {}

    def timed(name: str, fn):
        def run(*args, **kwargs):
            sync(device)
            t = time.perf_counter()
            out = fn(*args, **kwargs)
            sync(device)
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - t
            calls[name] = calls.get(name, 0) + 1
            return out

        return run

    parts = [(name, obj, attr) for name, obj, attr in (
        ("text encoders", getattr(pipe, "text_encoder", None), "forward"),
        ("text encoders", getattr(pipe, "text_encoder_2", None), "forward"),
        ("UNet", pipe.unet, "forward"), ("VAE decoder", pipe.vae, "decode")) if obj is not None]  # fmt: skip
    saved = [(obj, attr, obj.__dict__.get(attr)) for _, obj, attr in parts]
    for name, obj, attr in parts:
        setattr(obj, attr, timed(name, getattr(obj, attr)))
    try:
        sync(device)
        t = time.perf_counter()
        backend.generate(requests)
        sync(device)
        total = time.perf_counter() - t
    finally:
        for obj, attr, before in saved:
            if before is None:
                delattr(obj, attr)  # the class's own again
            else:
                setattr(obj, attr, before)
    # the same batch's decoding alone, by the VAE and by TAESD's architecture (random weights; not in storyreel):
    # what a tiny decoder would save. Its latents are a full-size VAE's (an eighth of the size), not the test model's
    decode = {}
    if pipe.vae_scale_factor == 8:
        from diffusers import AutoencoderTiny

        first = requests[0]
        latents = torch.randn(len(requests), 4, first.height // 8, first.width // 8, device=device, dtype=pipe.vae.dtype)
        tiny = AutoencoderTiny().to(device, pipe.vae.dtype)
        with torch.inference_mode():
            for name, vae in (("VAE", pipe.vae), ("TAESD", tiny)):
                vae.decode(latents[:1])  # its kernels chosen first
                sync(device)
                t = time.perf_counter()
                vae.decode(latents)
                sync(device)
                decode[name] = time.perf_counter() - t
        del tiny, latents
    return {"pictures": len(requests), "total": total, **spent, "rest": total - sum(spent.values()),
            "UNet calls": calls.get("UNet", 0), "decode alone": decode}  # fmt: skip


def compare(project, plain_dir: Path) -> tuple[float, int]:
    """Mean and largest pixel difference between storyreel's pictures and plain's, seed for seed."""
    from PIL import Image

    diffs, largest = [], 0
    for s in project.scenes():
        for row in project.candidates(s.id):
            a = np.asarray(Image.open(project.media.path(row.media)).convert("RGB"), dtype=np.int16)
            b = np.asarray(Image.open(plain_dir / f"{s.index}-{row.seed}.png").convert("RGB"), dtype=np.int16)
            d = np.abs(a - b)
            diffs.append(d.mean())
            largest = max(largest, int(d.max()))
    return float(np.mean(diffs)), largest


def side_by_side(project, plain_dir: Path, out: Path, n: int = 4) -> None:
    """The first scene's first ``n`` candidates: plain's above, the project's below."""
    from PIL import Image

    scene = project.scenes()[0]
    rows = project.candidates(scene.id)[:n]
    ours = [Image.open(project.media.path(r.media)).convert("RGB") for r in rows]
    theirs = [Image.open(plain_dir / f"{scene.index}-{r.seed}.png").convert("RGB") for r in rows]
    w, h = ours[0].size
    sheet = Image.new("RGB", (w * len(rows), h * 2), "white")
    for i, (a, b) in enumerate(zip(theirs, ours, strict=True)):
        sheet.paste(a, (i * w, 0))
        sheet.paste(b, (i * w, h))
    sheet.save(out)


def sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def free(device: str) -> None:
    import gc

    import torch

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default=None, help="tiny (default on a CPU), sd15 (default on a GPU), sd21, sdxl")
    ap.add_argument("--scenes", type=int, default=10)
    ap.add_argument("--candidates", type=int, default=15)
    ap.add_argument("--steps", type=int, default=None, help="default 25, or 1 with --turbo")
    ap.add_argument("--guidance", type=float, default=None, help="default 7, or 0 with --turbo")
    ap.add_argument("--turbo", action="store_true", help="1 step, no guidance (the SD-Turbo shape)")
    ap.add_argument("--size", default=None, help="WIDTHxHEIGHT (default 64x112 for tiny, 384x704 otherwise)")
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--compile", action="store_true", help="storyreel with --compile (its first batch compiles)")
    ap.add_argument("--batch", type=int, default=None, help="storyreel's batch (default: the backend's; 32 on a GPU)")
    ap.add_argument("--phases", action="store_true", help="also one batch timed part by part (text encoders, UNet, "
                    "VAE decoder)")  # fmt: skip
    ap.add_argument("--deepcache", type=int, default=0, help="also a warm run with --deepcache N (opt-in: it changes "
                    "the pictures), measured against plain's")  # fmt: skip
    ap.add_argument("--side-by-side", type=Path, default=None, help="with --deepcache: the PNG of plain's pictures "
                    "above its (default: in the temporary folder)")  # fmt: skip
    ap.add_argument("--models", type=Path, default=None, help="keep the models built here, for the next runs")
    ap.add_argument("--model", type=Path, default=None, help="a model folder to use instead of building one")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--prepare", type=Path, default=None, help="only make the projects, into this folder (for "
                    "--projects on a machine without spaCy), then stop")  # fmt: skip
    ap.add_argument("--projects", type=Path, default=None, help="the projects --prepare made")
    args = ap.parse_args()
    if args.prepare:
        if args.prepare.exists():
            raise SystemExit(f"--prepare {args.prepare}: it exists already; give a new folder")
        for name in PROJECTS:
            new_project(args.prepare, name, stories(args.scenes)).close()
        print(f"made the projects {', '.join(PROJECTS)} ({args.scenes} scenes) in {args.prepare}")
        return
    import diffusers  # noqa: F401  (imported before either run is timed)
    import torch

    from storyreel.backends.diffusers_local import _quiet_libraries
    from storyreel.store.db import Project

    _quiet_libraries()  # no progress bars
    gpu = torch.cuda.is_available()
    args.arch = args.arch or ("sd15" if gpu else "tiny")
    args.steps = args.steps or (1 if args.turbo else 25)
    args.guidance = args.guidance if args.guidance is not None else (0.0 if args.turbo else 7.0)
    args.size = args.size or ("64x112" if args.arch == "tiny" else "384x704")
    scenes = stories(args.scenes)
    n = args.scenes * args.candidates
    work = Path(tempfile.mkdtemp(prefix="storyreel-bench-"))
    try:
        t = time.perf_counter()
        model = args.model or built_once(args.arch, args.models or work)
        built = time.perf_counter() - t
        device = torch.cuda.get_device_name() if gpu else "CPU"
        print(f"{args.arch} ({'given' if args.model else f'ready in {built:.0f} s'}), {device}: {args.scenes} scenes x "
              f"{args.candidates} candidates = {n} pictures, {args.size}, {args.steps} steps, guidance {args.guidance}")
        (work / "plain").mkdir()
        if args.projects:  # made elsewhere with --prepare: where spaCy is not installed
            shutil.copytree(args.projects, work / "projects")
        else:
            for name in PROJECTS:
                new_project(work / "projects", name, scenes).close()
        second = Project(work / "projects" / "second")
        configure(second, model, args)
        second.close()
        p1 = Project(work / "projects" / "first")
        configure(p1, model, args)
        if len(p1.scenes()) != args.scenes:
            raise SystemExit(f"--projects {args.projects}: made with --scenes {len(p1.scenes())}; give that")
        t = time.perf_counter()
        if gpu:  # the GPU's start (its driver, its context): paid once per process, by neither run
            torch.zeros(1, device="cuda")
            sync("cuda")
        start = time.perf_counter() - t
        base = plain(model, composed(p1), args, work / "plain")
        free("cuda" if gpu else "cpu")
        cold, backend = storyreel_run(p1, batch=args.batch)
        p2 = Project(work / "projects" / "second")
        warm, _ = storyreel_run(p2, backend, batch=args.batch)
        del backend, _  # the GPU's memory back, for the next run
        mean, largest = compare(p1, work / "plain")

        def line(name: str, seconds: float, extra: str = "") -> str:
            return f"  {name:<24} {seconds:7.2f} s  {n / seconds:7.2f} pictures/s  {base['total'] / seconds:5.2f}x plain{extra}"

        print(line("plain diffusers", base["total"], f"   (load {base['load']:.2f} s, pipeline {base['pipeline']:.2f} s, "
                                                      f"save {base['save']:.2f} s)"))  # fmt: skip
        print(line("storyreel, end to end", cold["total"], f"   (load {cold['load']:.2f} s, in the backend "
                                                           f"{cold['backend']:.2f} s)"))  # fmt: skip
        print(line("storyreel, warm worker", warm["total"], f"   (in the backend {warm['backend']:.2f} s)"))
        own = 1000 * warm["own"] / max(warm["images"], 1)
        store = 1000 * warm["store"] / max(warm["images"], 1)
        print(f"  storyreel's own time per picture outside the backend call: {own:.2f} ms in the worker's thread "
              f"(target < 5 ms); storing (PNG, hash, database) {store:.2f} ms a picture, beside the next batch")
        if gpu:
            print(f"  the GPU's start before either run (CUDA's context): {start:.2f} s")
        print(f"  pictures against plain's, seed for seed: mean difference {mean:.3f}, largest {largest} (of 255)")
        figures = {"arch": args.arch, "device": device, "pictures": n, "plain": base, "cold": cold, "warm": warm,
                   "own_ms": own, "store_ms": store, "gpu_start": start, "mean_diff": mean, "max_diff": largest}  # fmt: skip
        if args.json:  # written before the opt-in run below, which may fail or run out of time
            args.json.write_text(json.dumps(figures, indent=2))
        if args.phases and not args.compile:  # (a compiled model's parts are not its modules' calls)
            from storyreel import pipeline

            again = pipeline.backend_for(pipeline.in_force(p2))
            split = phases(p2, again, again.batch_size or 16)
            figures["phases"] = split
            print(f"  one batch of {split['pictures']}, the device synchronised around each part: "
                  + ", ".join(f"{k} {split[k]:.2f} s" for k in ("text encoders", "UNet", "VAE decoder", "rest")
                              if k in split) + f" ({split['UNet calls']} UNet calls; {split['total']:.2f} s in all)")  # fmt: skip
            if split["decode alone"]:
                print(f"  decoding that batch alone: the VAE {split['decode alone']['VAE']:.2f} s, TAESD's "
                      f"architecture {split['decode alone']['TAESD']:.2f} s")  # fmt: skip
            if args.json:
                args.json.write_text(json.dumps(figures, indent=2))
            del again
        if args.deepcache:  # opt-in, and it changes the pictures: its speed and how far from the full ones
            from storyreel import pipeline

            free("cuda" if gpu else "cpu")
            p3 = Project(work / "projects" / "third")
            configure(p3, model, args, args.deepcache)
            cached = pipeline.backend_for(pipeline.in_force(p3))
            cached._load()  # a warm worker's
            reused, _ = storyreel_run(p3, cached, batch=args.batch)
            reused["mean_diff"], reused["max_diff"] = compare(p3, work / "plain")
            side = args.side_by_side or Path(tempfile.gettempdir()) / f"storyreel-deepcache-{args.arch}.png"
            side_by_side(p3, work / "plain", side)
            print(line(f"warm, --deepcache {args.deepcache}", reused["total"], f"   (pictures against plain's: mean "
                       f"difference {reused['mean_diff']:.2f}, largest {reused['max_diff']}; side by side: {side})"))  # fmt: skip
            if args.json:
                args.json.write_text(json.dumps({**figures, "deepcache": reused}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
