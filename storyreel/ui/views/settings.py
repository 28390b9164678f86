"""Settings: the image backend and model, candidates per scene, steps, guidance, size, seed, style and negative
prompts, with style presets."""

from __future__ import annotations

import streamlit as st

from storyreel import pipeline, plugins
from storyreel.errors import StoryreelError
from storyreel.stages.prompts import STYLE_PRESETS
from storyreel.ui import common

BACKEND_HELP = {
    "auto": "diffusers when the model's weights are here, else sketch cards",
    "diffusers": "Stable Diffusion in this process (a model folder, a .safetensors file or a hub id)",
    "sketch": "storyboard cards: check timing, narration and captions without a model",
    "a1111": "your AUTOMATIC1111 or Forge web UI, started with --api (give its address below)",
    "comfyui": "your ComfyUI server (give its address below, and a workflow of your own if you like)",
}


def apply_preset(style_key: str) -> None:
    preset = st.session_state.get("preset")
    if preset in STYLE_PRESETS:
        st.session_state[style_key] = STYLE_PRESETS[preset]


def save(project, backend: str, model: str, candidates: int, steps: int | None, guidance: float | None,
         size: str, seed: int, style: str, negative: str, backend_url: str = "", workflow: str = "",
         compile: bool = False, deepcache: int = 0) -> None:  # fmt: skip
    """Check everything first (a missing model, a bad size say so and nothing is stored), then store it."""
    given = dict(backend=backend, model=model.strip() or None, candidates=int(candidates), steps=steps,
                 guidance=guidance, size=size.strip() or None, seed=int(seed), style=style, negative=negative,
                 workflow=workflow.strip() or None, compile=bool(compile), deepcache=int(deepcache))  # fmt: skip
    urls = backend_url.replace(",", " ").split()  # one server, or several to share the pictures; stored without a
    given["backend_url"] = (urls[0] if len(urls) == 1 else urls) or None  # password (as every option: given_options)
    trial = {**common.options(project), **given, **pipeline.given_options(pipeline.Options(**given))}
    if trial["model"] and trial["backend"] == "auto":  # a model asked for by name must be there, even for auto
        from storyreel.backends.diffusers_local import locate

        locate(trial["model"])
    pipeline.image_settings(pipeline.backend_for(trial), trial)
    with project.tx():  # all or nothing
        common.save_options(project, **{k: v for k, v in given.items() if v is not None})
        project.set_settings(**{k: None for k, v in given.items() if v is None})  # back to the default


def save_form(project, style_key: str) -> None:
    ss = st.session_state
    steps = int(ss["steps"]) or None
    guidance = None if float(ss["guidance"]) < 0 else float(ss["guidance"])
    save(project, ss["backend"], ss["model"], ss["candidates"], steps, guidance, ss["size"], ss["seed"],
         ss[style_key], ss["negative_text"], ss.get("backend_url", ""), ss.get("workflow", ""),
         bool(ss.get("compile")), int(ss.get("deepcache") or 0))


def save_assistant(project, url: str, model: str, finder: str) -> None:
    """The writing assistant's server and model (its key stays in the environment), and who finds the characters."""
    url, model = url.strip(), model.strip()
    if url or model or finder == "llm":
        from storyreel.assist.llm import Assistant

        Assistant(url or None, model or None)  # both, and a well-formed address, before anything is stored
    with project.tx():
        common.save_options(project, coref=finder, **{k: v for k, v in (("llm_url", url), ("llm_model", model)) if v})
        project.set_settings(**{k: None for k, v in (("llm_url", url), ("llm_model", model)) if not v})


def assistant_form(project, opts: dict) -> None:
    st.subheader("Writing assistant")
    st.caption("A language model you run (Ollama, llama.cpp's server, vLLM, LM Studio) or OpenAI. It describes the "
               "scenes' pictures (Storyboard) and the characters' looks (Characters), and can find the characters. "
               "Everything works without it.")  # fmt: skip
    with st.form("assistant"):
        a, b = st.columns([3, 2])
        a.text_input("Server (OpenAI-compatible)", value=opts.get("llm_url") or "", key="llm_url",
                     placeholder="http://127.0.0.1:11434/v1",
                     help="A key: start the studio with STORYREEL_LLM_KEY (or OPENAI_API_KEY, for OpenAI) set; it "
                          "is never stored.")  # fmt: skip
        b.text_input("Model", value=opts.get("llm_model") or "", key="llm_model", placeholder="llama3.1")
        finders = {"rules": "storyreel's own rules (offline, any length)",
                   "llm": "the language model (short stories; the rules beyond 12,000 characters)"}  # fmt: skip
        st.radio("Find the characters with", list(finders), format_func=finders.get, key="coref_engine",
                 index=1 if opts.get("coref") == "llm" else 0, horizontal=True,
                 help="Used the next time the story is split (Story page).")  # fmt: skip
        st.form_submit_button("Save assistant", key="save_assistant", on_click=common.action(
            save_assistant, common.Value("llm_url"), common.Value("llm_model"), common.Value("coref_engine"),
            done="writing assistant saved"))  # fmt: skip


