"""The benchmark: ``python -m bigfruits.bench`` times the pipeline on real images against our
users' own featurization and against what the hardware does without Spark (see
bench/README.md)."""
