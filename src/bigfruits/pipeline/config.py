"""The parameters of one run, checked before any work starts."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Optional, Tuple

from bigfruits.errors import InputError
from bigfruits.pipeline.featurize.model import FEATURE_DIM


#: images per inference call. 32, not 64: measured here with ONNX Runtime (one thread, batch
#: after batch), 32 takes 0.79x the CPU time of 64 per image and its memory arena peaks at
#: 480 MiB instead of 860 MiB per Python worker (smaller activations stay in cache).
DEFAULT_BATCH_SIZE = 32
#: components kept without --k or --variance (fewer on an input of fewer images: ``components``)
DEFAULT_K = 50


@dataclass
class RunConfig:
    """Everything ``bigfruits run`` takes; ``input=None`` means the bundled sample."""

    input: Optional[str] = None
    output: str = "output"
    #: None (and no ``variance``): ``DEFAULT_K``, or fewer on a small input (see ``components``)
    k: Optional[int] = None
    variance: Optional[float] = None
    weights: str = "imagenet"
    engine: str = "auto"
    classes: Optional[str] = None
    limit: Optional[int] = None
    master: str = "local[*]"
    overwrite: bool = False
    seed: int = 0
    reuse: Optional[str] = None
    batch_size: int = DEFAULT_BATCH_SIZE
    progress: bool = True
    spark_conf: Dict[str, str] = field(default_factory=dict)
    #: a published model folder (``featurize/published``): used instead of ``weights``
    model: Optional[str] = None

    def __post_init__(self) -> None:
        if self.k is not None and self.variance is not None:
            raise InputError("--k and --variance were both given", "pass only one of them")
        if self.k is not None and not 1 <= self.k <= FEATURE_DIM:
            raise InputError(f"--k must be between 1 and {FEATURE_DIM} (got {self.k})",
                             "pass a smaller --k, or --variance 0.95 to choose it from the data")
        if self.variance is not None and not 0.0 < self.variance <= 1.0:
            raise InputError(f"--variance must be in (0, 1] (got {self.variance})",
                             "pass a share of variance to keep, e.g. --variance 0.95")
        if self.batch_size < 1:
            raise InputError(f"--batch-size must be at least 1 (got {self.batch_size})",
                             "pass e.g. --batch-size 32")

    def components(self, images: int, counted: str = "images") -> Tuple[Optional[int], str]:
        """(k for a PCA of ``images`` images, or None for ``--variance``; a note when the default
        k was lowered). Centred, n images span at most n-1 directions, so a small input gets
        n-1 components instead of the default; an explicit ``--k`` stays, and is checked."""
        if images < 2:
            raise InputError(f"a PCA needs at least 2 images ({images} {counted})", "select more images")
        if self.variance is not None:
            return None, ""
        if self.k is not None:
            if self.k > images:
                raise InputError(f"--k {self.k} is more than the {images} {counted}",
                                 f"pass --k {images} or less, or select more images")
            return self.k, ""
        if DEFAULT_K < images:
            return DEFAULT_K, ""
        return images - 1, (f"k={images - 1} components: the default {DEFAULT_K} is more than "
                            f"{images} {counted} can give (--k N chooses)")

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)
