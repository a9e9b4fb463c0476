"""Feature engineering: one definition (config.py), fitted on Spark (fit.py), compiled for Spark
(spark.py) and for online scoring in pure Python (online.py)."""
