"""In-process Stable Diffusion with diffusers: SD 1.x, 2.x, SDXL and the Turbo models.

A model is a local folder (diffusers layout), a single .safetensors/.ckpt file, or a hub id already in the
Hugging Face cache (``storyreel models pull ID`` puts it there). fp16 on CUDA, fp32 on the CPU. All requests of
a batch run in one pipeline call; each has its own seeded generator, so the same seed gives the same image.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import BackendError, Cancelled, HubUnreachableError, InputError, ModelNotFoundError, first_line
from ..types import ImageRequest
from .base import Defaults, ImageBackend, Progress, ShouldStop, free_accelerator_memory
from .hub import folder_variant

DEFAULT_MODEL = "stabilityai/sd-turbo"
_SINGLE_FILE = (".safetensors", ".ckpt")


def hub_cache_dir() -> Path:
    try:
        from huggingface_hub.constants import HF_HUB_CACHE

        return Path(HF_HUB_CACHE)
    except ImportError:
        return Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"


def locate(model: str) -> tuple[str, Path]:
    """Where the weights of ``model`` are: ("folder" | "file", path). Raises ModelNotFoundError."""
    p = Path(model).expanduser()
    if p.is_dir():
        if (p / "model_index.json").exists():
            return "folder", p
        raise ModelNotFoundError(
            f"{p} has no model_index.json, so it is not a diffusers model folder: give a diffusers folder or a "
            "single .safetensors file, or use --backend sketch"
        )
    if p.is_file():
        if p.suffix in _SINGLE_FILE:
            return "file", p
        raise ModelNotFoundError(f"{p} is not a .safetensors or .ckpt checkpoint: give a model file or folder")
    if model.count("/") == 1 and not model.startswith((".", "/", "~")) and not model.endswith(_SINGLE_FILE):
        snap = _cached_snapshot(model)
        if snap is not None:
            return "folder", snap
        raise ModelNotFoundError(
            f"model {model} is not downloaded (looked in {hub_cache_dir()}): run `storyreel models pull {model}` "
            "while online, give --model FOLDER_OR_FILE, or use --backend sketch"
        )
    raise ModelNotFoundError(
        f"model {model} not found (no such file or folder): give a diffusers folder, a .safetensors file or a "
        "hub id such as stabilityai/sd-turbo, or use --backend sketch"
    )


def _cached_snapshot(repo_id: str) -> Path | None:
    from .hub import cached_snapshot

    return cached_snapshot(repo_id)


def weights_available(model: str) -> tuple[bool, str]:
    """For --backend auto: are the weights here, and if not, why not (one line)."""
    try:
        locate(model)
    except ModelNotFoundError as err:
        return False, str(err)
    try:
        import diffusers  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False, "torch and diffusers are not installed (pip install 'storyreel[diffusers]')"
    return True, ""


def _family(kind: str, path: Path) -> str:
    if kind == "folder":
        index = json.loads((path / "model_index.json").read_text())
        cls = index.get("_class_name", "")
        return "sdxl" if "XL" in cls else "sd"
    return "sdxl" if path.stat().st_size > 5_000_000_000 or "xl" in path.name.lower() else "sd"


def _quiet_libraries() -> None:
    """Our progress bars speak for the load and the steps; the libraries' own would garble them, and their
    warnings (transformers says it lacks torchvision while diffusers imports it) are not the user's business.
    Called before the pipelines are imported, since some of those warnings come out of the import."""
    from diffusers.utils import logging as dlog

    dlog.disable_progress_bar()
    dlog.set_verbosity_error()
    try:
        from transformers.utils import logging as tlog

        tlog.disable_progress_bar()
        tlog.set_verbosity_error()
    except ImportError:
        pass


def _places(device: str) -> bool:
    """Can diffusers load a pipeline's weights straight onto ``device`` (``device_map``)?"""
    try:
        from diffusers.pipelines.pipeline_utils import SUPPORTED_DEVICE_MAP
    except ImportError:
        return False
    return device in SUPPORTED_DEVICE_MAP


def _takes_dtype() -> bool:
    try:
        from diffusers.utils.deprecation_utils import _resolve_dtype  # noqa: F401
    except ImportError:
        return False
    return True


