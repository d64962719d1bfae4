"""Prompt compliance: CLIP similarity between sampled frames and the prompt, when weights are available.

CLIP weights cannot be downloaded here, so the check runs only when `TOWER_CLIP_MODEL_DIR` points to a local
model folder and a CLIP implementation is importable:
- `transformers` (folder saved by `CLIPModel.save_pretrained`: config.json + weights), or
- `open_clip` (folder with open_clip_config.json + open_clip_pytorch_model.bin, loaded as "local-dir:").
Otherwise the check says "not measured" and why: it never reports an invented number.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .results import NOT_MEASURED, CheckResult

CLIP_ENV = "TOWER_CLIP_MODEL_DIR"
# Cosine similarity between a frame's and the prompt's CLIP embeddings (ViT-B/32-class models): matching
# image-caption pairs typically score 0.25-0.35 and unrelated ones 0.10-0.18 (the CLIPScore paper rescales
# by 2.5 for the same reason). 0.20 sits between them. Not tuned here (no weights on this machine): treat it
# as provisional, which is why the check does not block.
CLIP_MIN_SIMILARITY = 0.20
CLIP_BLOCKING = False
# Frames compared: evenly spaced over the clip (the keyframe is frame 0).
CLIP_FRAMES = 4

_MODEL_CACHE: dict[str, object] = {}


def _not_measured(reason: str) -> CheckResult:
    return CheckResult("prompt_compliance", True, CLIP_BLOCKING, None, CLIP_MIN_SIMILARITY, ">=", "cosine",
                       f"not measured: {reason}", status=NOT_MEASURED, details={"reason": reason})


def clip_unavailable_reason(model_dir: str | None = None) -> str | None:
    """None when CLIP can run, else the reason in plain words."""
    if not model_dir:
        return f"no CLIP weights configured (set {CLIP_ENV} to a local CLIP model folder)"
    if not Path(model_dir).is_dir():
        return f"{CLIP_ENV}={model_dir!r} is not a folder"
    has_tf = importlib.util.find_spec("transformers") is not None
    has_oc = importlib.util.find_spec("open_clip") is not None
    if not (has_tf or has_oc):
        return "neither transformers nor open_clip is installed"
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed"
    return None


class _Clip:
    """Encode images and text with whichever implementation fits the folder."""

    def __init__(self, model_dir: str) -> None:
        import torch

        self.torch = torch
        path = Path(model_dir)
        if (path / "config.json").exists() and importlib.util.find_spec("transformers") is not None:
            from transformers import CLIPModel, CLIPProcessor

            self.kind = "transformers"
            self.model = CLIPModel.from_pretrained(model_dir).eval()
            self.processor = CLIPProcessor.from_pretrained(model_dir)
        elif importlib.util.find_spec("open_clip") is not None:
            import open_clip

            self.kind = "open_clip"
            model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{model_dir}")
            self.model = model.eval()
            self.preprocess = preprocess
            self.tokenizer = open_clip.get_tokenizer(f"local-dir:{model_dir}")
        else:
            raise RuntimeError(f"{model_dir} has no config.json for transformers and open_clip is missing")

    def similarities(self, frames: Sequence[np.ndarray], prompt: str) -> list[float]:
        from PIL import Image

        torch = self.torch
        images = [Image.fromarray(np.ascontiguousarray(f[:, :, :3])) for f in frames]
        with torch.no_grad():
            if self.kind == "transformers":
                inputs = self.processor(text=[prompt], images=images, return_tensors="pt", padding=True,
                                        truncation=True)
                out = self.model(**inputs)
                img, txt = out.image_embeds, out.text_embeds
            else:
                img = self.model.encode_image(torch.stack([self.preprocess(i) for i in images]))
                txt = self.model.encode_text(self.tokenizer([prompt]))
            img = img / img.norm(dim=-1, keepdim=True)
            txt = txt / txt.norm(dim=-1, keepdim=True)
            return [float(x) for x in (img @ txt.T).squeeze(-1).tolist()]


def check_prompt_compliance(frames: Sequence[np.ndarray], prompt: str, *,
                            model_dir: str | None = None) -> CheckResult:
    """CLIP cosine similarity of CLIP_FRAMES evenly spaced frames to `prompt`; value = the mean."""
    if not prompt.strip():
        return _not_measured("no prompt given")
    reason = clip_unavailable_reason(model_dir)
    if reason:
        return _not_measured(reason)
    if not frames:
        return _not_measured("no frames")
    assert model_dir is not None
    try:
        clip = _MODEL_CACHE.get(model_dir)
        if clip is None:
            clip = _MODEL_CACHE[model_dir] = _Clip(model_dir)
        idx = sorted({int(round(i)) for i in np.linspace(0, len(frames) - 1, min(CLIP_FRAMES, len(frames)))})
        sims = clip.similarities([frames[i] for i in idx], prompt)  # type: ignore[attr-defined]
    except Exception as exc:  # a broken model folder must not take the pipeline down
        return _not_measured(f"CLIP failed to run from {model_dir}: {type(exc).__name__}: {exc}")
    value = float(np.mean(sims))
    ok = value >= CLIP_MIN_SIMILARITY
    return CheckResult(
        "prompt_compliance", ok, CLIP_BLOCKING, value, CLIP_MIN_SIMILARITY, ">=", "cosine",
        f"CLIP similarity to the prompt {value:.3f}" + ("" if ok else f" (under {CLIP_MIN_SIMILARITY})"),
        details={"frames": idx, "per_frame": [round(s, 4) for s in sims], "model_dir": model_dir,
                 "implementation": getattr(clip, "kind", None)},
    )
