"""Content-addressed files: media/ab/abcdef....png, named by the sha256 of their bytes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from ..errors import store_error


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        return self.root / name[:2] / name

    def put(self, data: bytes, ext: str) -> str:
        """Store bytes; return their name. Written to a temporary file and renamed, so a kill leaves no half file."""
        name = hashlib.sha256(data).hexdigest() + ext
        final = self.path(name)
        if final.exists():
            return name
        try:
            final.parent.mkdir(exist_ok=True)  # not parents: a project deleted meanwhile stays deleted
            fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, final)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as err:
            raise store_error(err, final) from None
        return name

    def put_file(self, src: Path, ext: str) -> str:
        return self.put(src.read_bytes(), ext)

    def thumbnail(self, name: str, width: int = 320) -> Path:
        """A small JPEG of a stored picture, made once (for the studio's grids: a fraction of the bytes to send)."""
        thumb = self.root / "thumbs" / f"{Path(name).stem}-{width}.jpg"
        if thumb.exists():
            return thumb
        from PIL import Image

        try:
            with Image.open(self.path(name)) as im:
                im = im.convert("RGB")
                if im.width > width:
                    im = im.resize((width, max(1, round(im.height * width / im.width))), Image.Resampling.LANCZOS)
                thumb.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=thumb.parent, prefix=".tmp-", suffix=".jpg")
                with os.fdopen(fd, "wb") as f:
                    im.save(f, format="JPEG", quality=85)
                os.replace(tmp, thumb)
        except OSError:
            return self.path(name)  # unreadable or a full disk: the picture itself will do
        return thumb
