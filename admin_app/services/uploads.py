"""Image uploads: JPEG/PNG only, size-capped, opened by Pillow, re-encoded, stored under random names.

Re-encoding drops EXIF (GPS, camera serials) and anything smuggled after or inside the image data.
Files are never served from static/: views serve them through routes that check who asks.
"""
import io
import secrets
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from . import ServiceError

# kind -> the box the stored image is fitted into. "pending": an avatar kept from a failed save of the profile
# form (its other fields were refused), waiting to be used by the next save.
KINDS = {"avatar": (600, 800), "scan": (2000, 2000), "pending": (600, 800)}
_FORMATS = {"JPEG": "jpg", "PNG": "png"}
_MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding


def _folder(kind: str) -> Path:
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_image(file_storage, kind: str) -> str:
    """Validate and re-encode an uploaded image; return its stored name (e.g. 'a1b2….jpg')."""
    if kind not in KINDS:
        raise ValueError(kind)
    if file_storage is None or not getattr(file_storage, "filename", ""):
        raise ServiceError(_("Please choose an image to upload."))
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    data = file_storage.stream.read(limit + 1)
    if len(data) > limit:
        raise ServiceError(_("The image is larger than %(mb).1f MB.", mb=limit / 1024 / 1024))
    if not data:
        raise ServiceError(_("The uploaded file is empty."))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            if fmt not in _FORMATS:
                raise ServiceError(_("Only JPEG and PNG images are accepted."))
            if probe.width * probe.height > _MAX_PIXELS:
                raise ServiceError(_("The image dimensions are too large."))
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            img.thumbnail(KINDS[kind])
            if fmt == "JPEG" or img.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                img = img.convert("RGB")
                fmt = "JPEG"
            out = io.BytesIO()
            img.save(out, fmt, **({"quality": 85, "optimize": True} if fmt == "JPEG" else {"optimize": True}))
    except ServiceError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ServiceError(_("The file is not a valid JPEG or PNG image.")) from exc
    name = f"{secrets.token_hex(16)}.{_FORMATS[fmt]}"
    (_folder(kind) / name).write_bytes(out.getvalue())
    return name


def move_image(name: str, src: str, dst: str) -> str:
    """Move a stored image from one kind's folder to another's (same name); returns the name."""
    path = image_path(src, name)
    if path is None:
        raise ServiceError(_("Please upload an avatar photo."))
    path.replace(_folder(dst) / name)
    return name


def image_path(kind: str, name: str | None) -> Path | None:
    """The stored file for a name we issued, or None (names are checked, never joined blindly)."""
    if kind not in KINDS or not name:
        return None
    stem, _dot, ext = name.partition(".")
    hex_stem = all(c in "0123456789abcdef-" for c in stem.replace("demo-avatar-", ""))
    if ext not in _FORMATS.values() or not stem or not hex_stem:
        return None
    path = _folder(kind) / name
    return path if path.is_file() else None
