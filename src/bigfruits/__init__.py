"""bigfruits: fruit photos -> MobileNetV2 features on Spark -> distributed PCA."""
from __future__ import annotations

__version__ = "0.1.0"
