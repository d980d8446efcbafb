"""Rebuild the demo images in examples/ (CC0: made here, from code, by the photoloupe developers).

    .venv/bin/python examples/make_examples.py

The pictures are procedural renders, not photographs, so they can be shipped with no licence
question. Each one shows one thing photoloupe reports:

- harbour.jpg: EXIF with a thumbnail that matches; nothing to report beyond provenance.
- harbour-edited.jpg: the same file after a boat was painted in; the old thumbnail was kept,
  which is evidence of editing.
- diffusion-parameters.png: a PNG carrying Stable Diffusion (Automatic1111) parameters.
- content-credentials-ai.jpg: C2PA Content Credentials, signed with a throw-away certificate,
  declaring the picture was made by a generative model (trainedAlgorithmicMedia).
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pyexiv2
from PIL import Image, PngImagePlugin

from photoloupe.provenance.demo_signing import make_throwaway_chain, sign

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 1200, 800


def render_harbour(seed: int = 7) -> npt.NDArray[np.uint8]:
    """A sunset over water with clouds and a headland: smooth areas plus texture and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    horizon = HEIGHT * 0.58
    sky_t = np.clip(y / horizon, 0, 1)[..., None]
    sky = (1 - sky_t) * np.array([40, 70, 140]) + sky_t * np.array([250, 170, 110])
    clouds = np.zeros((HEIGHT, WIDTH), np.float32)
    for octave in range(5):
        size = (4 * 2**octave, 3 * 2**octave)
        layer = cv2.resize(
            rng.random(size[::-1], dtype=np.float32), (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC
        )
        clouds += layer / 2**octave
    clouds = np.clip((clouds / 1.9 - 0.45) * 2.5, 0, 1) * (y < horizon)
    sky = sky * (1 - 0.5 * clouds[..., None]) + 0.5 * clouds[..., None] * 255
    sun = np.exp(-(((x - WIDTH * 0.62) ** 2 + (y - horizon * 0.92) ** 2) / (2 * 28.0**2)))
    sky = sky + sun[..., None] * np.array([255, 200, 120])
    sea_t = np.clip((y - horizon) / (HEIGHT - horizon), 0, 1)[..., None]
    waves = 0.5 + 0.5 * np.sin(y * 0.9 + 6 * np.sin(x * 0.013)) * (y > horizon)
    sea = (1 - sea_t) * np.array([200, 130, 100]) + sea_t * np.array([20, 40, 70])
    sea = sea * (0.85 + 0.15 * waves[..., None])
    image = np.where((y < horizon)[..., None], sky, sea)
    ridge = horizon - 60 - 50 * np.sin(x / 170.0) - 25 * np.sin(x / 43.0 + 1)
    land = (y > ridge) & (y < horizon) & (x < WIDTH * 0.45)
    image[land] = np.array([35, 30, 40])
    image = image + rng.normal(0, 3.0, image.shape)  # sensor-like noise
    return np.clip(image, 0, 255).astype(np.uint8)


def paint_boat(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The 'edit': a large boat silhouette with a white sail, added after capture."""
    out = image.copy()
    hull = np.array([[560, 600], [980, 600], [920, 680], [620, 680]], np.int32)
    cv2.fillPoly(out, [hull], (25, 25, 30))
    sail = np.array([[760, 300], [760, 590], [940, 590]], np.int32)
    cv2.fillPoly(out, [sail], (245, 245, 240))
    cv2.rectangle(out, (752, 290), (762, 600), (60, 50, 40), -1)
    return out


def jpeg_bytes(image: npt.NDArray[np.uint8], quality: int = 90, exif: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality, exif=exif or b"")
    return buf.getvalue()


def camera_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "photoloupe"  # Make
    exif[0x0110] = "demo renderer"  # Model
    exif[0x0131] = "photoloupe examples/make_examples.py"  # Software
    exif[0x0132] = "2026:11:28 09:00:00"  # DateTime
    exif.get_ifd(0x8769)[0x9003] = "2026:11:28 09:00:00"  # DateTimeOriginal
    return exif.tobytes()


def with_thumbnail(data: bytes, thumbnail_of: npt.NDArray[np.uint8]) -> bytes:
    small = Image.fromarray(thumbnail_of)
    small.thumbnail((160, 160))
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=85)
    with pyexiv2.ImageData(data) as img:
        img.modify_thumbnail(buf.getvalue())
        return bytes(img.get_bytes())


def main() -> None:
    scene = render_harbour()
    original = with_thumbnail(jpeg_bytes(scene, exif=camera_exif()), scene)
    (HERE / "harbour.jpg").write_bytes(original)

    # The editor re-saves the picture but keeps the EXIF block, thumbnail and all.
    edited = with_thumbnail(jpeg_bytes(paint_boat(scene), exif=camera_exif()), scene)
    (HERE / "harbour-edited.jpg").write_bytes(edited)

    dreamy = cv2.GaussianBlur(render_harbour(seed=11), (0, 0), 2.0)[::2, ::2]
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters",
        "a harbour at sunset, oil painting, golden light\n"
        "Negative prompt: blurry\n"
        "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 600x400, "
        "Model: demo",
    )
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(dreamy)).save(buf, "PNG", pnginfo=info)
    (HERE / "diffusion-parameters.png").write_bytes(buf.getvalue())

    manifest = {
        "claim_generator_info": [{"name": "photoloupe-demo", "version": "1"}],
        "title": "content-credentials-ai.jpg",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": "http://cv.iptc.org/newscodes/"
                            "digitalsourcetype/trainedAlgorithmicMedia",
                            "softwareAgent": {"name": "photoloupe demo generator"},
                        }
                    ]
                },
            }
        ],
    }
    generated = jpeg_bytes(render_harbour(seed=23)[::2, ::2].copy(), quality=88)
    signed = sign(generated, "image/jpeg", manifest, make_throwaway_chain("photoloupe demo"))
    (HERE / "content-credentials-ai.jpg").write_bytes(signed)


if __name__ == "__main__":
    main()
