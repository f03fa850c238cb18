"""``ServedModel``: one fitted estimator as the server sees it -- what a session holds, how a
JSON step becomes a stream input, how outputs become JSON, and stateless prediction.

Session state is the family stream's :meth:`~rnnkit.inference.Stream.state_dict` (plus
small JSON ``info``: the last output for sampling, the sampling RNG, a forecaster's series).
Steps of several sessions of one model are run as one batch where the family allows
(:attr:`ServedModel.batchable`): their states are stacked along the batch axis, advanced
once, and sliced apart again -- the numbers are those of each session alone (the engine's
rows are independent).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.sentences import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from rnnkit.errors import ConfigError, RnnkitError
from rnnkit.generation.sampling import check_sampling, sample_next_numpy
from rnnkit.inference import Stream, StreamState
from rnnkit.serving.store import SessionRecord

FAMILIES = {"LanguageModeler": "lm", "RNNClassifier": "classify", "RNNTagger": "tag", "Forecaster": "forecast",
            "ConditionedGenerator": "conditioned", "Translator": "translate", "MusicModeler": "music",
            "Recognizer": "recognize"}


class FramesStep:
    """A recogniser session's step: frames (T, features), and whether the utterance ends."""

    def __init__(self, frames: np.ndarray, finish: bool) -> None:
        self.frames, self.finish = frames, finish

    def __len__(self) -> int:
        return len(self.frames)


