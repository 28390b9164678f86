"""The fast path makes the pictures the plain one does: what storyreel stores is what plain diffusers makes from the
same seed and prompt, in any batch; a GPU that runs out of memory halves the batch and the user gets a note."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import THREE_SCENES

from storyreel.errors import BackendError
from storyreel.types import ImageRequest

torch = pytest.importorskip("torch")


def _plain(model, requests: list[ImageRequest]) -> list[np.ndarray]:
    """What a plain diffusers script makes: its own PIL output."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(model, safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    r = requests[0]
    images = pipe(prompt=[q.prompt for q in requests], negative_prompt=[q.negative for q in requests],
                  num_inference_steps=r.steps, guidance_scale=r.guidance, width=r.width, height=r.height,
                  generator=[torch.Generator("cpu").manual_seed(q.seed) for q in requests]).images  # fmt: skip
    return [np.asarray(im) for im in images]


def _requests(seeds, prompt="a green dragon asleep on gold") -> list[ImageRequest]:
    return [ImageRequest(prompt, "blurry", s, 3, 6.0, 64, 112) for s in seeds]


def test_storyreels_pictures_are_plain_diffusers_pictures_in_any_batch(tiny_model):
    from storyreel.backends.diffusers_local import DiffusersBackend

    plain = _plain(tiny_model, _requests([5, 6, 7, 8]))
    backend = DiffusersBackend(str(tiny_model))
    ours = [np.asarray(im) for im in backend.generate(_requests([5, 6, 7, 8]))]
    assert all(np.array_equal(a, b) for a, b in zip(ours, plain, strict=True))  # the 8-bit pictures, exactly
    alone = np.asarray(backend.generate(_requests([7]))[0])  # seed 7 alone, and in another batch: the same
    mixed = backend.generate(_requests([9]) + _requests([7]) + _requests([3], "a knight"))
    assert np.abs(alone.astype(int) - plain[2]).max() <= 1 and np.abs(np.asarray(mixed[1], dtype=int) - plain[2]).max() <= 1
    assert np.abs(plain[0].astype(int) - plain[1]).mean() > 10  # (two seeds do make two pictures)


def test_out_of_memory_halves_the_batch_and_says_so(tmp_path, tiny_model, monkeypatch):
    """A GPU cannot run out of memory here: the pipeline call is made to fail as CUDA does above 2 pictures."""
    from storyreel import edit, pipeline
    from storyreel.backends.diffusers_local import DiffusersBackend

    sizes: list[int] = []
    real = DiffusersBackend._call

    def short_of_memory(self, pipe, requests, progress, should_stop):
        sizes.append(len(requests))
        if len(requests) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, pipe, requests, progress, should_stop)

    monkeypatch.setattr(DiffusersBackend, "_call", short_of_memory)
    monkeypatch.setattr(DiffusersBackend, "mixes_prompts", True)  # as on a GPU: a batch spans scenes
    project = edit.create_project(tmp_path, "p", THREE_SCENES, {"backend": "diffusers", "model": str(tiny_model),
                                  "candidates": 3, "seed": 10, "steps": 2, "size": "64x112"})  # fmt: skip
    said: list[str] = []
    _, made = pipeline.generate(project, pipeline.in_force(project), log=said.append)
    assert made == 9 and len(project.candidates()) == 9  # every picture made, none lost
    notes = [s for s in said if "ran out of memory" in s]
    assert notes == ["the GPU ran out of memory making 9 pictures at once: making them 2 at a time"]
    # the three scenes' 9 pictures in one batch, halved until it fits; the rest of the batch at the size that fitted
    assert sizes == [9, 5, 3, 2, 2, 2, 2, 1]
    # and the pictures are those one batch of a scene's 3 makes
    monkeypatch.undo()
    from PIL import Image

    backend = DiffusersBackend(str(tiny_model))
    for scene in project.scenes():
        rows = project.candidates(scene.id)
        again = backend.generate([ImageRequest(r.prompt, r.negative, r.seed, r.steps, r.guidance, r.width, r.height)
                                  for r in rows])  # fmt: skip
        for row, im in zip(rows, again, strict=True):
            stored = np.asarray(Image.open(project.media.path(row.media)).convert("RGB"), dtype=int)
            assert np.abs(stored - np.asarray(im)).max() <= 1

    def always(*_):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(DiffusersBackend, "_call", always)
    with pytest.raises(BackendError, match="out of memory for a single picture"):
        DiffusersBackend(str(tiny_model)).generate(_requests([1]))


