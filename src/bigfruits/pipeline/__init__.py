"""Everything that runs on Spark, in the order a run goes through it: ``run`` (the stages) ->
``ingest`` (list and read the images) -> ``featurize/`` (MobileNetV2 features in a pandas UDF)
-> ``pca/`` (the exact PCA stage) -> ``outputs`` (staging, publish) -> ``report`` (figures,
report.html). Beside them: ``config`` (a run's parameters), ``session`` (the Spark session) and
``progress`` (the progress bar)."""
