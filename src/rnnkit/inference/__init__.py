"""Inference after training: a fast step engine and streams that carry the state.

``StepEngine`` runs one step of a unidirectional recurrent stack in NumPy; the streams
(one per model family) keep ``batch`` sequences open on top of it, and every
estimator's ``stream()`` opens the right one.
"""

from rnnkit.inference.engine import ENGINES, EngineState, StepEngine, resolve_engine
from rnnkit.inference.forecast_stream import ForecastStream
from rnnkit.inference.series_streams import ClassifierStream, LMClassifierStream, MusicStream, TaggerStream
from rnnkit.inference.stream import Stream, StreamState, join
from rnnkit.inference.token_streams import ConditionedStream, DecoderStream, LanguageStream

__all__ = ["StepEngine", "EngineState", "ENGINES", "resolve_engine", "Stream", "StreamState", "join",
           "LanguageStream", "ConditionedStream", "DecoderStream", "ClassifierStream", "LMClassifierStream",
           "TaggerStream", "MusicStream", "ForecastStream"]
