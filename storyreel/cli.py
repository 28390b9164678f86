"""The storyreel command line: everything headless. Each command calls the public pipeline functions."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import pipeline
from .errors import InputError, StoryreelError
from .pipeline import Options

app = typer.Typer(
    help="Turn a story into a narrated vertical video of Stable Diffusion pictures whose characters keep their look. "
    "A project remembers the options you give it, so later commands need only what changes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Stable Diffusion models.", no_args_is_help=True)
app.add_typer(models_app, name="models")
eval_app = typer.Typer(help="Measure storyreel's parts on public data sets.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")

err = Console(stderr=True, soft_wrap=True)  # one line per message: the terminal wraps it, not rich
out = Console()

STAGE_LABELS = {"story": "Reading the story", "images": "Generating images", "narration": "Narrating",
                "video": "Rendering video"}  # fmt: skip


@contextmanager
def progress_bars():
    """Rich progress bars on stderr, one per stage; yields (progress callback, log callback)."""
    bars = Progress(
        TextColumn("{task.description:<20}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
        console=err, transient=False,
    )  # fmt: skip
    tasks: dict[str, Any] = {}

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(STAGE_LABELS.get(stage, stage), total=max(total, 1))
        bars.update(tasks[stage], completed=done if total else 1, total=max(total, 1))

    def on_log(line: str) -> None:
        bars.console.print(f"[dim]{line}[/dim]", highlight=False)

    with bars:
        yield on_progress, on_log


# shared options --------------------------------------------------------------------------------------------
ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="Project folder (project.db + media/).")]
BackendOpt = Annotated[str | None, typer.Option(help="Image backend: auto (diffusers when its model is here, else sketch), diffusers, sketch, a1111 (an AUTOMATIC1111 web UI) or comfyui (a ComfyUI server), with --backend-url. (default: auto)")]
BackendUrlOpt = Annotated[list[str] | None, typer.Option("--backend-url", help="The server of --backend a1111 (e.g. http://127.0.0.1:7860, started with --api) or comfyui (e.g. http://127.0.0.1:8188); give it again for more servers: the pictures are shared among them. A password goes in STORYREEL_A1111_AUTH / STORYREEL_COMFYUI_AUTH=user:password or in the URL; it is never stored.")]
WorkflowOpt = Annotated[Path | None, typer.Option("--workflow", help="For --backend comfyui: your workflow, saved with ComfyUI's Save (API), its inputs marked \"$prompt\", \"$seed\", \"$width\", \"$height\"... (see the README). (default: a plain text-to-image workflow)")]
ModelOpt = Annotated[str | None, typer.Option(help="Model: a diffusers folder, a .safetensors file or a hub id. (default: stabilityai/sd-turbo)")]
ScenesOpt = Annotated[int | None, typer.Option("--scenes", help="Exactly this many scenes. (default: a scene per sentence, short ones joined)")]
CandOpt = Annotated[int | None, typer.Option("--candidates", "-k", help="Candidate images per scene. (default: 1)")]
SeedOpt = Annotated[int | None, typer.Option(help="Base seed: candidate k of every scene uses seed + k. (default: random, then kept)")]
StepsOpt = Annotated[int | None, typer.Option(help="Denoising steps. (default: the model's: 1 for Turbo models, 25 for others)")]
GuidanceOpt = Annotated[float | None, typer.Option(help="Classifier-free guidance scale. (default: the model's: 0 for Turbo, 7 for others)")]
SizeOpt = Annotated[str | None, typer.Option(help="Image size WIDTHxHEIGHT, e.g. 512x896. (default: the model's size in the video's aspect)")]
StyleOpt = Annotated[str | None, typer.Option(help="Style words put before every prompt. (default: high quality, detailed digital illustration)")]
NegativeOpt = Annotated[str | None, typer.Option(help="Negative prompt for every image. (default: blurry, low quality, deformed, ...)")]
AspectOpt = Annotated[str | None, typer.Option(help="Video aspect: 9:16, 16:9 or 1:1. (default: 9:16)")]
VoiceOpt = Annotated[str | None, typer.Option(help="Voice: an espeak voice (en-us, en-gb, fr, ...) or a Piper .onnx. (default: the story's language's, en-us for English)")]
TTSOpt = Annotated[str | None, typer.Option("--tts", help="TTS engine: espeak or piper. (default: espeak)")]
SpeedOpt = Annotated[int | None, typer.Option(help="Speaking speed in words per minute, 80 to 450 (espeak). (default: 165)")]
MusicOpt = Annotated[str | None, typer.Option(help="Background music file, lowered under the voice (\"\" for none). (default: none)")]
MusicVolOpt = Annotated[float | None, typer.Option("--music-volume", help="Music volume, 0 to 2. (default: 0.3)")]
CorefOpt = Annotated[str | None, typer.Option("--coref", help="Character finder engine: rules, fastcoref, or llm (your language model, with --llm-url and --llm-model). (default: rules)")]
CompileOpt = Annotated[bool | None, typer.Option("--compile/--no-compile", help="diffusers on a GPU: compile the model (channels-last, fused attention, torch.compile): faster once its first batch of each size has been compiled (minutes, kept on disk for the next runs). Remembered. (default: off)")]
DeepCacheOpt = Annotated[int | None, typer.Option("--deepcache", help="diffusers: compute the model's deep layers every N-th step only and reuse them between (DeepCache): about 1.5-2x faster at 2-3, each picture slightly different from the full one (the same for its seed every time). 0: off. Remembered. (default: 0)")]
ExecutorOpt = Annotated[str | None, typer.Option("--executor", help="Where the pictures are made: inprocess (this process) or ray (a Ray cluster's actors, one per GPU; `pip install 'storyreel[ray]'`). (default: inprocess)")]
RayAddressOpt = Annotated[str | None, typer.Option("--ray-address", help="For --executor ray: a running cluster (`ray start --head` prints it, e.g. 10.0.0.5:6379); without it a local cluster is started for the run.")]
RayActorsOpt = Annotated[int | None, typer.Option("--ray-actors", help="For --executor ray: how many actors, each holding the model. (default: one per GPU, or one per four CPUs)")]
LlmUrlOpt = Annotated[str | None, typer.Option("--llm-url", help="An OpenAI-compatible server's /v1 address, e.g. http://127.0.0.1:11434/v1 (Ollama) or https://api.openai.com/v1; its key from STORYREEL_LLM_KEY or OPENAI_API_KEY.")]
LlmModelOpt = Annotated[str | None, typer.Option("--llm-model", help="The model's name on that server, e.g. llama3.1 or gpt-4o-mini.")]
CaptionsOpt = Annotated[bool | None, typer.Option("--captions/--no-captions", help="Burn captions in. (default: on)")]
CaptionSizeOpt = Annotated[float | None, typer.Option("--caption-size", help="Caption size, 0.5 to 2. (default: 1)")]
MotionOpt = Annotated[float | None, typer.Option("--motion", help="Motion strength, 0 (still) to 2 (strong). (default: 1)")]
TransitionsOpt = Annotated[bool | None, typer.Option("--transitions/--no-transitions",
                                                     help="Crossfades between scenes. (default: on)")]  # fmt: skip
ForceOpt = Annotated[bool, typer.Option("--force", help="Write the video and .srt over files storyreel did not make.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Go on with a very long video or very many candidates.")]
ReplaceOpt = Annotated[bool, typer.Option("--replace", help="Replace the project's story with another one (its "
                                          "pictures stay in the project).")]  # fmt: skip
LanguageOpt = Annotated[str | None, typer.Option("--language", help="The story's language, e.g. en, fr, zh, ar "
                                                 "(default: detected from the text)")]  # fmt: skip


@app.command()
def make(
    story: Annotated[Path, typer.Argument(help="The story: a UTF-8 text or Markdown file.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The video to write (.mp4).")],
    project: Annotated[Path | None, typer.Option("--project", "-p", help="Project folder (default: OUT.storyreel).")] = None,
    backend: BackendOpt = None, backend_url: BackendUrlOpt = None, workflow: WorkflowOpt = None,
    model: ModelOpt = None, scenes: ScenesOpt = None, candidates: CandOpt = None,
    seed: SeedOpt = None, steps: StepsOpt = None, guidance: GuidanceOpt = None, size: SizeOpt = None,
    style: StyleOpt = None, negative: NegativeOpt = None, aspect: AspectOpt = None, tts: TTSOpt = None,
    voice: VoiceOpt = None, speed: SpeedOpt = None, music: MusicOpt = None, music_volume: MusicVolOpt = None,
    coref: CorefOpt = None, llm_url: LlmUrlOpt = None, llm_model: LlmModelOpt = None,
    captions: CaptionsOpt = None, caption_size: CaptionSizeOpt = None,
    motion: MotionOpt = None, transitions: TransitionsOpt = None, language: LanguageOpt = None,
    executor: ExecutorOpt = None, ray_address: RayAddressOpt = None, ray_actors: RayActorsOpt = None,
    compile: CompileOpt = None, deepcache: DeepCacheOpt = None, replace: ReplaceOpt = False, force: ForceOpt = False,
    yes: YesOpt = False,
) -> None:  # fmt: skip
    """Everything in one go: story in, narrated video and .srt out (each scene shows its first candidate)."""
    opts = Options(backend, model, scenes, candidates, seed, steps, guidance, size, style, negative, aspect, tts,
                   voice, speed, music, music_volume, coref, captions, caption_size, motion, transitions,
                   language, backend_url, str(workflow) if workflow else None, llm_url, llm_model, executor,
                   ray_address, ray_actors, compile, deepcache)  # fmt: skip
    with progress_bars() as (on_progress, on_log):
        result = pipeline.make(story, output, project, opts, progress=on_progress, log=on_log, replace=replace,
                               overwrite=force, yes=yes)  # fmt: skip
    assert result.render is not None
    err.print(
        f"[green]wrote[/green] {result.render.video} ({result.render.duration:.1f} s, {len(result.scenes)} scenes, "
        f"{len(result.characters)} characters) and {result.render.srt.name}; project: {result.project}",
        highlight=False,
    )


def _require_project(project: Path) -> None:
    """Commands that work on a project must not create an empty one at a mistyped path."""
    if not (project / "project.db").exists():
        raise StoryreelError(
            f"{project} is not a storyreel project: check the path, or create it with "
            f"`storyreel new STORY.txt --project {project}`"
        )


def _project_opts(project: Path, **given: Any) -> tuple[Any, dict[str, Any]]:
    from .store.db import Project

    proj = Project(project)
    return proj, pipeline.resolve(proj, Options(**given))




@app.command()
def write(
    topic: Annotated[str, typer.Argument(help='What the story is about, e.g. "a fox who outwits a crow".')],
    output: Annotated[Path, typer.Option("--output", "-o", help="The story file to write (.txt).")],
    scenes: Annotated[int, typer.Option("--scenes", help="How many scenes (lines).")] = 8,
    llm_url: LlmUrlOpt = None, llm_model: LlmModelOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Write over an existing file.")] = False,
) -> None:  # fmt: skip
    """Draft a story with your language model, in the scripted form (Speaker: narration | what to draw)."""
    from .assist.llm import Assistant, write_story

    if output.exists() and not force:
        raise StoryreelError(f"{output} exists: choose another -o, or add --force to write over it")
    text = write_story(topic, scenes, Assistant(llm_url, llm_model))
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as oserr:
        from .errors import store_error

        raise store_error(oserr, output) from None
    err.print(f"[green]wrote[/green] {output} ({text.count(chr(10)) - 2} scenes): read it, change what you like, "
              f"then `storyreel make {output} -o {output.with_suffix('.mp4')}`", highlight=False)


@app.command()
def new(
    story: Annotated[Path, typer.Argument(help="The story file.")],
    project: ProjectOpt,
    scenes: ScenesOpt = None,
    style: StyleOpt = None,
    negative: NegativeOpt = None,
    coref: CorefOpt = None,
    language: LanguageOpt = None,
    llm_url: LlmUrlOpt = None,
    llm_model: LlmModelOpt = None,
    replace: ReplaceOpt = False,
    yes: YesOpt = False,
) -> None:
    """Create (or update) a project from a story: scenes and characters, ready to generate."""
    from .stages.story import read_story

    text = read_story(story)
    given = dict(scenes=scenes, style=style, negative=negative, coref=coref, language=language, llm_url=llm_url,
                 llm_model=llm_model)  # fmt: skip
    existing, folder_existed = (project / "project.db").exists(), project.exists()
    proj = pipeline.open_project(project)
    with pipeline.removed_unless_stored(proj, not existing, folder_existed):
        pipeline.check_replacing(proj, text, replace)
        new_story = None if proj.story_text() == text else text
        opts = pipeline.resolve(proj, Options(**given))
        pipeline.check_size(new_story, None, yes)
        scene_list, characters = pipeline.update_story(proj, text, opts,
                                                       log=lambda line: err.print(line, highlight=False))
    pipeline.check_size(new_story, None, yes, scene_list)
    _print_overview(scene_list, characters)
    err.print(f"[green]project[/green] {proj.path}: {len(scene_list)} scenes, {len(characters)} characters")


def _print_overview(scenes: list, characters: list) -> None:
    names = {c.id: c.name for c in characters}
    table = Table("#", "scene", "characters", show_lines=False)
    for s in scenes:
        table.add_row(str(s.index + 1), s.text[:70], ", ".join(names.get(c, c) for c in s.characters))
    out.print(table)


@app.command()
def characters(
    source: Annotated[Path, typer.Argument(help="A story file, or a project folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (characters and scenes) on stdout.")] = False,
    set_words: Annotated[list[str] | None, typer.Option("--set", help="ID=prompt words (in a project).")] = None,
    set_negative: Annotated[list[str] | None, typer.Option("--negative", help="ID=negative words.")] = None,
    rename: Annotated[list[str] | None, typer.Option("--rename", help="ID=new name.")] = None,
    reference: Annotated[list[str] | None, typer.Option("--reference", help="ID=PICTURE.png: the character's reference picture, for a ComfyUI workflow that draws from one (\"$reference\").")] = None,
    scenes: ScenesOpt = None,
    coref: CorefOpt = None,
    language: LanguageOpt = None,
    llm_url: LlmUrlOpt = None,
    llm_model: LlmModelOpt = None,
) -> None:
    """Who is in the story: each character's mentions and prompt words, and who is in each scene."""
    from .stages.prompts import DEFAULT_NEGATIVE, DEFAULT_STYLE, compose_prompt

    style, negative = DEFAULT_STYLE, DEFAULT_NEGATIVE
    if source.is_dir():
        _require_project(source)
        proj, opts = _project_opts(source, scenes=scenes, coref=coref, language=language, llm_url=llm_url,
                                   llm_model=llm_model)  # fmt: skip
        for field, items in (("prompt", set_words), ("negative", set_negative), ("name", rename)):
            for item in items or []:
                cid, sep, value = item.partition("=")
                if not sep:
                    raise StoryreelError(f"--{field} {item!r} should read ID=words, e.g. siegfried=grey hair")
                proj.update_character(cid.strip(), **{field: value.strip()})
        for item in reference or []:
            cid, sep, value = item.partition("=")
            if not sep:
                raise StoryreelError(f"--reference {item!r} should read ID=PICTURE.png, e.g. corvo=crow.png")
            from .edit import set_reference_file

            set_reference_file(proj, cid.strip(), value.strip())
        scene_list, chars = proj.scenes(), proj.characters()
        style, negative = opts["style"], opts["negative"]
    else:
        if set_words or set_negative or rename or reference:
            raise StoryreelError("--set, --negative, --rename and --reference change a project: give a project folder")
        from .stages.story import read_story

        given = pipeline.given_options(pipeline.Options(coref=coref or "rules", llm_url=llm_url, llm_model=llm_model))
        pipeline.check_options(pipeline.merge_options({}, given), given)
        scene_list, chars = pipeline.analyse(read_story(source), scenes, coref or "rules", language=language,
                                             log=lambda line: err.print(line, highlight=False), minor=as_json,
                                             coref_options=pipeline.coref_options(given))  # fmt: skip
    by_id = {c.id: c for c in chars}
    if as_json:
        doc = {
            "characters": [
                {
                    "id": c.id,
                    "name": c.name,
                    "prompt": c.prompt,
                    "minor": c.minor,
                    "mentions": [{"start": m.start, "end": m.end, "text": m.text} for m in c.mentions],
                }
                for c in chars
            ],
            "scenes": [
                {
                    "index": s.index,
                    "start": s.start,
                    "end": s.end,
                    "text": s.text,
                    "characters": list(s.characters),
                    "prompt": compose_prompt(s, by_id, style=style, negative=negative).positive,
                }
                for s in scene_list
            ],
        }
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("name", "prompt words", "mentions")
    table.add_column("id", no_wrap=True, min_width=max((len(c.id) for c in chars), default=2))  # typed: never cut
    table.columns.insert(0, table.columns.pop())
    for c in chars:
        table.add_row(c.id, c.name, c.prompt, ", ".join(m.text for m in c.mentions[:12]))
    out.print(table)
    _print_overview(scene_list, chars)


