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


# RGB -> Y'CbCr, BT.709 limited range: the video is tagged bt709, so the frames are made that way
_BT709 = np.array(
    [
        [0.2126 * 219 / 255, 0.7152 * 219 / 255, 0.0722 * 219 / 255],
        [-0.114572 * 224 / 255, -0.385428 * 224 / 255, 0.5 * 224 / 255],
        [0.5 * 224 / 255, -0.454153 * 224 / 255, -0.045847 * 224 / 255],
    ],
    dtype=np.float32,
)
_OFFSET = np.array([16, 128, 128], dtype=np.float32)


def to_planes(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y at full size, Cb and Cr at half size (4:2:0): the planes the encoder takes, made once per picture."""
    import cv2

    ycc = np.clip(rgb.astype(np.float32) @ _BT709.T + _OFFSET, 0, 255).astype(np.uint8)
    h, w = ycc.shape[:2]
    half = (w // 2, h // 2)
    cb = cv2.resize(np.ascontiguousarray(ycc[:, :, 1]), half, interpolation=cv2.INTER_AREA)
    cr = cv2.resize(np.ascontiguousarray(ycc[:, :, 2]), half, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(ycc[:, :, 0]), cb, cr


def render_planes(
    planes: tuple[np.ndarray, np.ndarray, np.ndarray], motion: str, progress: float, width: int, height: int
) -> list[np.ndarray]:
    """One yuv420p frame: each plane warped by the same view, the chroma planes at half scale."""
    import cv2

    out = []
    for plane, (w, h) in zip(
        planes, ((width, height), (width // 2, height // 2), (width // 2, height // 2)), strict=True
    ):
        m = view(motion, progress, plane.shape[1], plane.shape[0], w, h)
        out.append(
            cv2.warpAffine(
                plane, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
            )
        )
    return out
