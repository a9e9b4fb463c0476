"""Seer's operator library: one spec per operator plus its Spark implementation.

Operators import only ``engine.opapi``; the engine finds them through the
``seer.operators`` entry-point group (pyproject.toml).
"""
