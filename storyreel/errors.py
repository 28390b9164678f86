"""Every error a user can cause, in one tree.

    StoryreelError                 a user's mistake or the world's; the CLI prints it in one line
    ├── InputError                 a story, option or file we were given is unusable
    │   └── StoryError             the story text itself (empty, binary, too long, too few sentences)
    ├── ModelNotFoundError         Stable Diffusion weights are not where we looked
    │   └── HubUnreachableError    the model hub did not answer (offline, HF_HUB_OFFLINE=1, a timeout)
    ├── BackendError               an image backend failed while generating
    │   └── ServerDown             an image server did not answer (its batch can go to another server)
    ├── TTSError                   a text-to-speech engine failed
    ├── RenderError                ffmpeg failed or is missing
    ├── StoreError                 the project folder cannot be read or written (disk full, read-only)
    └── Cancelled                  the user asked to stop; what was finished is kept

Lower libraries' errors (OSError, sqlite3.Error, subprocess failures) are translated at the boundary
where we call them; anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class StoryreelError(Exception):
    """Base of every error a user can cause. ``str(err)`` is one line that says what to do."""


class InputError(StoryreelError):
    pass


class StoryError(InputError):
    pass


class ModelNotFoundError(StoryreelError):
    pass


class HubUnreachableError(ModelNotFoundError):
    pass


class BackendError(StoryreelError):
    pass


class ServerDown(BackendError):
    pass


class TTSError(StoryreelError):
    pass


class RenderError(StoryreelError):
    pass


class StoreError(StoryreelError):
    pass


class Cancelled(StoryreelError):
    pass


def first_line(err: BaseException, limit: int = 160, empty: str | None = None) -> str:
    """The first line of an error's message, cut at ``limit`` (a library's may run to pages); when it has none,
    ``empty`` (default: the error's type)."""
    text = str(err).strip()
    if not text:
        return type(err).__name__ if empty is None else empty
    return text.splitlines()[0][:limit]


def store_error(err: OSError, path: object) -> StoreError:
    """Translate an OSError met while writing ``path`` into a one-line StoreError."""
    import errno

    if err.errno == errno.ENOSPC:
        return StoreError(f"the disk is full while writing {path}: free some space and run the same command again")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreError(f"cannot write {path} (permission denied): choose a folder you can write to")
    return StoreError(f"cannot write {path}: {err.strerror or err}")
