"""Everything that runs on Spark, in the order a run goes through it: ``run`` (the stages) ->
``ingest`` (list the images) -> ``reuse`` (features a previous output already has) ->
``featurize/`` (MobileNetV2 features in a pandas UDF, the bytes read by ``fetch``) -> ``pca/``
(the exact PCA stage) -> ``outputs`` (staging, publish) -> ``report`` (figures, report.html).
Beside them: ``config`` (a run's parameters), ``session`` and ``class_archive`` (the Spark
session and its JVM's start-up), ``hadoop_fs`` (Hadoop FileSystem access), ``s3`` (S3 access
through boto3) and ``progress`` (the progress bar)."""