class InputError(RnnkitError):
    """A request whose field ``field`` is unusable; the server answers 400 naming it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


class ServedModel:
    """A fitted estimator behind the server (``name``: its URL segment)."""

    def __init__(self, name: str, estimator: Any, path: str | Path = "") -> None:
        self.name = name
        self.estimator = estimator
        self.path = str(path)
        self.kind = FAMILIES.get(type(estimator).__name__)
        if self.kind is None:
            raise ConfigError(f"{path}: {type(estimator).__name__} cannot be served")
        self.template: Stream | StreamState | None = None
        self._series_templates: dict[str, Any] = {}
        self.session_error: str | None = None
        try:
            self.template = self._new_stream({})
        except ConfigError as exc:  # e.g. a bidirectional classifier: prediction only
            self.session_error = str(exc)
        self.batchable = self.kind in ("lm", "classify", "tag", "music", "conditioned")

    # ------------------------------------------------------------------ description
    def describe(self) -> dict[str, Any]:
        est = self.estimator
        info: dict[str, Any] = {"name": self.name, "family": self.kind, "estimator": type(est).__name__,
                                "checkpoint": self.path, "sessions": self.session_error is None,
                                "why_no_sessions": self.session_error, "batched_steps": self.batchable}
        k = self.kind
        if k == "lm":
            info["session_step"] = {"text": "characters (char model) or space-separated words", "ids": "token ids"}
            info["output"] = "next-token distribution (top tokens and probabilities)"
            info["predict"] = {"texts": "score each text: cross-entropy per token and perplexity"}
            info["vocab_size"] = len(est.vocab_)
        elif k in ("classify", "tag"):
            series = est.input_kind_ == "series"
            info["session_step"] = ({"values": f"one step of {est.n_features_in_} numbers, or a list of steps"}
                                    if series else {"tokens": "a word or a list of words", "ids": "word ids",
                                                    "text": "words split as the model splits them"})
            info["output"] = ("class probabilities for the sequence so far" if k == "classify"
                              else "a tag and its probabilities per step")
            info["predict"] = {"sequences": "lists of steps (numbers per step) or of words"
                                            + (", or texts" if k == "classify" and not series else "")}
            info["classes"] = [str(c) for c in est.classes_]
        elif k == "forecast":
            info["session_step"] = {"time": "the observation's timestamp",
                                    "values": {c: "number" for c in [*est.target_cols_, *est.past_covariates,
                                                                     *est.known_covariates]}}
            info["output"] = f"the next {est.horizon} steps' forecasts (after {est._reach} observations)"
            info["predict"] = {"rows": "table rows (records) with the time column and the series"}
        elif k == "conditioned":
            info["session_open"] = {"condition": "a label" if est.classes_ is not None else "a feature list"}
            info["output"] = "next-word distribution; generate for sentences"
            info["predict"] = {"condition": "label or features", "n": "sentences to sample"}
        elif k == "translate":
            info["session_open"] = {"source": "a source sentence"}
            info["output"] = "next target-word distribution; generate for the translation"
            info["predict"] = {"sentences": "source sentences to translate"}
        elif k == "music":
            info["session_step"] = {"keys": "active piano keys (0-87) per frame", "frames": "88 numbers per frame"}
            info["output"] = "probability of each key in the next frame"
        elif k == "recognize":
            features = f"{est.n_features_in_} numbers per frame"
            info["session_step"] = {"frames": f"a frame or a list of frames ({features})",
                                    "finish": "true when the utterance ends (then the next one starts)",
                                    "steps": "frames taken; a finish without frames counts one"}
            info["output"] = "the characters these frames complete, and the utterance's transcript so far"
            info["predict"] = {"utterances": f"lists of frames ({features}): one transcript each",
                               "files": 'recordings or line images as {"name": "a.wav", "base64": ...}, '
                                        "read as the training files were (a recogniser trained on files)"}
            info["alphabet"] = list(est.alphabet_)
            spec = getattr(est, "frame_spec_", None)
            if spec is not None:  # recordings or line images: how their frames were made
                info["frames_from"] = spec.to_dict()
        return info

    # ------------------------------------------------------------------ sessions
    def _new_stream(self, params: dict[str, Any]) -> Any:  # the family's stream
        est, k = self.estimator, self.kind
        if k == "forecast":
            return est.stream(str(params.get("series", "")))
        if k == "conditioned":
            if "condition" not in params:
                return est.stream([est.classes_[0]] if est.classes_ is not None else np.zeros((1, est.n_features_in_)))
            condition = params["condition"]
            try:
                value = [condition] if est.classes_ is not None else np.asarray([condition], dtype=np.float32)
                return est.stream(value)
            except (RnnkitError, ValueError, TypeError) as exc:
                raise InputError("condition", f"condition: {exc}") from None
        if k == "translate":
            source = params.get("source", "a")
            if not isinstance(source, str) or not source.strip():
                raise InputError("source", "source must be a non-empty sentence")
            try:
                return est.stream([source])
            except RnnkitError as exc:
                raise InputError("source", f"source: {exc}") from None
        return est.stream()

    def open(self, session_id: str, params: dict[str, Any], now: float) -> SessionRecord:
        """A new session (``params``: ``condition``/``source``/``series``/``seed`` as the family needs)."""
        if self.session_error is not None:
            raise InputError("model", f"model {self.name!r} has no sessions: {self.session_error}")
        stream = self._new_stream(params)
        seed = params.get("seed")
        if seed is not None and (not isinstance(seed, int) or seed < 0):
            raise InputError("seed", "seed must be a non-negative integer")
        info: dict[str, Any] = {"params": {k: v for k, v in params.items() if k in ("condition", "source", "series")},
                                "seed": seed, "rng": None, "last": None}
        if self.kind in ("conditioned", "translate"):  # sentences start after <bos>
            out = stream.step(np.array([BOS_ID]))
            info["last"] = out[0].tolist()
        return SessionRecord(session_id, self.name, now, now, 0, stream.state_dict(), info)

    def _template_for(self, record: SessionRecord) -> Any:
        """A stream of this model to load a state into (built once; a forecaster's per series,
        whose scaler it carries). The state holds everything else -- the translator's encoded
        source, the generator's condition -- so no step encodes anything again."""
        if self.kind != "forecast":
            assert self.template is not None
            return self.template
        series = str(record.info.get("params", {}).get("series", ""))
        if series not in self._series_templates:
            self._series_templates[series] = self._new_stream({"series": series})
        return self._series_templates[series]

    def _stream_of(self, records: list[SessionRecord]) -> Any:
        """A stream holding the given sessions' states, stacked in order."""
        stream = self._template_for(records[0]).copy()
        first = records[0].state
        joined = {k: np.concatenate([r.state[k] for r in records], axis=stream.batch_axis(k)) for k in first}
        stream.load_state_dict(joined)
        return stream

    def _split(self, stream: StreamState, records: list[SessionRecord]) -> None:
        state = stream.state_dict()
        for i, r in enumerate(records):
            r.state = {k: np.take(v, [i], axis=stream.batch_axis(k)) for k, v in state.items()}

    # ------------------------------------------------------------------ inputs and outputs
    def parse(self, body: dict[str, Any], max_steps: int) -> Any:
        """A step request -> the stream's inputs for this session: (T, ...) array (forecast:
        a list of (values, time) rows)."""
        est, k = self.estimator, self.kind
        if k == "recognize":
            return self._frames_step(body, max_steps)
        try:
            if k == "forecast":
                rows = body.get("rows") or ([{"time": body.get("time"), "values": body.get("values")}]
                                            if "values" in body else None)
                if not rows:
                    raise InputError("values", "give values (and time), or rows of {time, values}")
                if len(rows) > max_steps:
                    raise InputError("rows", f"at most {max_steps} rows per request, got {len(rows)}")
                for i, row in enumerate(rows):
                    if not isinstance(row, dict) or row.get("time") is None or not isinstance(row.get("values"), dict):
                        raise InputError(f"rows[{i}]", "each row is {\"time\": ..., \"values\": {column: number}}")
                return rows
            if "ids" in body:
                ids = np.asarray(body["ids"])
                if ids.ndim == 0:
                    ids = ids[None]
                if ids.ndim != 1 or ids.dtype.kind not in "iu":
                    raise InputError("ids", "ids must be an integer or a list of integers")
                steps: np.ndarray = ids.astype(np.int64)
            elif k == "lm":
                text = body.get("text")
                if not isinstance(text, str) or not text:
                    raise InputError("text", "text must be a non-empty string (or give ids)")
                tokens = list(text) if est.vocab_.level == "char" else est.vocab_.words(text)
                steps = est.vocab_.encode(tokens).astype(np.int64)
            elif k in ("conditioned", "translate"):
                text = body.get("text")
                if not isinstance(text, str) or not text.strip():
                    raise InputError("text", "text must be a non-empty string (or give ids)")
                codec = est.codec_ if k == "conditioned" else est.tgt_codec_
                steps = np.asarray(codec.encode(text), dtype=np.int64)
            elif k == "music":
                if "keys" in body:
                    frames: Any = body["keys"]
                    if frames and not isinstance(frames[0], list):
                        frames = [frames]
                    steps = np.zeros((len(frames), 88), np.float32)
                    for t, keys in enumerate(frames):
                        for key in keys:
                            if not isinstance(key, int) or not 0 <= key < 88:
                                raise InputError("keys", f"keys are piano-key numbers 0-87, got {key!r}")
                            steps[t, key] = 1.0
                else:
                    steps = self._numbers(body, "frames", 88)
            elif est.input_kind_ == "series":
                steps = self._numbers(body, "values", est.n_features_in_)
            else:
                words = body.get("tokens")
                if words is None and isinstance(body.get("text"), str):  # split as the estimator splits
                    words = self._split_text(body["text"])
                if isinstance(words, str):
                    words = [words]
                if not isinstance(words, list) or not words or not all(isinstance(t, str) for t in words):
                    raise InputError("tokens", "tokens must be a word or a list of words (or give ids)")
                steps = np.asarray(est.encoder_.encode(words).words, dtype=np.int64)
        except InputError:
            raise
        except RnnkitError as exc:
            raise InputError(next(iter(body), "input"), str(exc)) from None
        if len(steps) == 0:
            raise InputError(next(iter(body), "input"), "no steps given")
        if len(steps) > max_steps:
            raise InputError(next(iter(body), "input"), f"at most {max_steps} steps per request, got {len(steps)}")
        return steps

    def _frames_step(self, body: dict[str, Any], max_steps: int) -> FramesStep:
        finish = body.get("finish", False)
        if not isinstance(finish, bool):
            raise InputError("finish", "finish must be true or false")
        width = self.estimator.n_features_in_
        if "frames" not in body and finish:
            return FramesStep(np.zeros((0, width), np.float32), True)
        frames = self._numbers(body, "frames", width)
        if len(frames) > max_steps:
            raise InputError("frames", f"at most {max_steps} frames per request, got {len(frames)}")
        return FramesStep(frames, finish)

    def _split_text(self, text: str) -> list[str]:
        """A text's words as the estimator splits them: a transfer classifier with its language
        model's tokenizer (send ``<eos>`` to close the text as ``predict`` does), the others at
        white space."""
        pretrained = getattr(self.estimator, "pretrained_encoder_", None)
        return self.estimator.encoder_.words.words(text) if pretrained else text.split()

    @staticmethod
    def _numbers(body: dict[str, Any], name: str, width: int) -> np.ndarray:
        if name not in body:
            raise InputError(name, f"give {name}: {width} numbers per step")
        try:
            values = np.asarray(body[name], dtype=np.float32)
        except (TypeError, ValueError):
            raise InputError(name, f"{name} must be numbers") from None
        if values.ndim == 1:
            values = values[None]
        if values.ndim != 2 or values.shape[1] != width:
            raise InputError(name, f"{name} must have {width} numbers per step, got shape {list(values.shape)}")
        if not np.isfinite(values).all():
            raise InputError(name, f"{name} must be finite numbers (no NaN or infinity)")
        return values

    def _tokens(self, ids: np.ndarray) -> list[str]:
        est, k = self.estimator, self.kind
        if k == "lm":
            return [est.vocab_.tokens[int(i)] for i in ids]
        codec = est.codec_ if k == "conditioned" else est.tgt_codec_
        return [codec.vocab.tokens[int(i)] for i in ids]

    def render(self, outputs: np.ndarray, top: int) -> dict[str, Any]:
        """Stream outputs (T, ...) of one session -> JSON."""
        k, est = self.kind, self.estimator
        if k in ("lm", "conditioned", "translate"):
            p = _softmax(outputs[-1].astype(np.float64))
            order = np.argsort(-p)[:top]
            return {"next": [{"token": t, "id": int(i), "p": float(p[i])} for t, i in zip(self._tokens(order), order)]}
        if k == "classify":
            p = _softmax(outputs[-1].astype(np.float64))
            return {"probabilities": {str(c): float(v) for c, v in zip(est.classes_, p)},
                    "label": str(est.classes_[int(p.argmax())])}
        if k == "tag":
            p = _softmax(outputs.astype(np.float64))
            return {"tags": [str(est.classes_[int(i)]) for i in p.argmax(-1)],
                    "probabilities": [float(v) for v in p.max(-1)]}
        if k == "music":
            return {"next_frame": (1.0 / (1.0 + np.exp(-outputs[-1].astype(np.float64)))).round(6).tolist()}
        raise AssertionError(k)

    # ------------------------------------------------------------------ stepping
    def step(self, records: list[SessionRecord], inputs: list[Any], top: int = 10) -> list[dict[str, Any]]:
        """Advance each session by its inputs (records are updated in place); outputs as JSON."""
        if self.kind == "forecast":
            return [self._forecast_step(r, rows) for r, rows in zip(records, inputs)]
        if self.kind == "recognize":
            return [self._recognize_step(r, x) for r, x in zip(records, inputs)]
        if self.batchable and len(records) > 1 and all(len(x) == 1 for x in inputs):
            stream = self._stream_of(records)
            assert isinstance(stream, Stream)
            out = stream.advance(np.concatenate(inputs, 0)).copy()  # (B, ...)
            self._split(stream, records)
            results = []
            for i, r in enumerate(records):
                r.steps += 1
                r.info["last"] = out[i].tolist() if self.kind in ("lm", "conditioned") else None
                results.append(self.render(out[i:i + 1], top))
            return results
        results = []
        for r, x in zip(records, inputs):
            stream = self._stream_of([r])
            assert isinstance(stream, Stream)
            try:
                out = stream.feed(x[None])[0]  # (T, ...)
            except RnnkitError as exc:
                raise InputError("input", str(exc)) from None
            self._split(stream, [r])
            r.steps += len(x)
            if self.kind in ("lm", "conditioned", "translate"):
                r.info["last"] = out[-1].tolist()
            results.append(self.render(out, top))
        return results

    def _recognize_step(self, record: SessionRecord, step: FramesStep) -> dict[str, Any]:
        """Frames through the session's recogniser stream; the transcript of the utterance so
        far lives in ``info`` (JSON), the recurrent state and the pending frames in the state."""
        stream = self._stream_of([record])
        text = stream.push(step.frames) if len(step.frames) else ""
        if step.finish:
            text += stream.finish()
        self._split(stream, [record])
        # steps count frames; a finish without frames counts one, so that "after" (exactly once)
        # holds for it too: a retried finish gets its stored answer, not a second, empty one
        record.steps += max(len(step.frames), 1)
        transcript = record.info.get("transcript", "") + text
        record.info["transcript"] = "" if step.finish else transcript
        return {"text": text, "transcript": transcript, "finished": step.finish}

    def _forecast_step(self, record: SessionRecord, rows: list[dict[str, Any]]) -> dict[str, Any]:
        stream = self._stream_of([record])
        for i, row in enumerate(rows):
            try:
                stream.update(row["values"], row["time"])
            except (RnnkitError, ValueError, TypeError) as exc:
                raise InputError(f"rows[{i}]", str(exc)) from None
        self._split(stream, [record])
        record.steps += len(rows)
        if int(stream.seen.min()) < stream.context:
            return {"forecast": None, "needs": stream.context - int(stream.seen.min())}
        try:
            frame = stream.forecast()
        except RnnkitError as exc:
            raise InputError("values", str(exc)) from None
        frame["time"] = frame["time"].astype(str)
        return {"forecast": frame.to_dict(orient="records")}

    # ------------------------------------------------------------------ generation
    def can_generate(self) -> bool:
        return self.kind in ("lm", "conditioned", "translate")

    def sample(self, record: SessionRecord, temperature: float, top_k: int | None, top_p: float | None
               ) -> tuple[int, str, bool]:
        """Draw the next token from the session's last output with its own RNG (kept in
        ``info``, so a restarted server draws the same); returns (id, token, finished)."""
        last = record.info.get("last")
        if last is None:
            raise InputError("session", "feed at least one step (or give the LM session a prompt) before generating")
        rng = np.random.default_rng(record.info.get("seed"))
        if record.info.get("rng") is not None:
            rng.bit_generator.state = record.info["rng"]
        logits = np.asarray(last, np.float32)[None]
        if self.kind != "lm":  # never write padding, <unk> or <bos>
            logits = logits.copy()
            logits[0, [PAD_ID, UNK_ID, BOS_ID]] = -np.inf
        token = int(sample_next_numpy(logits, temperature, top_k, top_p, rng)[0])
        record.info["rng"] = rng.bit_generator.state
        finished = self.kind != "lm" and token == EOS_ID
        return token, self._tokens(np.array([token]))[0], finished

    # ------------------------------------------------------------------ stateless prediction
    def predict(self, body: dict[str, Any]) -> dict[str, Any]:
        est, k = self.estimator, self.kind
        try:
            if k == "classify":
                seqs = self._sequences(body)
                if est.input_kind_ == "text":  # the classifier reads texts and splits them itself
                    seqs = [s if isinstance(s, str) else " ".join(s) for s in seqs]
                probs = est.predict_proba(seqs)
                return {"labels": [str(est.classes_[int(i)]) for i in probs.argmax(1)],
                        "probabilities": [{str(c): float(v) for c, v in zip(est.classes_, p)} for p in probs]}
            if k == "tag":
                return {"tags": [[str(t) for t in tags] for tags in est.predict(self._sequences(body))]}
            if k == "forecast":
                import pandas as pd

                rows = body.get("rows")
                if not isinstance(rows, list) or not rows:
                    raise InputError("rows", "rows must be a non-empty list of records")
                frame = est.predict(pd.DataFrame(rows))
                frame["time"] = frame["time"].astype(str)
                return {"forecast": frame.to_dict(orient="records")}
            if k == "translate":
                sentences = body.get("sentences")
                if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences) or not sentences:
                    raise InputError("sentences", "sentences must be a non-empty list of strings")
                beam = body.get("beam_size")
                return {"translations": est.translate(sentences, beam_size=beam)}
            if k == "conditioned":
                if "condition" not in body:
                    raise InputError("condition", "give the condition (a label or feature list)")
                n = body.get("n", 1)
                if not isinstance(n, int) or not 1 <= n <= 100:
                    raise InputError("n", "n must be an integer from 1 to 100")
                condition = body["condition"] if est.classes_ is not None else np.asarray(body["condition"], float)
                return {"sentences": est.generate(condition, n=n, temperature=float(body.get("temperature", 1.0)),
                                                  seed=body.get("seed"))}
            if k == "lm":
                return {"scores": [self._score_text(t) for t in self._texts(body)]}
            if k == "recognize":
                if "files" in body:
                    return {"transcripts": self._transcribe_files(body["files"])}
                utterances = body.get("utterances")
                if not isinstance(utterances, list) or not utterances:
                    raise InputError("utterances", "give utterances (lists of frames) or files")
                frames = [self._numbers({f"utterances[{i}]": u}, f"utterances[{i}]", est.n_features_in_)
                          for i, u in enumerate(utterances)]
                return {"transcripts": est.transcribe(frames)}
            raise InputError("model", f"{self.kind} models have no stateless prediction; open a session")
        except InputError:
            raise
        except RnnkitError as exc:
            raise InputError(next(iter(body), "input"), str(exc)) from None

    def _transcribe_files(self, files: Any) -> list[str]:
        """Recordings or line images sent in the request (``{"name", "base64"}`` each), read as
        the recogniser's training files were: written to a private temporary folder under
        names of the server's own (only the name's extension is kept), then removed."""
        if getattr(self.estimator, "frame_spec_", None) is None:
            raise InputError("files", "this recogniser was trained on frames, not files; send utterances")
        if not isinstance(files, list) or not files:
            raise InputError("files", 'files must be a non-empty list of {"name": ..., "base64": ...}')
        with tempfile.TemporaryDirectory(prefix="rnnkit-serve-") as folder:
            paths = []
            for i, f in enumerate(files):
                if not (isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("base64"), str)):
                    raise InputError(f"files[{i}]", 'each file is {"name": "a.wav", "base64": "..."}')
                suffix = Path(f["name"]).suffix.lower()
                if not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
                    raise InputError(f"files[{i}]", f"{f['name']!r} has no file extension (.wav, .png ...)")
                try:
                    data = base64.b64decode(f["base64"], validate=True)
                except (binascii.Error, ValueError):
                    raise InputError(f"files[{i}]", "base64 is not valid base64") from None
                path = Path(folder) / f"{i}{suffix}"
                path.write_bytes(data)
                paths.append(path)
            try:
                return self.estimator.transcribe_files(paths)
            except RnnkitError as exc:  # name the file as the client did, not by our temporary name
                message = str(exc)
                for i, (f, path) in enumerate(zip(files, paths)):
                    if str(path) in message:
                        raise InputError(f"files[{i}]", message.replace(str(path), f["name"])) from None
                raise InputError("files", message) from None

    def _texts(self, body: dict[str, Any]) -> list[str]:
        texts = body.get("texts")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
            raise InputError("texts", "texts must be a non-empty list of non-empty strings")
        return texts

    def _score_text(self, text: str) -> dict[str, float]:
        import torch

        est = self.estimator
        tokens = list(text) if est.vocab_.level == "char" else est.vocab_.words(text)
        ids = est.vocab_.encode(tokens)
        if len(ids) < 2:
            raise InputError("texts", "each text needs at least two tokens to score")
        with torch.no_grad():
            x = torch.as_tensor(ids[None], dtype=torch.long, device=next(est.model_.parameters()).device)
            logits, _ = est.model_(x[:, :-1])
            loss = float(torch.nn.functional.cross_entropy(logits[0].float(), x[0, 1:]))
        return {"cross_entropy": loss, "perplexity": math.exp(min(loss, 700)), "tokens": len(ids) - 1}

    def _sequences(self, body: dict[str, Any]) -> list:
        seqs = body.get("sequences")
        if not isinstance(seqs, list) or not seqs:
            raise InputError("sequences", "sequences must be a non-empty list")
        if self.estimator.input_kind_ == "series":
            out = []
            for i, s in enumerate(seqs):
                try:
                    arr = np.asarray(s, dtype=np.float32)
                except (TypeError, ValueError):
                    raise InputError(f"sequences[{i}]", "series steps must be numbers") from None
                if arr.ndim == 1:
                    arr = arr[:, None]
                if arr.ndim != 2 or len(arr) == 0 or not np.isfinite(arr).all():
                    raise InputError(f"sequences[{i}]", "a series is a non-empty list of steps of finite numbers")
                out.append(arr)
            return out
        texts = self.kind == "classify"  # a classifier also takes whole texts; a tagger tags given words
        for i, s in enumerate(seqs):
            if texts and isinstance(s, str) and s.strip():
                continue
            if not isinstance(s, list) or not s or not all(isinstance(t, str) for t in s):
                raise InputError(f"sequences[{i}]", "a sentence is a non-empty list of words"
                                 + (" or a text" if texts else ""))
        return seqs


def check_generation(temperature: Any, top_k: Any, top_p: Any, length: Any, max_length: int) -> None:
    if not isinstance(length, int) or not 1 <= length <= max_length:
        raise InputError("length", f"length must be an integer from 1 to {max_length}")
    try:
        check_sampling(float(temperature), top_k, top_p)
    except (ConfigError, TypeError, ValueError) as exc:
        field = "temperature" if "temperature" in str(exc) else "top_k" if "top_k" in str(exc) else "top_p"
        raise InputError(field, str(exc)) from None


__all__ = ["ServedModel", "InputError", "FAMILIES", "check_generation"]
