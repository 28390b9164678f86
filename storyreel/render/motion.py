"""Ken Burns motion: each frame a sub-pixel affine view into the scene's picture, so the motion is smooth."""

from __future__ import annotations

import numpy as np

from .timeline import ZOOM


def cover(image: np.ndarray, width: int, height: int, margin: float = ZOOM) -> np.ndarray:
    """Scale (and centre-crop) a picture to cover width x height times ``margin``, the room the motion needs."""
    import cv2

    tw, th = round(width * margin), round(height * margin)
    h, w = image.shape[:2]
    scale = max(tw / w, th / h)
    nw, nh = max(tw, round(w * scale)), max(th, round(h * scale))
    interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    x, y = (nw - tw) // 2, (nh - th) // 2
    return np.ascontiguousarray(resized[y : y + th, x : x + tw])


def view(motion: str, progress: float, src_w: int, src_h: int, width: int, height: int) -> np.ndarray:
    """The 2x3 matrix that maps output pixels to source pixels for this point of the motion."""
    zmax = min(src_w / width, src_h / height)  # the source covers the output times ZOOM
    p = min(1.0, max(0.0, progress))
    # zoom by changing the view's size linearly, so its edges move at a constant speed
    if motion == "zoom_in":
        z = 1.0 / (1.0 + (1.0 / zmax - 1.0) * p)
    elif motion == "zoom_out":
        z = 1.0 / (1.0 / zmax + (1.0 - 1.0 / zmax) * p)
    else:
        z = 1.0 + (zmax - 1.0) * 0.6  # pans happen a little zoomed in, with room to travel
    # the view's size in source pixels: at z=1 the whole source, at z=zmax one source pixel per output pixel
    vw, vh = src_w / z, src_h / z
    room_x, room_y = (src_w - vw) / 2, (src_h - vh) / 2
    cx, cy = src_w / 2, src_h / 2
    travel = 2 * p - 1  # -1 .. 1
    if motion == "pan_right":
        cx += room_x * travel
    elif motion == "pan_left":
        cx -= room_x * travel
    elif motion == "pan_down":
        cy += room_y * travel
    elif motion == "pan_up":
        cy -= room_y * travel
    sx, sy = vw / width, vh / height
    return np.array([[sx, 0.0, cx - vw / 2 + 0.5 * sx - 0.5], [0.0, sy, cy - vh / 2 + 0.5 * sy - 0.5]])


def render_frame(src: np.ndarray, motion: str, progress: float, width: int, height: int) -> np.ndarray:
    import cv2

    m = view(motion, progress, src.shape[1], src.shape[0], width, height)
    return cv2.warpAffine(
        src, m, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
