"""The Hugging Face hub, for `storyreel models pull`: which files of a repo a diffusers pipeline needs, their size
said before the download, the download into the Hugging Face cache, and whether a model is there already.

Only this module talks to the hub. ``HF_ENDPOINT`` points it elsewhere; with ``HF_HUB_OFFLINE=1`` it asks nothing.
Of a diffusers repo we take ``model_index.json`` and, per component folder, its configs, tokenizer files and one set
of weights: the fp16 variant where the repo has one (half the download; on the CPU the backend loads it as
float32), else the plain safetensors, else the plain .bin. Never the single-file checkpoint at the top, EMA or other
variants, or the safety checker, which the backend does not load.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import HubUnreachableError, InputError, ModelNotFoundError, first_line

PROBE_TIMEOUT = 5.0  # seconds for the hub's first answer; past that it counts as unreachable
FP16 = "fp16"
_WEIGHTS = (".safetensors", ".bin")
_SHARD = re.compile(r"-\d{5}-of-\d{5}$")
_SKIPPED_FOLDERS = {"safety_checker"}


@dataclass(frozen=True)
class PullPlan:
    repo: str
    revision: str  # the branch or tag asked for ("main")
    commit: str  # what it points at now
    files: tuple[tuple[str, int], ...]  # (path in the repo, bytes)
    variant: str | None  # "fp16" when some weights are the fp16 variant
    cached: int = 0  # bytes of ``files`` already in the cache

    @property
    def size(self) -> int:
        return sum(size for _, size in self.files)

    def summary(self) -> str:
        """One line: what will be downloaded, said before the download starts."""
        weights = "fp16 weights" if self.variant == FP16 else "float32 weights"
        line = f"{self.repo}: {human_size(self.size - self.cached)} to download ({len(self.files)} files, {weights}"
        if self.cached:
            line += f"; {human_size(self.cached)} of {human_size(self.size)} is here already"
        return line + ")"


def human_size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def weights_variant(name: str) -> str | None:
    """The variant of a weights file name: ``unet.fp16.safetensors`` -> "fp16", ``model-00001-of-00002.safetensors``
    -> None, ``diffusion_pytorch_model.non_ema.bin`` -> "non_ema"."""
    stem = _SHARD.sub("", name.rsplit(".", 1)[0])
    return stem.rsplit(".", 1)[1] if "." in stem else None


def choose_files(files: Iterable[tuple[str, int]]) -> tuple[list[tuple[str, int]], str | None]:
    """The files of a repo a diffusers pipeline loads, and the weights variant chosen. Empty if the repo has no
    model_index.json (it is no diffusers model)."""
    files = list(files)
    if not any(path == "model_index.json" for path, _ in files):
        return [], None
    by_folder: dict[str, list[tuple[str, int]]] = {}
    for path, size in files:
        folder, _, name = path.rpartition("/")
        if folder and "/" not in folder and folder not in _SKIPPED_FOLDERS:
            by_folder.setdefault(folder, []).append((name, size))
    chosen = [(path, size) for path, size in files if path == "model_index.json"]
    variant = None
    for folder, entries in sorted(by_folder.items()):
        weights = [(n, s) for n, s in entries if n.endswith(_WEIGHTS)]
        for n, s in entries:
            if n.endswith((".json", ".txt", ".model")):  # configs, tokenizer vocabularies
                chosen.append((f"{folder}/{n}", s))
        for wanted in ((".safetensors", FP16), (".safetensors", None), (".bin", FP16), (".bin", None)):
            picked = [(n, s) for n, s in weights if n.endswith(wanted[0]) and weights_variant(n) == wanted[1]]
            if picked:
                chosen += [(f"{folder}/{n}", s) for n, s in picked]
                variant = variant or wanted[1]
                break
    return chosen, variant


def _api() -> tuple[Any, Any]:
    try:
        from huggingface_hub import HfApi, constants
    except ImportError:
        raise InputError("downloading needs huggingface_hub: run `pip install 'storyreel[diffusers]'`") from None
    return HfApi(), constants


def plan_pull(repo: str, revision: str = "main", timeout: float = PROBE_TIMEOUT) -> PullPlan:
    """Ask the hub which files ``repo`` has and how big they are. Raises HubUnreachableError when the hub does not
    answer within ``timeout`` seconds (or HF_HUB_OFFLINE is set), ModelNotFoundError when it has no such model."""
    api, constants = _api()
    endpoint = constants.ENDPOINT
    if constants.HF_HUB_OFFLINE:
        raise HubUnreachableError("HF_HUB_OFFLINE is set, so the model hub is not asked")
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        info = api.model_info(repo, revision=revision, files_metadata=True, timeout=timeout)
    except (RepositoryNotFoundError, GatedRepoError, RevisionNotFoundError) as err:
        raise ModelNotFoundError(
            f"the model hub has no model {repo} (revision {revision}) that we may download "
            f"({type(err).__name__}): check the id"
        ) from None
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else 0
        if status in (401, 403, 404):
            raise ModelNotFoundError(f"the model hub refused {repo} (HTTP {status}): check the id") from None
        raise HubUnreachableError(f"the model hub {endpoint} answered HTTP {status}") from None
    except Exception as err:  # connection refused, name not resolved, timeout, proxy: the libraries' own types
        reason = first_line(err, 120, "no answer")
        raise HubUnreachableError(
            f"the model hub {endpoint} is not reachable ({type(err).__name__}: {reason})"
        ) from None
    listed = [(s.rfilename, int(s.size or 0)) for s in (info.siblings or [])]
    files, variant = choose_files(listed)
    if not files:
        raise ModelNotFoundError(
            f"{repo} has no model_index.json, so it is not a diffusers model: pick a diffusers repo, or download "
            "a single .safetensors file yourself and pass --model FILE"
        )
    commit = info.sha or revision
    return PullPlan(repo, revision, commit, tuple(files), variant, _cached_bytes(repo, commit, files))


def _cached_bytes(repo: str, commit: str, files: list[tuple[str, int]]) -> int:
    from huggingface_hub import try_to_load_from_cache

    return sum(size for path, size in files if isinstance(try_to_load_from_cache(repo, path, revision=commit), str))


def download(plan: PullPlan) -> Path:
    """Download the plan's files into the Hugging Face cache (huggingface_hub's progress bars); the snapshot folder."""
    _api()
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(plan.repo, revision=plan.revision, allow_patterns=[p for p, _ in plan.files])
    except Exception as err:  # connection lost, disk full, the repo changed under us
        reason = first_line(err, 160, "")
        raise ModelNotFoundError(
            f"cannot download {plan.repo}: {type(err).__name__}: {reason}; run the same command again to go on "
            "where it stopped"
        ) from None
    return Path(path)


def cached_snapshot(repo: str) -> Path | None:
    """The cached snapshot of ``repo`` if every file a pull takes is in it; None otherwise. Asks no one."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    patterns = None
    try:
        from huggingface_hub import get_cached_repo_tree

        # the cache keeps the repo's whole listing: check the files we pull, not all of them
        chosen, _ = choose_files((f.path, int(f.size or 0)) for f in get_cached_repo_tree(repo))
        patterns = [p for p, _ in chosen] or None
    except Exception:  # an older huggingface_hub, or no listing cached: the snapshot as it is
        pass
    try:
        path = Path(snapshot_download(repo, local_files_only=True, allow_patterns=patterns))
    except Exception:  # not in the cache, or only part of it
        return None
    return path if (path / "model_index.json").exists() else None


def folder_variant(folder: Path) -> str | None:
    """The variant diffusers must be told to load: "fp16" when a component of the folder has only fp16 weights
    (what a pull leaves), else None."""
    for component in folder.iterdir():
        if component.is_dir():
            names = [p.name for p in component.iterdir() if p.name.endswith(_WEIGHTS)]
            if names and all(weights_variant(n) == FP16 for n in names):
                return FP16
    return None
