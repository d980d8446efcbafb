"""Open-set attribution: the known generator family a picture's traces are closest to, or
"unknown".

A multinomial logistic regression on the detector's own standardised tile features (the same
features, the same laundering) names one of the families below. It is only asked when the
detector already found evidence of AI generation: attributing a camera photo to a generator
would read as an accusation. When no family reaches `min_confidence`, the answer is "unknown":
a family it never saw must not be forced onto a known one. The measured accuracy, per held-out
generator and per held-out family, is in the model card; it is weak, and reports say
"closest to", never "made by".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# generator folder in ../shared/data -> family. Folders that are not one family (unattributed
# web images, the single ProGAN sample) are left out of attribution training.
FAMILIES: dict[str, str] = {
    "stable-diffusion-v1-4": "stable-diffusion",
    "stable-diffusion-v1-5": "stable-diffusion",
    "stable-diffusion-v2-1": "stable-diffusion",
    "stable-diffusion": "stable-diffusion",
    "stable-diffusion-beta": "stable-diffusion",
    "latent-diffusion": "stable-diffusion",
    "gpt-4o-image": "openai-gpt-image",
    "gpt-image-1": "openai-gpt-image",
    "chatgpt": "openai-gpt-image",
    "nano-banana": "google-gemini",
    "nano-banana-pro": "google-gemini",
    "gemini": "google-gemini",
    "gemini-image-prompted-from-paired-real-p": "google-gemini",
    "seedream-5-0-pro": "seedream",
    "dall-e-2": "dall-e-2-glide",
    "glide": "dall-e-2-glide",
    "glid-3-xl": "dall-e-2-glide",
    "dall-e-mini": "dall-e-mini-craiyon",
    "craiyon": "dall-e-mini-craiyon",
    "disco-diffusion": "clip-guided",
    "majesty-diffusion": "clip-guided",
    "simulacra-pixray-vqgan": "clip-guided",
    "midjourney": "midjourney",
}

LABELS: dict[str, str] = {
    "stable-diffusion": "Stable Diffusion / latent diffusion",
    "openai-gpt-image": "OpenAI GPT image (GPT-4o, gpt-image-1, ChatGPT)",
    "google-gemini": "Google Gemini / Nano Banana",
    "seedream": "ByteDance Seedream",
    "dall-e-2-glide": "DALL-E 2 / GLIDE",
    "dall-e-mini-craiyon": "DALL-E mini / Craiyon",
    "clip-guided": "CLIP-guided diffusion and VQGAN (Disco, Majesty, pixray)",
    "midjourney": "Midjourney",
    "unknown": "no known family",
}


@dataclass(frozen=True)
class Attributor:
    families: tuple[str, ...]
    coef: npt.NDArray[np.float64]  # (features, families), on standardised features
    intercept: npt.NDArray[np.float64]  # (families,)
    min_confidence: float

    def probabilities(self, standardised_tiles: npt.NDArray[np.float64]) -> dict[str, float]:
        """Softmax over the families of the picture's mean tile scores."""
        z = (standardised_tiles @ self.coef + self.intercept).mean(axis=0)
        p = np.exp(z - z.max())
        p = p / p.sum()
        return {f: float(v) for f, v in zip(self.families, p, strict=True)}

    def attribute(self, standardised_tiles: npt.NDArray[np.float64]) -> dict[str, object]:
        """{family, label, confidence, candidates}: the nearest family, or "unknown"."""
        candidates = self.probabilities(standardised_tiles)
        best, confidence = max(candidates.items(), key=lambda kv: kv[1])
        family = best if confidence >= self.min_confidence else "unknown"
        return {
            "family": family,
            "label": LABELS.get(family, family),
            "confidence": round(confidence, 4),
            "candidates": {
                k: round(v, 4) for k, v in sorted(candidates.items(), key=lambda kv: -kv[1])
            },
        }
