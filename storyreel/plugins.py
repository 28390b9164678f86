"""Plugin registry: image backends, TTS engines and coreference engines.

A plugin is a function ``register(registry)`` exposed under the ``storyreel`` entry-point group.
storyreel's own backends register through the same hook (``builtin`` below), by import path, so that
torch and friends are imported only when the backend that needs them is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from .errors import InputError

KINDS = ("image_backend", "tts_engine", "coref_engine")


class Registry:
    def __init__(self) -> None:
        self._items: dict[str, dict[str, str | Callable[..., Any]]] = {k: {} for k in KINDS}

    def image_backend(self, name: str, factory: str | Callable[..., Any]) -> None:
        self._items["image_backend"][name] = factory

    def tts_engine(self, name: str, factory: str | Callable[..., Any]) -> None:
        self._items["tts_engine"][name] = factory

    def coref_engine(self, name: str, factory: str | Callable[..., Any]) -> None:
        self._items["coref_engine"][name] = factory

    def names(self, kind: str) -> list[str]:
        return sorted(self._items[kind])

    def factory(self, kind: str, name: str) -> Callable[..., Any]:
        try:
            target = self._items[kind][name]
        except KeyError:
            label = kind.replace("_", " ")
            raise InputError(f"unknown {label} {name!r}: choose one of {', '.join(self.names(kind))}") from None
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
        return target


def builtin(register: Registry) -> None:
    register.image_backend("diffusers", "storyreel.backends.diffusers_local:DiffusersBackend")
    register.image_backend("sketch", "storyreel.backends.sketch:SketchBackend")
    register.image_backend("a1111", "storyreel.backends.a1111:A1111Backend")
    register.image_backend("comfyui", "storyreel.backends.comfyui:ComfyUIBackend")
    register.tts_engine("espeak", "storyreel.tts.espeak:EspeakEngine")
    register.tts_engine("piper", "storyreel.tts.piper:PiperEngine")
    register.coref_engine("rules", "storyreel.coref.rules:RulesEngine")
    register.coref_engine("fastcoref", "storyreel.coref.fastcoref_engine:FastcorefEngine")
    register.coref_engine("llm", "storyreel.coref.llm_engine:LlmEngine")


@cache
def registry() -> Registry:
    reg = Registry()
    hooks = {ep.name: ep for ep in entry_points(group="storyreel")}
    if "builtin" not in hooks:  # running from a source tree that was never installed
        builtin(reg)
    for ep in hooks.values():
        ep.load()(reg)
    return reg


def create(kind: str, name: str, **options: Any) -> Any:
    return registry().factory(kind, name)(**options)
