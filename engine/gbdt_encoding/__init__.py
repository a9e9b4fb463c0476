"""LightGBM's input columns for a gbdt bundle: one encoding (the bundle's ``gbdt.columns`` spec:
numbers as floats, a category as its position in the fitted category list, a missing or unseen
value as NaN), computed in Spark and on the driver (spark.py) and, for online scoring, in pure
Python (online.py)."""
