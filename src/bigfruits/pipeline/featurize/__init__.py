"""The featurize stage: encoded images -> 1280 MobileNetV2 features per image, on Spark.

``udf`` is the pandas UDF (and what the run broadcasts); ``images`` turns bytes into the model's
224x224 input; ``model`` builds the Keras model with the chosen weights; ``engines`` is the
interface every inference engine meets and the payload workers rebuild one from;
``engine_onnxruntime`` and ``engine_tensorflow`` are the two engines.
"""