@app.command()
def cast(
    project: Annotated[Path, typer.Argument(help="The project folder.")],
    scene: Annotated[str, typer.Argument(help="Scene number (1-based) or id.")],
    add: Annotated[list[str] | None, typer.Option("--add", help="Character id to put in the scene's picture.")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Character id to leave out.")] = None,
) -> None:
    """Who is in a scene's picture: add a character mentioned only in passing, or remove one."""
    from .store.db import Project

    _require_project(project)
    proj = Project(project)
    s = proj.scene(scene)
    for cid in add or []:
        proj.set_cast(s.id, cid, True)
    for cid in remove or []:
        proj.set_cast(s.id, cid, False)
    names = {c.id: c.name for c in proj.characters()}
    now = proj.scene(s.id).characters
    err.print(f"scene {s.index + 1}: {', '.join(names.get(c, c) for c in now) or 'nobody'}", highlight=False)


@app.command()
def prompt(
    project: Annotated[Path, typer.Argument(help="The project folder.")],
    scene: Annotated[str, typer.Argument(help="Scene number (1-based) or id.")],
    visual: Annotated[str | None, typer.Argument(help="What to draw in this scene, instead of its sentence.")] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Draw the scene's own sentence again.")] = False,
) -> None:
    """Say what a scene's picture shows; `storyreel generate` then makes candidates for the new prompt."""
    from .stages.prompts import compose_prompt

    _require_project(project)
    if visual is None and not reset:
        raise StoryreelError("give the new description of the picture in quotes, or --reset")
    if visual is not None and not visual.strip():
        raise StoryreelError("the new description is empty: describe what to draw, or use --reset")
    proj, opts = _project_opts(project)
    s = proj.scene(scene)
    proj.set_scene_visual(s.id, None if reset else visual.strip())
    s = proj.scene(s.id)
    p = compose_prompt(s, proj.characters(), style=opts["style"], negative=opts["negative"])
    out.print(p.positive, highlight=False)


@app.command()
def describe(
    project: Annotated[Path, typer.Argument(help="The project folder.")],
    scene: Annotated[list[str] | None, typer.Option("--scene", help="Only these scenes (number or id).")] = None,
    character: Annotated[list[str] | None, typer.Option("--character", help="Suggest these characters' words (id).")] = None,
    llm_url: LlmUrlOpt = None, llm_model: LlmModelOpt = None,
) -> None:  # fmt: skip
    """Ask your language model what each scene's picture shows (or, with --character, a character's look)."""
    from .edit import describe_character, describe_scenes

    _require_project(project)
    proj, opts = _project_opts(project, llm_url=llm_url, llm_model=llm_model)
    if character:
        for cid in character:
            c = pipeline.find_character(proj, cid)
            out.print(f"{c.id}: {describe_character(proj, opts, c.id)}", highlight=False)
        return
    scenes = [proj.scene(s) for s in scene] if scene else proj.scenes()
    for sid, draw in describe_scenes(proj, opts, scenes).items():
        out.print(f"{proj.scene(sid).index + 1}: {draw}", highlight=False)


@app.command()
def generate(
    project: Annotated[Path, typer.Argument(help="The project folder.")],
    backend: BackendOpt = None, backend_url: BackendUrlOpt = None, workflow: WorkflowOpt = None,
    model: ModelOpt = None, candidates: CandOpt = None, seed: SeedOpt = None, steps: StepsOpt = None, guidance: GuidanceOpt = None, size: SizeOpt = None, style: StyleOpt = None,
    negative: NegativeOpt = None, aspect: AspectOpt = None,
    scene: Annotated[list[str] | None, typer.Option("--scene", help="Only these scenes (number or id).")] = None,
    executor: ExecutorOpt = None, ray_address: RayAddressOpt = None, ray_actors: RayActorsOpt = None,
    compile: CompileOpt = None, deepcache: DeepCacheOpt = None, yes: YesOpt = False,
) -> None:  # fmt: skip
    """Generate the missing candidate images of every scene (or of --scene N)."""
    _require_project(project)
    proj, opts = _project_opts(project, backend=backend, backend_url=backend_url,
                               workflow=str(workflow) if workflow else None, model=model, candidates=candidates,
                               seed=seed, steps=steps, guidance=guidance, size=size, style=style, negative=negative,
                               aspect=aspect, executor=executor, ray_address=ray_address,
                               ray_actors=ray_actors, compile=compile, deepcache=deepcache)  # fmt: skip
    only = [proj.scene(s) for s in scene] if scene else None
    pipeline.check_size(None, candidates, yes, only or proj.scenes())
    with progress_bars() as (on_progress, on_log):
        used, made = pipeline.generate(proj, opts, scenes=only, progress=on_progress, log=on_log)
    err.print(f"[green]made[/green] {made} candidates with {used.describe()} in {proj.path}")


@app.command()
def pick(
    project: Annotated[Path, typer.Argument(help="The project folder.")],
    scene: Annotated[str, typer.Argument(help="Scene number (1-based) or id.")],
    candidate: Annotated[int, typer.Argument(help="Candidate number within the scene (1-based, in order made).")],
) -> None:
    """Choose the picture a scene shows."""
    from .store.db import Project

    _require_project(project)
    proj = Project(project)
    s = proj.scene(scene)
    rows = proj.candidates(s.id)
    if not 1 <= candidate <= len(rows):
        raise StoryreelError(
            f"scene {s.index + 1} has {len(rows)} candidates: give a number from 1 to {len(rows)}"
            if rows else f"scene {s.index + 1} has no candidates yet: run `storyreel generate {project}`"
        )  # fmt: skip
    row = rows[candidate - 1]
    from .edit import pick as pick_candidate

    pick_candidate(proj, s.id, row.id)  # a locked scene says so
    err.print(f"scene {s.index + 1} now shows candidate {candidate} (seed {row.seed}, {proj.media.path(row.media)})")


@app.command()
def render(
    project: Annotated[Path, typer.Argument(help="The project folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The video to write (.mp4).")],
    aspect: AspectOpt = None, tts: TTSOpt = None, voice: VoiceOpt = None, speed: SpeedOpt = None,
    music: MusicOpt = None, music_volume: MusicVolOpt = None, captions: CaptionsOpt = None,
    caption_size: CaptionSizeOpt = None, motion: MotionOpt = None, transitions: TransitionsOpt = None,
    backend: BackendOpt = None, backend_url: BackendUrlOpt = None, model: ModelOpt = None, force: ForceOpt = False,
) -> None:  # fmt: skip
    """Narrate and render the picked pictures to a video and an .srt."""
    _require_project(project)
    proj, opts = _project_opts(project, aspect=aspect, tts=tts, voice=voice, speed=speed, music=music,
                               music_volume=music_volume, captions=captions, caption_size=caption_size,
                               motion=motion, transitions=transitions, backend=backend, backend_url=backend_url,
                               model=model)  # fmt: skip
    with progress_bars() as (on_progress, on_log):
        result = pipeline.render(proj, output, opts, progress=on_progress, log=on_log, overwrite=force)
    err.print(f"[green]wrote[/green] {result.video} ({result.duration:.1f} s) and {result.srt.name}")


@app.command()
def repair(
    project: Annotated[Path, typer.Argument(help="The damaged project folder.")],
    story: Annotated[Path | None, typer.Option("--story", help="The story file, when the database lost it.")] = None,
) -> None:
    """Rebuild a damaged project's database: the damaged file is kept beside it, what it still holds is copied,
    and the pictures in media/ are linked back to their scenes."""
    from .stages.story import read_story
    from .store.repair import repair as repair_project

    text = read_story(story) if story is not None else None
    report = repair_project(project, text)
    for path in report.set_aside:
        err.print(f"kept the damaged file as {path}", highlight=False)
    copied = ", ".join(f"{n} {t}" for t, n in report.rows.items()) or "nothing (it could not be read)"
    err.print(f"copied from it: {copied}", highlight=False)
    if not report.has_story:
        err.print(f"[yellow]the story was lost[/yellow]: run `storyreel repair {project} --story STORY_FILE` "
                  "to read it in again and link the pictures back", highlight=False)  # fmt: skip
        return
    err.print(f"[green]repaired[/green] {project}: {report.pictures} pictures linked back to their scenes; "
              f"`storyreel render {project} -o VIDEO.mp4` renders it again", highlight=False)  # fmt: skip


@app.command()
def cancel(
    project: Annotated[Path, typer.Argument(help="The project folder.")],
    scene: Annotated[list[str] | None, typer.Option("--scene", help="Only this scene's jobs (number or id).")] = None,
) -> None:
    """Cancel what is queued for a project (or for some scenes); what is being made stops at its next step."""
    from .store import jobs
    from .store.db import Project

    _require_project(project)
    proj = Project(project)
    if scene:
        n = sum(jobs.cancel(proj, target=proj.scene(s).id) for s in scene)
    else:
        n = jobs.cancel(proj)
    err.print(f"cancelled {n} jobs in {proj.path}")


@app.command()
def worker(
    folder: Annotated[Path, typer.Argument(help="A project, or a folder of projects.")] = Path("."),
    batch: Annotated[int | None, typer.Option(help="At most this many images per backend call (default: what the backend makes best: for diffusers on a GPU 8 to 32 by its memory, else 16).")] = None,
) -> None:
    """Make what the studio queues: every project's jobs under FOLDER, a batch at a time, until stopped."""
    import logging
    import signal
    import threading

    from .executors.inprocess import Worker

    if not folder.is_dir():
        raise StoryreelError(f"{folder} is not a folder: give the folder of your projects")
    if batch is not None and batch < 1:
        raise InputError(f"--batch {batch}: give at least 1 (or leave it out)")
    logging.basicConfig(level=logging.INFO, format="worker: %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request to an image server
    w = Worker(batch_size=batch)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()
        w.stopping.set()  # the batch in flight stops at its next step and goes back to the queue

    signal.signal(signal.SIGTERM, on_signal)
    err.print(f"worker {w.id} serving {folder.resolve()}", highlight=False)
    try:
        w.serve(folder.resolve(), stop=stop)
    except KeyboardInterrupt:
        pass
    err.print(f"worker stopped; it made {w.made} images", highlight=False)


@app.command()
def ui(
    folder: Annotated[Path, typer.Argument(help="The folder of your projects (made if missing).")] = Path("."),
    host: Annotated[str, typer.Option(help="Address to listen on; 127.0.0.1 keeps the studio to this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8501,
) -> None:
    """Start the studio in your browser, and its generation worker."""
    from .studio import serve

    serve(folder, host, port, say=lambda line: err.print(line, highlight=False))


@models_app.command("pull")
def models_pull(
    model: Annotated[
        str | None, typer.Argument(help="A hub id, e.g. stabilityai/sd-turbo; by default --backend auto's model.")
    ] = None,
    if_reachable: Annotated[
        bool, typer.Option("--if-reachable", help="If the hub does not answer (offline), say so and exit 0.")
    ] = False,
) -> None:
    """Download a model into the Hugging Face cache: its size first, then a progress bar. Nothing if it is here."""
    from .backends.diffusers_local import pull

    def say(line: str) -> None:
        err.print(line, highlight=False, markup=False, soft_wrap=True)

    pull(model, say=say, if_reachable=if_reachable)


@eval_app.command("coref")
def eval_coref(
    litbank: Annotated[Path, typer.Option("--litbank", help="Folder of LitBank *_brat.txt / *_brat.ann files.")],
    engine: Annotated[str, typer.Option("--engine", help="Character finder engine.")] = "rules",
    per_document: Annotated[bool, typer.Option("--per-document", help="Also print each document's CoNLL F1.")] = False,
) -> None:
    """Score the character finder on LitBank PER mentions: MUC, B-cubed, CEAF-e, CoNLL F1, mentions, speed.

    What is scored is what `storyreel characters STORY --json` gives: every cluster, minor ones included."""
    from .coref.evaluate import read_litbank, score

    docs = read_litbank(litbank)
    result = score(docs, engine)
    table = Table("metric", "recall", "precision", "F1", title=f"{engine} on {len(docs)} LitBank documents (PER)")
    for label, (r, p, f) in (("MUC", result.muc), ("B-cubed", result.b3), ("CEAF-e", result.ceafe)):
        table.add_row(label, f"{r:.3f}", f"{p:.3f}", f"{f:.3f}")
    mp, mr = result.mention_precision, result.mention_recall
    table.add_row("mentions", f"{mr:.3f}", f"{mp:.3f}", f"{2 * mp * mr / (mp + mr) if mp + mr else 0:.3f}")
    out.print(table)
    if per_document:
        for name, f1 in sorted(result.per_document, key=lambda x: x[1]):
            out.print(f"{f1:.3f}  {name}", highlight=False)
    out.print(
        f"{result.words:,} words; engine {result.words_per_second:,.0f} words/s on one core "
        f"(spaCy parse excluded: {result.words / result.parse_seconds:,.0f} words/s with it alone)",
        highlight=False,
    )
    out.print(f"conll_f1={result.conll_f1:.3f}", highlight=False)


def main() -> None:
    """Entry point: a user's mistake is one line on stderr and exit code 1; Ctrl-C is 130."""
    try:
        app()
    except StoryreelError as e:
        err.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        _stopped()
    except SystemExit as e:
        if e.code == 130:  # click turns Ctrl-C into exit 130 without a word
            _stopped()
        raise


def _stopped() -> None:
    err.print("stopped; what was finished is kept: run the same command again to go on", highlight=False)
    sys.exit(130)


if __name__ == "__main__":
    main()
