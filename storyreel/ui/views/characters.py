"""Characters: each one's name, prompt words and portrait seed; its mentions in the story; merge, split, move a
mention, "not a character", add by hand; preview portraits and choose a reference picture."""

from __future__ import annotations

import streamlit as st

from storyreel import edit, pipeline
from storyreel.errors import InputError, StoryreelError
from storyreel.store import jobs as queue
from storyreel.ui import common


def _mention_label(m, text: str) -> str:
    before = " ".join(text[max(0, m.start - 40) : m.start].split()[-5:])
    after = " ".join(text[m.end : m.end + 40].split()[:5])
    return f"“{m.text}”  ·  …{before} [{m.text}] {after}…"


def save_words(project, cid: str, shown: dict, name: str, words: str, negative: str, seed: int) -> None:
    """Store what the user changed on the card (compared with what the card showed, so an edit made meanwhile
    in another tab is not overwritten); the words changed become the user's, kept over the finder's."""
    if not name.strip():
        raise InputError("a character needs a name")
    new = {"name": name.strip(), "prompt": words.strip(), "negative": negative.strip(), "seed": int(seed)}
    changed = {k: v for k, v in new.items() if shown[k] != v}
    if "name" in changed:
        taken = {c.name.lower(): c.id for c in project.characters() if c.id != cid}
        if changed["name"].lower() in taken:
            raise InputError(f"another character is called {changed['name']}: merge the two, or choose another name")
    if changed:
        project.update_character(cid, **changed)


def choose_reference(project, cid: str, media: str | None) -> None:
    project.update_character(cid, reference=media)


def _spans(keys: list[str] | None, ch) -> list[tuple[int, int, str]]:
    chosen = set(keys or [])
    return [(m.start, m.end, m.text) for m in ch.mentions if f"{m.start}:{m.end}" in chosen]


def character_card(project, ch, everyone, colour: dict, opts: dict, in_scenes: list[int], text: str,
                   backend) -> None:  # fmt: skip
    others = [c for c in everyone if c.id != ch.id]
    plural = "mention" if len(ch.mentions) == 1 else "mentions"
    seed = ch.seed if ch.seed is not None else pipeline.portrait_seed(ch.id)
    shown = {"name": ch.name, "prompt": ch.prompt, "negative": ch.negative, "seed": seed}
    # keys carry what the card shows, so a change made elsewhere (a merge, another tab) redraws the fields
    k = f"{ch.id}_{edit.digest(shown, [(m.start, m.end) for m in ch.mentions])}"
    with st.expander(f"{ch.name} · {len(ch.mentions)} {plural}"):
        st.markdown(
            f"{common.swatch(colour[ch.id])} **{ch.name}** · id `{ch.id}` · "
            + (f"in scenes {', '.join(map(str, in_scenes))}" if in_scenes else ":orange[appears in no scene]"),
            unsafe_allow_html=True,
        )
        left, right = st.columns([3, 2])
        with left:
            st.text_input("Name", value=ch.name, key=f"name_{k}")
            st.text_input("Prompt words", value=ch.prompt, key=f"words_{k}",
                          placeholder="grey hair, silver armor, young knight",
                          help="Put into the prompt of every scene this character is in.")  # fmt: skip
            st.text_input("Negative words", value=ch.negative, key=f"neg_{k}",
                          help="Put into the negative prompt of its scenes.")  # fmt: skip
            st.number_input("Portrait seed", value=seed, min_value=0, max_value=2**32 - 1, step=1, key=f"seed_{k}",
                            help="Fixed, so the preview changes only when the words do.")  # fmt: skip
            line = st.container(horizontal=True)
            line.button("Save", key=f"save_{k}", type="primary", on_click=common.action(
                save_words, ch.id, shown, common.Value(f"name_{k}"), common.Value(f"words_{k}"),
                common.Value(f"neg_{k}"), common.Value(f"seed_{k}"), done="saved"))  # fmt: skip
            line.button("Suggest words", key=f"describe_{k}", icon=":material/auto_awesome:",
                        help="Your language model (Settings, Writing assistant) suggests prompt words from what "
                             "the story says of this character.",
                        on_click=common.action(lambda p, cid=ch.id: edit.describe_character(p, common.options(p), cid),
                                               done=f"{ch.name}: words suggested; change them as you like"))  # fmt: skip

            st.markdown("**Mentions**")
            listed = ", ".join(dict.fromkeys(m.text for m in ch.mentions))
            st.caption(listed if len(listed) < 300 else listed[:300] + "…")
            labels = {f"{m.start}:{m.end}": _mention_label(m, text) for m in ch.mentions}
            st.multiselect("Mentions to act on", list(labels), format_func=labels.get, key=f"mentions_{k}",
                           placeholder="choose mentions")  # fmt: skip
            chosen = _spans(st.session_state.get(f"mentions_{k}"), ch)
            a, b = st.columns(2)
            targets = {c.id: c.name for c in others}
            a.selectbox("Move them to", list(targets), format_func=targets.get, key=f"move_to_{k}", index=None,
                        placeholder="another character")  # fmt: skip
            a.button("Move", key=f"move_{k}", disabled=not chosen or not targets, on_click=common.action(
                edit.move_mentions, chosen, common.Value(f"move_to_{k}"), done="mentions moved"))  # fmt: skip
            a.button("Drop them (nobody)", key=f"drop_{k}", disabled=not chosen,
                     on_click=common.action(edit.drop_mentions, chosen, done="mentions dropped"))  # fmt: skip
            b.text_input("New character from them", key=f"split_name_{k}", placeholder="its name")
            b.button("Split off", key=f"split_{k}", disabled=not chosen, on_click=common.action(
                edit.split_character, ch.id, chosen, common.Value(f"split_name_{k}"), done="character split"))  # fmt: skip
            with st.popover("Merge, or not a character"):
                st.selectbox("Merge into", list(targets), format_func=targets.get, key=f"merge_into_{k}", index=None,
                             placeholder="another character")  # fmt: skip
                st.button("Merge", key=f"merge_{k}", disabled=not targets, on_click=common.action(
                    lambda p, into, src=ch.id: edit.merge_characters(p, src, into),
                    common.Value(f"merge_into_{k}"), done=f"{ch.name} merged"))  # fmt: skip
                st.button("Not a character", key=f"reject_{k}", on_click=common.action(
                    edit.reject_character, ch.id, done=f"{ch.name} is no longer a character"))  # fmt: skip
        with right:
            portraits(project, ch, opts, backend)


