"""The benchmark behind issue 3: ``python -m bigfruits.bench`` (see bench/README.md)."""
