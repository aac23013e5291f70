"""How close a model's features are to the exact (fp32) ones, and the gate an int8 graph must
pass before any run uses it.

Judged on the features themselves, image by image: the cosine similarity between each image's
int8 and fp32 vectors. Linear probes on the classes cannot tell these graphs apart (all score
alike), while the features a user keeps (``features/``, the PCA) can differ. The gate asks the
mean over the images to be at least ``GATE_MEAN`` and the 1st percentile at least ``GATE_P1``
(no sizeable minority of images far off), on images held out of the calibration.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

import numpy as np

from bigfruits.errors import FidelityRefused

GATE_MEAN = 0.98
GATE_P1 = 0.95


@dataclass(frozen=True)
class Fidelity:
    """Cosine similarity to the fp32 features over ``images`` images: mean, 1st percentile, min."""

    images: int
    mean: float
    p1: float
    min: float

    def passes(self) -> bool:
        return self.mean >= GATE_MEAN and self.p1 >= GATE_P1

    def to_dict(self) -> Dict[str, float]:
        return {"images": self.images, "cosine_mean": round(self.mean, 5),
                "cosine_p1": round(self.p1, 5), "cosine_min": round(self.min, 5)}

    def summary(self) -> str:
        """``mean cosine 0.9886 (needs >= 0.98), 1st percentile 0.9798 (needs >= 0.95)``."""
        return (f"mean cosine {self.mean:.4f} (needs >= {GATE_MEAN}), 1st percentile "
                f"{self.p1:.4f} (needs >= {GATE_P1}) on {self.images} images")


def cosine_similarities(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Row by row cosine similarity of two ``(n, d)`` arrays; a zero row is 1.0 against a zero
    row (both say nothing) and 0.0 against anything else."""
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    if reference.shape != candidate.shape:
        raise ValueError(f"features of different shapes: {reference.shape} vs {candidate.shape}")
    norms = np.linalg.norm(reference, axis=1) * np.linalg.norm(candidate, axis=1)
    dots = np.einsum("ij,ij->i", reference, candidate)
    both_zero = (np.linalg.norm(reference, axis=1) == 0) & (np.linalg.norm(candidate, axis=1) == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        similarity = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)
    return np.where(both_zero, 1.0, np.clip(similarity, -1.0, 1.0))


def fidelity(reference: np.ndarray, candidate: np.ndarray) -> Fidelity:
    """The cosine figures of ``candidate``'s features against ``reference``'s (same images)."""
    similarity = cosine_similarities(reference, candidate)
    if similarity.size == 0:
        raise ValueError("no images to judge fidelity on")
    return Fidelity(int(similarity.size), float(similarity.mean()),
                    float(np.percentile(similarity, 1)), float(similarity.min()))


def check_gate(held_out: Fidelity, kept_fp32: int) -> None:
    """Refuse, in one line saying why, an int8 graph whose held-out fidelity fails the gate."""
    if not held_out.passes():
        raise FidelityRefused(
            f"the int8 graph changes the features too much ({held_out.summary()} held out of the "
            f"calibration, against fp32, with {kept_fp32} layers kept in fp32)",
            "run with --precision fp32, or calibrate on images like yours with --calibration PATH")