class DiffusersBackend(ImageBackend):
    name = "diffusers"

    def _device_guess(self) -> str:
        """The device it makes pictures on (before loading: where it will)."""
        if self._device is not None:
            return self._device
        try:
            import torch
        except ImportError:
            return "cpu"
        return "cuda" if torch.cuda.is_available() else "cpu"

    @property
    def mixes_prompts(self) -> bool:  # type: ignore[override]
        """On a GPU, a batch spans scenes (each picture from its own seed's generator, so the same picture in any
        batch); on a CPU a larger batch is no faster, only later to show its first pictures: a scene at a time."""
        return self._device_guess().startswith("cuda")

    @property
    def batch_size(self) -> int | None:
        """On a GPU, batches that fill it: 32 pictures where it has 40 GB or more, 16 from 20 GB, else 8 (SDXL
        half that); halved, with a note, where it still runs out of memory. On a CPU: the worker's own."""
        device = self._device_guess()
        if not device.startswith("cuda"):
            return None
        import torch

        gb = torch.cuda.get_device_properties(torch.device(device)).total_memory / 2**30
        size = 32 if gb >= 40 else 16 if gb >= 20 else 8
        return size // 2 if self.family == "sdxl" else size

    def __init__(self, model: str | None = None, device: str | None = None, compile: object = None,
                 deepcache: object = None, **_: object) -> None:  # fmt: skip
        self.model = model or DEFAULT_MODEL
        # opt-in: channels-last, fused attention projections, torch.compile of the UNet and the VAE decoder
        self.compile = str(compile).lower() in ("1", "true", "yes", "on")
        # opt-in: the UNet's deep blocks computed every n-th step only (DeepCache); 0 or 1: every step
        self.deepcache = check_speedups(self.compile, deepcache)
        self.options = {**({"compile": "1"} if self.compile else {}),
                        **({"deepcache": str(self.deepcache)} if self.deepcache else {})}  # fmt: skip
        self.kind, self.path = locate(self.model)
        self.family = _family(self.kind, self.path)
        self.model_id = self.model
        # what a worker started in another folder loads: a local model by its full path
        self.location = str(self.path.resolve())
        self._device = device
        self._pipe: Any = None
        self._reuse: FeatureReuse | None = None
        self.max_batch: int | None = None  # set when the GPU ran out of memory: the most pictures made at once
        self.notes: list[str] = []  # what the user should know of the last batches (the worker says them)
        if self.compile:  # said before the first batch, which it makes long
            self.notes.append("--compile: the first batch of each size is compiled first (minutes on a GPU); the "
                              "compiled code is kept for the next runs")  # fmt: skip

    def picture_options(self, request: ImageRequest) -> dict[str, str]:
        """--deepcache changes a picture of two steps or more (at one step there is nothing to reuse)."""
        return {"deepcache": str(self.deepcache)} if self.deepcache and request.steps > 1 else {}

    def defaults(self) -> Defaults:
        turbo = "turbo" in self.model.lower()
        if self.family == "sdxl":
            return Defaults(
                steps=1 if turbo else 30, guidance=0.0 if turbo else 6.0, width=768, height=1344, native=1024
            )
        native = 512
        try:
            cfg = json.loads((self.path / "unet" / "config.json").read_text()) if self.kind == "folder" else {}
            vae_cfg = json.loads((self.path / "vae" / "config.json").read_text()) if self.kind == "folder" else {}
            if cfg.get("sample_size"):
                native = int(cfg["sample_size"]) * 2 ** (len(vae_cfg.get("block_out_channels", [1, 1, 1, 1])) - 1)
        except (OSError, ValueError):
            pass
        # 9:16, rounded to multiples of 64, about the model's native area
        w = max(64, round(native * 0.75 / 64) * 64)
        h = max(64, round(native * 1.333 / 64) * 64)
        return Defaults(steps=1 if turbo else 25, guidance=0.0 if turbo else 7.0, width=w, height=h, native=native)

    def _load(self) -> Any:
        if self._pipe is not None:
            return self._pipe
        try:
            import torch

            _quiet_libraries()
            from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
        except ImportError:
            raise InputError(
                "the diffusers backend needs torch and diffusers: run `pip install 'storyreel[diffusers]'` "
                "or use --backend sketch"
            ) from None
        device = self._device_guess()
        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        cls = StableDiffusionXLPipeline if self.family == "sdxl" else StableDiffusionPipeline
        dtype_arg = "dtype" if _takes_dtype() else "torch_dtype"  # diffusers renamed it
        try:
            if self.kind == "folder":
                kwargs: dict[str, Any] = {dtype_arg: dtype}
                variant = folder_variant(self.path)
                if variant:  # `models pull` took only the fp16 weights; they load as `dtype` all the same
                    kwargs["variant"] = variant
                if self.family == "sd":
                    kwargs.update(safety_checker=None, requires_safety_checker=False)
                if _places(device):  # each weight read straight onto the device, not through the CPU's memory
                    kwargs["device_map"] = device
                pipe = cls.from_pretrained(self.path, local_files_only=True, **kwargs)
            else:
                pipe = cls.from_single_file(str(self.path), local_files_only=True, **{dtype_arg: dtype})
        except (OSError, ValueError) as err:
            raise ModelNotFoundError(
                f"cannot load model {self.model} from {self.path}: {first_line(err, 200)}; "
                "for a single file the matching base config must be in the Hugging Face cache "
                f"(`storyreel models pull` the base model), or use --backend sketch"
            ) from None
        if not getattr(pipe, "hf_device_map", None):
            pipe = pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        if self.deepcache:
            self._reuse = FeatureReuse(pipe.unet, self.deepcache)
        if self.compile:
            self._compiled(pipe, device)
        self._device = device
        self._pipe = pipe
        return pipe

    def _compiled(self, pipe: Any, device: str) -> None:
        """Compile the UNet and the VAE decoder for the shapes they are used at, keeping the compiled code on disk
        (the minutes of the first batch are paid once per machine and size)."""
        import torch

        cache = Path(os.environ.get("STORYREEL_COMPILE_CACHE") or Path.home() / ".cache" / "storyreel" / "compiled")
        try:  # torch's own default is a temporary folder, lost at the next boot; a folder the user chose stays
            from torch._inductor.runtime.cache_dir_utils import default_cache_dir

            chosen = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
            if chosen is None or Path(chosen).resolve() == Path(default_cache_dir()).resolve():
                os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache)
        except ImportError:
            os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache))
        os.environ.setdefault("TORCHINDUCTOR_FX_GRAPH_CACHE", "1")
        os.environ.setdefault("TORCHINDUCTOR_AUTOGRAD_CACHE", "1")
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
        if hasattr(pipe, "fuse_qkv_projections"):
            pipe.fuse_qkv_projections()
        mode = "max-autotune-no-cudagraphs" if device.startswith("cuda") else None
        pipe.unet = torch.compile(pipe.unet, mode=mode, dynamic=False)
        pipe.vae.decode = torch.compile(pipe.vae.decode, mode=mode, dynamic=False)

    def describe(self) -> str:
        return (super().describe() + (", compiled" if self.compile else "")
                + (f", deep features every {self.deepcache} steps" if self.deepcache else ""))  # fmt: skip

    def generate(
        self, requests: list[ImageRequest], progress: Progress | None = None, should_stop: ShouldStop | None = None
    ) -> list[Any]:
        if not requests:
            return []
        first = requests[0]
        shared = (first.steps, first.guidance, first.width, first.height)
        if any((r.steps, r.guidance, r.width, r.height) != shared for r in requests):
            raise ValueError("a batch must share steps, guidance and size")
        for r in requests:
            if r.width % 8 or r.height % 8:
                raise InputError(f"image size {r.width}x{r.height} must be multiples of 8: use e.g. --size 512x896")
        pipe = self._load()
        tried, before = min(len(requests), self.max_batch or len(requests)), self.max_batch
        try:
            return self._in_parts(pipe, requests, progress, should_stop)
        finally:  # one note for the batch, however often it was halved (and said even when it was stopped)
            if self.max_batch != before:
                self.notes.append(f"the GPU ran out of memory making {tried} pictures at once: making them "
                                  f"{self.max_batch} at a time")  # fmt: skip

    def _in_parts(self, pipe: Any, requests: list[ImageRequest], progress: Progress | None,
                  should_stop: ShouldStop | None) -> list[Any]:  # fmt: skip
        """The pictures, in calls of at most ``max_batch``; a call that runs out of GPU memory is made again at
        half the size, which the rest of the batch and the next batches keep. A seed makes the same picture in any
        part."""
        import torch

        out: list[Any] = []
        while len(out) < len(requests):
            start = len(out)
            part = requests[start : start + (self.max_batch or len(requests))]

            def part_progress(fraction: float, done: int = start, n: int = len(part)) -> None:
                if progress:
                    progress((done + fraction * n) / len(requests))

            # compiled for fixed shapes: a batch padded to a power of two (its last request again, the extra
            # pictures dropped), so a few sizes are compiled once rather than one per leftover batch
            padded = part + [part[-1]] * (_bucket(len(part)) - len(part)) if self.compile else part
            try:
                made: list[Any] | None = self._call(pipe, padded, part_progress, should_stop)[: len(part)]
            except torch.cuda.OutOfMemoryError:
                if len(part) == 1:
                    raise BackendError("the GPU ran out of memory for a single picture: use a smaller --size, or a "
                                       "smaller model") from None  # fmt: skip
                made = None
            if made is None:
                free_accelerator_memory()  # outside the handler, whose frames hold the failed call's tensors
                self.max_batch = (len(part) + 1) // 2
                continue
            out += made
        return out

    def _call(self, pipe: Any, requests: list[ImageRequest], progress: Progress,
              should_stop: ShouldStop | None) -> list[Any]:  # fmt: skip
        import torch
        from PIL import Image

        first = requests[0]
        stopped = False

        def on_step(p: Any, step: int, timestep: Any, kwargs: dict) -> dict:
            nonlocal stopped
            progress((step + 1) / first.steps)
            if should_stop and should_stop():
                p._interrupt = True
                stopped = True
            return kwargs

        # generators on the CPU, so a seed makes the same image on any device and in any batch
        generators = [torch.Generator("cpu").manual_seed(r.seed) for r in requests]
        try:
            with torch.inference_mode():
                result = pipe(
                    prompt=[r.prompt for r in requests],
                    negative_prompt=[r.negative for r in requests] if first.guidance > 1 else None,
                    num_inference_steps=first.steps,
                    guidance_scale=first.guidance,
                    width=first.width,
                    height=first.height,
                    generator=generators,
                    callback_on_step_end=on_step,
                    output_type="pt",
                )
                if stopped:
                    raise Cancelled("generation stopped; finished candidates are kept")
                # to 8 bits where the pictures are (the GPU), then one copy: as diffusers' own PIL output, less the wait
                pixels = (result.images.float() * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu()
        finally:
            if self._reuse is not None:
                self._reuse.reset()  # the next batch starts at its first step; the kept features let go
        return [Image.fromarray(a) for a in pixels.numpy()]


def check_speedups(compile: bool, deepcache: object) -> int:
    """--deepcache as a number of steps (0: off), checked, and checked against --compile."""
    n = check_deepcache(deepcache)
    if compile and n:
        raise InputError("--compile and --deepcache do not go together yet: choose one (--deepcache 0 or "
                         "--no-compile turns the other off)")  # fmt: skip
    return n


def check_deepcache(value: object) -> int:
    """--deepcache as a number of steps: 0 (off), or 2 to 10 (1 is every step: off as well)."""
    if value is None or value == "":
        return 0
    try:
        n = int(str(value))
    except ValueError:
        n = -1
    if not 0 <= n <= 10:
        raise InputError(f"--deepcache {value}: give 2 to 10 (the deep layers computed every that many steps; 3 is "
                         "about twice as fast), or 0 for off")  # fmt: skip
    return n if n >= 2 else 0


class FeatureReuse:
    """DeepCache (Ma et al., 2023): between two denoising steps the UNet's deep features change little, so they are
    computed every ``interval``-th step only; on the steps between, the blocks below the outermost ones give back
    what they gave last, and only the outermost down and up blocks run (fed by fresh skip connections). Each picture
    of a batch still depends on its own seed alone."""

    def __init__(self, unet: Any, interval: int) -> None:
        self.interval = interval
        self.step = 0
        self.kept: dict[int, Any] = {}
        deep = [b for b in (*unet.down_blocks[1:], unet.mid_block, *unet.up_blocks[:-1]) if b is not None]
        for i, block in enumerate(deep):
            block.forward = self._reusing(i, block.forward)
        unet.register_forward_hook(self._stepped)

    def reset(self) -> None:
        """After a batch (made, stopped or failed): the next one computes everything at its first step."""
        self.step = 0
        self.kept.clear()

    def _reusing(self, key: int, forward: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            if self.step % self.interval and key in self.kept:
                return self.kept[key]
            self.kept[key] = out = forward(*args, **kwargs)
            return out

        return run

    def _stepped(self, module: Any, args: Any, output: Any) -> None:
        self.step += 1


def _bucket(n: int) -> int:
    """The power of two a batch of ``n`` is padded to when compiled."""
    return 1 << (n - 1).bit_length()


def pull(model: str | None = None, say: Callable[[str], None] = print, if_reachable: bool = False) -> Path | None:
    """Download a hub model (the default one if None) into the Hugging Face cache: its size said first, then
    huggingface_hub's progress bars. Nothing is asked of the hub when the model is here already. With
    ``if_reachable``, a hub that does not answer is one line and None rather than an error."""
    from . import hub

    model = model or DEFAULT_MODEL
    if model.count("/") != 1 or model.startswith((".", "/", "~")) or Path(model).expanduser().exists():
        raise InputError(f"{model} is not a hub id: give one such as {DEFAULT_MODEL} (a local model needs no pull)")
    cached = hub.cached_snapshot(model)
    if cached is not None:
        say(f"{model} is downloaded already ({cached})")
        return cached
    try:
        plan = hub.plan_pull(model)
    except HubUnreachableError as err:
        if not if_reachable:
            raise HubUnreachableError(f"cannot download {model}: {err}; try again when online") from None
        say(f"not downloading {model}: {err}; --backend auto draws sketch cards without it")
        return None
    say(f"{plan.summary()}, into {hub_cache_dir()}")
    path = hub.download(plan)
    say(f"downloaded {model} to {path}")
    return path