def portraits(project, ch, opts: dict, backend) -> None:
    st.markdown("**Preview**")
    n = st.number_input("Portraits", min_value=1, max_value=16, value=4, key=f"n_portraits_{ch.id}")
    st.button("Preview", key=f"preview_{ch.id}", help="Queue portraits of this character alone, with the "
              "project's backend and style.", on_click=common.action(
                  lambda p, count, cid=ch.id: pipeline.queue_portraits(p, common.options(p), cid, int(count)),
                  common.Value(f"n_portraits_{ch.id}"), done=f"{ch.name}: portraits queued"))  # fmt: skip
    if backend is None:
        return  # the page says why above
    rows = [r for r in pipeline.current_portraits(project, opts, ch, int(n), backend) if r is not None]
    if ch.reference:
        st.image(str(project.media.path(ch.reference)), caption="Reference picture", width=120)
    busy = [j for j in queue.jobs(project, kind="portrait") if j.target == ch.id and j.state in ("queued", "running")]
    if busy:
        st.caption(f"{len(busy)} portraits being made…")
    cols = st.columns(2)
    for i, row in enumerate(rows):
        with cols[i % 2]:
            st.image(str(project.media.thumbnail(row.media)), caption=f"seed {row.seed}", width="stretch")
            chosen = ch.reference == row.media
            st.button("Reference" if chosen else "Use as reference", key=f"ref_{ch.id}_{row.id}", disabled=chosen,
                      icon=":material/check_circle:" if chosen else None, on_click=common.action(
                          choose_reference, ch.id, row.media, done=f"{ch.name}: reference chosen"))  # fmt: skip


def add_by_hand() -> None:
    with st.expander("Add a character by hand"):
        st.text_input("Name", key="add_name", placeholder="Hermes")
        st.text_input("Other names (comma-separated)", key="add_aliases", placeholder="the messenger, the god")
        st.button("Add character", key="add_character", on_click=common.action(
            lambda p, name, aliases: edit.add_character(p, name or "", (aliases or "").split(",")),
            common.Value("add_name"), common.Value("add_aliases"), done="character added"))  # fmt: skip


def body(project) -> None:
    opts = common.options(project)
    text = project.story_text() or ""
    chars = project.characters()
    colour = common.colours(project, chars)
    scenes = project.scenes()
    common.progress_panel({c.id: c.name for c in chars}, kinds=("portrait",), noun="portraits")
    try:
        backend = pipeline.backend_for(opts)  # once for every card's portraits
    except StoryreelError as err:
        st.error(f"{err} (change it on the Settings page)")
        backend = None
    if not chars:
        st.info("No characters found yet: split the story on the Story page, or add one by hand below.")
    for ch in chars:
        in_scenes = [s.index + 1 for s in scenes if ch.id in s.characters]
        character_card(project, ch, chars, colour, opts, in_scenes, text, backend)
    add_by_hand()
    if text:
        with st.expander("The story, every mention in its character's colour", expanded=True):
            legend = " ".join(f"{common.swatch(colour[c.id])}{c.name}" for c in chars)
            st.markdown(legend, unsafe_allow_html=True)
            st.html(common.highlighted_story(text, chars, colour))


common.page("Characters", body)
