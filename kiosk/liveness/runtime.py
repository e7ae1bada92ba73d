"""The TFLite interpreter: LiteRT (ai-edge-litert) first, tflite-runtime as a fallback.

XNNPACK is the default delegate in both; without it inference is 7-8x slower on a Pi.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class RuntimeMissing(Exception):
    """Neither LiteRT nor tflite-runtime is installed."""


def _interpreter_class() -> tuple[Any, str]:
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite_runtime"
    except ImportError:
        raise RuntimeMissing("no TFLite runtime: pip install ai-edge-litert "
                             "(or tflite-runtime on numpy<2)") from None


class TfliteModel:
    """One loaded model with a single float input; invoke() returns outputs by name."""

    def __init__(self, path: Path, threads: int = 2) -> None:
        cls, self.runtime = _interpreter_class()
        self.path, self.threads = Path(path), threads
        self._it = cls(model_path=str(path), num_threads=threads)
        self._it.allocate_tensors()
        inp = self._it.get_input_details()[0]
        self.input_shape = tuple(int(v) for v in inp["shape"])
        self._input_index = inp["index"]
        # the function that returns a view of the input buffer (safe to keep, the view is not)
        self._input_view = self._it.tensor(self._input_index)
        self._outputs = {d["name"]: d["index"] for d in self._it.get_output_details()}
        self._output_items = tuple(self._outputs.items())
        log.info("event=model_loaded file=%s runtime=%s threads=%d", self.path.name, self.runtime, threads)

    def invoke(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        self._it.set_tensor(self._input_index, tensor)
        self._it.invoke()
        return {name: self._it.get_tensor(idx) for name, idx in self._outputs.items()}

    def invoke_scaled(self, image: np.ndarray, scale: np.floating) -> dict[str, np.ndarray]:
        """invoke(image * scale) without set_tensor's copy: the product is written straight into
        the interpreter's own input buffer, through a view that is gone before invoke() (the
        interpreter refuses to run while a view of its memory is held). Outputs are copies."""
        np.multiply(image, scale, out=self._input_view(), casting="unsafe")
        it = self._it
        it.invoke()
        get = it.get_tensor
        return {name: get(idx) for name, idx in self._output_items}

    def __repr__(self) -> str:
        return f"<TfliteModel {self.path.name} runtime={self.runtime} threads={self.threads}>"