def body(project) -> None:
    opts = common.options(project)
    style_key = f"style_text_{project.path.name}_{opts['style']}"
    st.session_state.setdefault(style_key, opts["style"])
    names = ["auto", *plugins.registry().names("image_backend")]
    backend = opts.get("backend") or "auto"
    st.subheader("Pictures")
    with st.form("settings"):
        a, b = st.columns(2)
        a.selectbox("Image backend", names, index=names.index(backend) if backend in names else 0, key="backend",
                    format_func=lambda n: f"{n}: {BACKEND_HELP[n]}" if n in BACKEND_HELP else n)  # fmt: skip
        b.text_input("Model", value=opts.get("model") or "", key="model",
                     placeholder="a diffusers folder, a .safetensors file, or a hub id like stabilityai/sd-turbo")  # fmt: skip
        st.text_input("Server (a1111, comfyui; several, separated by commas, share the pictures)",
                      value=", ".join(pipeline.server_urls(opts)), key="backend_url",
                      placeholder="http://127.0.0.1:7860 (AUTOMATIC1111), http://127.0.0.1:8188 (ComfyUI)",
                      help="The server's address. A password: start the studio with STORYREEL_A1111_AUTH or "
                           "STORYREEL_COMFYUI_AUTH=user:password set; it is never stored.")  # fmt: skip
        st.text_input("ComfyUI workflow (empty: the bundled text-to-image one)", value=opts.get("workflow") or "",
                      key="workflow", placeholder="/home/me/workflows/portrait_api.json",
                      help="A workflow saved with ComfyUI's Save (API), its inputs marked \"$prompt\", \"$seed\", "
                           "\"$width\", \"$height\" (and optionally \"$negative\", \"$steps\", \"$cfg\", "
                           "\"$checkpoint\"); see the README.")  # fmt: skip
        c, d, e, f = st.columns(4)
        c.number_input("Candidates per scene", 1, 32, min(32, int(opts.get("candidates") or common.STUDIO_CANDIDATES)),
                       key="candidates")  # fmt: skip
        d.number_input("Steps (0: the model's default)", 0, 500, int(opts.get("steps") or 0), key="steps")
        e.number_input("Guidance (-1: the model's default)", -1.0, 50.0,
                       float(opts["guidance"]) if opts.get("guidance") is not None else -1.0, step=0.5,
                       key="guidance")  # fmt: skip
        f.number_input("Base seed", 0, 2**32 - 1, int(opts["seed"]), key="seed",
                       help="Candidate k of every scene uses seed + k: the same seed makes the same picture.")  # fmt: skip
        g, h = st.columns(2)
        g.checkbox("Compile the model (diffusers on a GPU)", value=bool(opts.get("compile")), key="compile",
                   help="Faster after its first batch of each size, which takes minutes once per machine (the "
                   "compiled code is kept on disk).")  # fmt: skip
        h.number_input("Deep layers every N steps (diffusers; 0: every step)", 0, 10, int(opts.get("deepcache") or 0),
                       key="deepcache", help="DeepCache: the model's deep layers computed every N-th step only, "
                       "reused between. 2-3 is about 1.5-2x faster; each picture comes out slightly different from "
                       "the full one (and the same for its seed every time), so the candidates are made again.")  # fmt: skip
        st.text_input("Size (WIDTHxHEIGHT, empty: about the model's native size in the video's aspect)",
                      value=opts.get("size") or "", key="size", placeholder="512x896")  # fmt: skip
        st.selectbox("Style preset", list(STYLE_PRESETS), index=None, key="preset", placeholder="fill the style from a preset")
        st.form_submit_button("Use this preset", on_click=apply_preset, args=(style_key,))
        st.text_area("Style prompt (before every scene's prompt)", key=style_key)
        st.text_area("Negative prompt", value=opts["negative"], key="negative_text")
        st.form_submit_button("Save settings", type="primary", key="save_settings",
                              on_click=common.action(save_form, style_key, done="settings saved"))  # fmt: skip
    try:
        used = pipeline.backend_for(opts)
        s = pipeline.image_settings(used, opts)
        st.success(f"Pictures come from {used.describe()}: {s.candidates} a scene, {s.width}x{s.height}, "
                   f"{s.steps} steps, guidance {s.guidance}.")  # fmt: skip
        if opts["backend"] == "auto" and used.name == "sketch":
            from storyreel.backends.diffusers_local import DEFAULT_MODEL, weights_available

            st.info(f"Using sketch cards because {weights_available(opts.get('model') or DEFAULT_MODEL)[1]}")
        if used.name in ("a1111", "comfyui"):
            server_models(used, opts.get("model"))
    except StoryreelError as err:
        st.error(str(err))
    assistant_form(project, opts)


def use_model(project, key: str) -> None:
    common.save_options(project, model=st.session_state[key])


def server_models(backend, model: str | None) -> None:
    """The checkpoints the server has, to pick one (its drop-down, here)."""
    names = backend.models()  # a server that does not answer says so in the error box
    if not names:
        st.warning(f"The server at {backend.url} has no checkpoints: put one in its models folder.")
        return
    st.selectbox("The server's checkpoints", names, index=names.index(model) if model in names else None,
                 key="a1111_model", placeholder="the one loaded on the server",
                 on_change=common.action(use_model, "a1111_model", done="model chosen"))  # fmt: skip


common.page("Settings", body)