def test_compiled_batches_are_padded_to_a_few_sizes_and_make_the_same_pictures(tiny_model, monkeypatch):
    """Compiled for fixed shapes, a batch of 3 is made as 4 (its last request again, that picture dropped), so
    leftover batches reuse the few sizes compiled; the pictures are those of the batch unpadded. (Compiling itself
    takes minutes here: the compile step is left out, the padding is what is checked.)"""
    from storyreel.backends.diffusers_local import DiffusersBackend

    sizes: list[int] = []
    real = DiffusersBackend._call

    def counted(self, pipe, requests, progress, should_stop):
        sizes.append(len(requests))
        return real(self, pipe, requests, progress, should_stop)

    monkeypatch.setattr(DiffusersBackend, "_compiled", lambda self, pipe, device: None)
    monkeypatch.setattr(DiffusersBackend, "_call", counted)
    padded = DiffusersBackend(str(tiny_model), compile=True).generate(_requests([5, 6, 7]))
    plain = DiffusersBackend(str(tiny_model)).generate(_requests([5, 6, 7]))
    assert sizes == [4, 3] and len(padded) == 3
    assert all(np.abs(np.asarray(a, dtype=int) - np.asarray(b)).max() <= 1 for a, b in zip(padded, plain, strict=True))


def test_deepcache_computes_the_deep_layers_every_nth_step_and_keeps_each_seeds_picture(tiny_model, monkeypatch):
    """--deepcache 3: the UNet's outermost down and up blocks run at each of 8 steps, the blocks below them on steps
    0, 3 and 6 only; each picture comes out close to the full one (far closer than another seed's), yet not the
    same, and the same for its seed in any batch. At one step there is nothing to reuse: the key stays."""
    from diffusers.models.unets import unet_2d_blocks as blocks

    from storyreel.backends.diffusers_local import DiffusersBackend
    from storyreel.stages.images import request_key

    runs: dict[int, int] = {}  # how often each block computed, by the block
    for cls in {blocks.DownBlock2D, blocks.CrossAttnDownBlock2D, blocks.UNetMidBlock2DCrossAttn,
                blocks.CrossAttnUpBlock2D, blocks.UpBlock2D}:  # fmt: skip

        def counted(self, *args, _real=cls.forward, **kwargs):
            runs[id(self)] = runs.get(id(self), 0) + 1
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(cls, "forward", counted)

    def eight(seeds, prompt="a green dragon asleep on gold"):
        return [ImageRequest(prompt, "blurry", s, 8, 6.0, 64, 112) for s in seeds]

    def computed(backend) -> list[int]:
        unet = backend._pipe.unet
        return [runs.get(id(b), 0) for b in (*unet.down_blocks, unet.mid_block, *unet.up_blocks)]

    plain = DiffusersBackend(str(tiny_model))
    full = [np.asarray(im, dtype=int) for im in plain.generate(eight([5, 6]))]
    assert computed(plain) == [8, 8, 8, 8, 8]  # down, down, mid, up, up: every step
    backend = DiffusersBackend(str(tiny_model), deepcache=3)
    reused = [np.asarray(im, dtype=int) for im in backend.generate(eight([5, 6]))]
    assert computed(backend) == [8, 3, 3, 3, 8]
    other_seed = np.abs(full[0] - full[1]).mean()
    for a, b in zip(reused, full, strict=True):
        assert 0 < np.abs(a - b).mean() < other_seed / 10
    mixed = backend.generate(eight([9]) + eight([6]) + eight([3], "a knight"))
    assert np.abs(np.asarray(mixed[1], dtype=int) - reused[1]).max() <= 1
    assert "deep features every 3 steps" in backend.describe()
    one_step, two_steps = ImageRequest("a knight", "", 1, 1, 0.0, 64, 112), ImageRequest("a knight", "", 1, 2, 0.0, 64, 112)
    assert request_key(backend, one_step) == request_key(plain, one_step)  # Turbo's candidates are not made again
    assert request_key(backend, two_steps) != request_key(plain, two_steps)


def test_deepcache_from_the_command_line_makes_the_candidates_again_and_bad_values_say_what_to_give(
    tmp_path, tiny_model, cli
):  # fmt: skip
    """Turned on, the candidates are made again (the pictures change, as with other steps) and the option is
    remembered; with --compile, or out of range, one line says what to do and nothing changes; turned off, the full
    pictures made before are the scenes' again, nothing made."""
    from storyreel.store.db import Project

    story = tmp_path / "story.md"
    story.write_text(THREE_SCENES, encoding="utf-8")
    p = tmp_path / "p"
    assert cli("new", story, "--project", p).code == 0
    full = cli("generate", p, "--backend", "diffusers", "--model", tiny_model, "--steps", "4", "--size", "64x112",
               "--candidates", "1")  # fmt: skip
    assert full.code == 0 and "made 3 candidates" in full.stderr
    reused = cli("generate", p, "--deepcache", "2")
    assert reused.code == 0 and "made 3 candidates" in reused.stderr and "deep features every 2 steps" in reused.stderr
    for bad, says in ((["--deepcache", "2", "--compile"], "--compile and --deepcache do not go together yet"),
                      (["--deepcache", "12"], "--deepcache 12: give 2 to 10")):  # fmt: skip
        run = cli("generate", p, *bad)
        lines = run.stderr.strip().splitlines()
        assert run.code != 0 and len(lines) == 1 and says in lines[0] and "Traceback" not in run.stderr
    project = Project(p)
    assert project.settings().get("deepcache") == 2 and not project.settings().get("compile")
    assert len(project.candidates()) == 6
    project.close()
    off = cli("generate", p, "--deepcache", "0")
    assert off.code == 0 and "made 0 candidates" in off.stderr
