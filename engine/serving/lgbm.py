"""LightGBM's C library through ctypes: scoring without the lightgbm Python package (which would
pull in pandas, scikit-learn, scipy and pyarrow: seconds of start-up and ~180 MB)."""

from __future__ import annotations

import ctypes
import importlib.util
import threading
from pathlib import Path

C_API_DTYPE_FLOAT64 = 1
C_API_PREDICT_NORMAL = 0
C_API_PREDICT_CONTRIB = 3

_lib: ctypes.CDLL | None = None
_lib_lock = threading.Lock()


def library() -> ctypes.CDLL:
    """lib_lightgbm.so from the installed lightgbm package, found without importing it."""
    global _lib
    with _lib_lock:
        if _lib is None:
            spec = importlib.util.find_spec("lightgbm")
            if spec is None or not spec.submodule_search_locations:
                raise RuntimeError("LightGBM is not installed: pip install lightgbm")
            base = Path(next(iter(spec.submodule_search_locations)))
            for candidate in (
                base / "lib" / "lib_lightgbm.so",
                base / "lib_lightgbm.so",
                base / "lib" / "lib_lightgbm.dylib",
            ):
                if candidate.exists():
                    _lib = ctypes.cdll.LoadLibrary(str(candidate))
                    _lib.LGBM_GetLastError.restype = ctypes.c_char_p
                    break
            else:
                raise RuntimeError(f"lib_lightgbm was not found under {base}")
        return _lib


def _check(code: int) -> None:
    if code != 0:
        raise RuntimeError(library().LGBM_GetLastError().decode("utf-8", "replace"))


class Booster:
    """A LightGBM model loaded from its text form, scoring float64 rows."""

    def __init__(self, model_text: str):
        lib = library()
        self._handle = ctypes.c_void_p()
        iterations = ctypes.c_int()
        _check(
            lib.LGBM_BoosterLoadModelFromString(
                model_text.encode("utf-8"), ctypes.byref(iterations), ctypes.byref(self._handle)
            )
        )
        n = ctypes.c_int()
        _check(lib.LGBM_BoosterGetNumFeature(self._handle, ctypes.byref(n)))
        self.num_features = n.value
        self._fast = ctypes.c_void_p()
        _check(
            lib.LGBM_BoosterPredictForMatSingleRowFastInit(
                self._handle,
                C_API_PREDICT_NORMAL,
                0,
                -1,
                C_API_DTYPE_FLOAT64,
                ctypes.c_int32(self.num_features),
                b"num_threads=1",
                ctypes.byref(self._fast),
            )
        )
        self._row = (ctypes.c_double * self.num_features)()
        self._out = (ctypes.c_double * 1)()
        self._out_len = ctypes.c_int64()
        self._lock = threading.Lock()

    def predict_row(self, row: list[float]) -> float:
        """The probability of the positive class for one row (19 µs-class, no allocation)."""
        with self._lock:
            buf = self._row
            for i, v in enumerate(row):
                buf[i] = v
            _check(
                library().LGBM_BoosterPredictForMatSingleRowFast(
                    self._fast, buf, ctypes.byref(self._out_len), self._out
                )
            )
            return self._out[0]

    def predict_rows(self, rows: list[list[float]]) -> list[float]:
        if len(rows) == 1:
            return [self.predict_row(rows[0])]
        n = len(rows)
        data = (ctypes.c_double * (n * self.num_features))(*[v for r in rows for v in r])
        out = (ctypes.c_double * n)()
        out_len = ctypes.c_int64()
        _check(
            library().LGBM_BoosterPredictForMat(
                self._handle,
                data,
                C_API_DTYPE_FLOAT64,
                ctypes.c_int32(n),
                ctypes.c_int32(self.num_features),
                1,
                C_API_PREDICT_NORMAL,
                0,
                -1,
                b"num_threads=1",
                ctypes.byref(out_len),
                out,
            )
        )
        return list(out)

    def contributions(self, row: list[float]) -> list[float]:
        """Per-feature contributions (SHAP values) to the raw score, plus the bias last."""
        return self.contributions_rows([row])[0]

    def contributions_rows(self, rows: list[list[float]]) -> list[list[float]]:
        """Contributions of many rows in one call (LightGBM sets up its predictor once, and the
        GIL is released for the whole computation)."""
        n, width = len(rows), self.num_features + 1
        data = (ctypes.c_double * (n * self.num_features))(*[v for r in rows for v in r])
        out = (ctypes.c_double * (n * width))()
        out_len = ctypes.c_int64()
        _check(
            library().LGBM_BoosterPredictForMat(
                self._handle,
                data,
                C_API_DTYPE_FLOAT64,
                ctypes.c_int32(n),
                ctypes.c_int32(self.num_features),
                1,
                C_API_PREDICT_CONTRIB,
                0,
                -1,
                b"num_threads=1",
                ctypes.byref(out_len),
                out,
            )
        )
        flat = list(out)
        return [flat[i * width : (i + 1) * width] for i in range(n)]

    def __del__(self) -> None:
        try:
            lib = library()
            if self._fast:
                lib.LGBM_FastConfigFree(self._fast)
            if self._handle:
                lib.LGBM_BoosterFree(self._handle)
        except Exception:  # the library may be gone at interpreter shutdown
            return
