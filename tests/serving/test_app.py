"""The HTTP server through FastAPI's test client: every endpoint, every family, bad inputs
as 4xx JSON naming the field, limits, expiry, auth, and batched == one-at-a-time."""

import asyncio
import time

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")

from fastapi.testclient import TestClient  # noqa: E402

from rnnkit.serving.run import build, load_models  # noqa: E402
from rnnkit.serving.server import Server, ServeSettings  # noqa: E402
from rnnkit.serving.store import SessionStore  # noqa: E402


@pytest.fixture()
def client(checkpoints, tmp_path):
    app = build([f"{k}={v}" for k, v in checkpoints.items()], tmp_path / "s.sqlite", ServeSettings(max_steps=50))
    with TestClient(app) as c:
        yield c


def _open(c, **body):
    r = c.post("/sessions", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_health_models_metrics(client):
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/ready").json()["ready"] is True
    models = {m["name"]: m for m in client.get("/models").json()}
    assert set(models) == {"lm", "sensor", "bi", "txt", "tagger", "fc", "gen", "tr", "music", "rec", "rec_bi"}
    assert models["bi"]["sessions"] is False and "bidirectional" in models["bi"]["why_no_sessions"]
    assert client.get("/models/sensor").json()["classes"] == ["down", "up"]
    assert client.get("/openapi.json").status_code == 200
    client.post("/sessions/nope/step", json={"values": [1, 2]})
    text = client.get("/metrics").text
    assert "rnnkit_requests_total" in text and "rnnkit_request_seconds_bucket" in text
    assert "rnnkit_sessions" in text and "rnnkit_batch_size" in text


def test_language_model_session_step_generate_reset_delete(client):
    sid = _open(client, model="lm", prompt="the c", seed=3)
    info = client.get(f"/sessions/{sid}").json()
    assert info["steps"] == 5 and info["model"] == "lm"
    out = client.post(f"/sessions/{sid}/step", json={"text": "a"}).json()
    assert out["steps"] == 6 and abs(sum(t["p"] for t in out["next"])) <= 1.0 and len(out["next"]) == 10
    a = client.post(f"/sessions/{sid}/generate", json={"length": 15, "stream": False}).json()
    assert len(a["tokens"]) == 15
    client.post(f"/sessions/{sid}/reset")
    client.post(f"/sessions/{sid}/step", json={"text": "the ca"})
    b = client.post(f"/sessions/{sid}/generate", json={"length": 15, "stream": False}).json()
    assert a["text"] == b["text"]  # same seed, same state: the same text
    with client.stream("POST", f"/sessions/{sid}/generate", json={"length": 5}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line.startswith("data:")]
    assert len(events) == 6  # five tokens, then the end event
    assert client.delete(f"/sessions/{sid}").status_code == 200
    r = client.post(f"/sessions/{sid}/step", json={"text": "a"})
    assert r.status_code == 404 and r.json()["field"] == "session"


def test_every_family_steps(client):
    sid = _open(client, model="sensor")
    out = client.post(f"/sessions/{sid}/step", json={"values": [[0.1, 0.2], [0.3, -1.0]]}).json()
    assert set(out["probabilities"]) == {"down", "up"} and out["steps"] == 2
    sid = _open(client, model="tagger")
    assert len(client.post(f"/sessions/{sid}/step", json={"tokens": ["the", "cat"]}).json()["tags"]) == 2
    sid = _open(client, model="music")
    assert len(client.post(f"/sessions/{sid}/step", json={"keys": [[39], [43, 47]]}).json()["next_frame"]) == 88
    sid = _open(client, model="fc")
    rows = [{"time": f"2022-01-01 {h:02d}:00", "values": {"y": float(np.sin(h))}} for h in range(12)]
    out = client.post(f"/sessions/{sid}/step", json={"rows": rows[:5]}).json()
    assert out["forecast"] is None and out["needs"] == 7
    out = client.post(f"/sessions/{sid}/step", json={"rows": rows[5:]}).json()
    assert len(out["forecast"]) == 4 and out["forecast"][0]["time"] == "2022-01-01 12:00:00"
    sid = _open(client, model="gen", condition="pos", seed=0)
    assert isinstance(client.post(f"/sessions/{sid}/generate", json={"length": 5, "stream": False}).json()["text"],
                      str)
    sid = _open(client, model="tr", source="a b c")
    out = client.post(f"/sessions/{sid}/step", json={"text": "c"}).json()
    assert out["next"] and out["next"][0]["p"] >= out["next"][-1]["p"]


def test_stateless_predictions(client):
    r = client.post("/models/bi/predict", json={"sequences": [[[0.1, 0.2]] * 5, [[1.0, 2.0]] * 3]}).json()
    assert len(r["labels"]) == 2
    assert client.post("/models/tagger/predict", json={"sequences": [["a", "dog"]]}).json()["tags"][0][1] in (
        "DET", "NOUN", "VERB")
    rows = [{"date": f"2022-01-0{1 + h // 24} {h % 24:02d}:00", "y": float(np.sin(h))} for h in range(48)]
    assert len(client.post("/models/fc/predict", json={"rows": rows}).json()["forecast"]) == 4
    assert client.post("/models/tr/predict", json={"sentences": ["a b c"]}).json()["translations"]
    sentences = client.post("/models/gen/predict", json={"condition": "neg", "n": 2, "seed": 0}).json()["sentences"]
    assert len(sentences) == 2
    assert client.post("/models/lm/predict", json={"texts": ["the cat"]}).json()["scores"][0]["tokens"] == 6


@pytest.mark.parametrize("path,body,field", [
    ("/sessions", {"model": "nope"}, "model"),
    ("/sessions", {"model": "bi"}, "model"),
    ("/sessions", {"model": "gen", "condition": "maybe"}, "condition"),
    ("/sessions", {"model": "lm", "seed": -1}, "seed"),
    ("/sessions", {"model": "sensor", "prompt": "x"}, "prompt"),
    ("/models/sensor/predict", {"sequences": "x"}, "sequences"),
    ("/models/bi/predict", {"sequences": [[["a", "b"]]]}, "sequences[0]"),
    ("/models/tr/predict", {"sentences": [1]}, "sentences"),
    ("/models/lm/predict", {"texts": ["the cat", "zzzzz€"]}, "texts"),
    ("/models/music/predict", {}, "model"),
])
def test_bad_requests_name_the_field(client, path, body, field):
    r = client.post(path, json=body)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["field"] == field, r.json()


@pytest.mark.parametrize("model,body,field", [
    ("sensor", {"values": [1.0]}, "values"),
    ("sensor", {"values": [["a", "b"]]}, "values"),
    ("sensor", {"values": [float("nan"), 1.0]}, "body"),  # JSON has no NaN: the body is unreadable
    ("sensor", {"values": [[0.0, 0.0]] * 51}, "values"),
    ("lm", {"text": ""}, "text"),
    ("lm", {"text": "€"}, "text"),
    ("lm", {"ids": [1.5]}, "ids"),
    ("lm", {"ids": [9999]}, "input"),
    ("tagger", {"tokens": 3}, "tokens"),
    ("music", {"keys": [[99]]}, "keys"),
    ("fc", {"rows": [{"time": "2022-01-01", "values": {"z": 1.0}}]}, "rows[0]"),
    ("fc", {"values": {"y": 1.0}}, "rows[0]"),
])
def test_bad_steps_name_the_field(client, model, body, field):
    sid = _open(client, model=model)
    r = client.post(f"/sessions/{sid}/step", json=body) if field != "body" else client.post(
        f"/sessions/{sid}/step", content='{"values": [NaN, 1.0]', headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field, r.json()


def test_generation_errors(client):
    sid = _open(client, model="lm")
    r = client.post(f"/sessions/{sid}/generate", json={"length": 5})
    assert r.status_code == 400 and r.json()["field"] == "session"  # nothing fed yet
    client.post(f"/sessions/{sid}/step", json={"text": "t"})
    for body, field in (({"length": 0}, "length"), ({"length": 5, "temperature": -1}, "temperature"),
                        ({"length": 5, "top_p": 2}, "top_p")):
        r = client.post(f"/sessions/{sid}/generate", json=body)
        assert r.status_code == 400 and r.json()["field"] == field
    sid = _open(client, model="sensor")
    assert client.post(f"/sessions/{sid}/generate", json={"length": 5}).status_code == 400


def test_limits_auth_and_expiry(checkpoints, tmp_path):
    settings = ServeSettings(max_sessions=2, max_request_bytes=200, token="s3cret", idle_timeout=0.2)
    app = build([f"sensor={checkpoints['sensor']}"], tmp_path / "s.sqlite", settings)
    with TestClient(app) as c:
        assert c.get("/health").status_code == 200  # liveness needs no token
        r = c.post("/sessions", json={"model": "sensor"})
        assert r.status_code == 401 and r.json()["field"] == "authorization"
        auth = {"Authorization": "Bearer s3cret"}
        ids = [c.post("/sessions", json={"model": "sensor"}, headers=auth).json()["id"] for _ in range(2)]
        r = c.post("/sessions", json={"model": "sensor"}, headers=auth)
        assert r.status_code == 429
        r = c.post(f"/sessions/{ids[0]}/step", json={"values": [[0.0, 0.0]] * 30}, headers=auth)
        assert r.status_code == 413 and r.json()["field"] == "body"
        time.sleep(0.8)  # idle sessions expire
        r = c.post(f"/sessions/{ids[0]}/step", json={"values": [0.0, 0.0]}, headers=auth)
        assert r.status_code == 404


def test_batched_steps_equal_one_at_a_time(checkpoints, tmp_path):
    async def run(batching: bool) -> list:
        models = load_models([f"lm={checkpoints['lm']}", f"sensor={checkpoints['sensor']}"])
        server = Server(models, SessionStore(tmp_path / f"b{batching}.sqlite"),
                        ServeSettings(batching=batching, max_wait_ms=20))
        sizes: list[int] = []
        server.batcher.on_batch = sizes.append
        await server.start()
        lm_ids = [(await server.create("lm", {"seed": i})).id for i in range(6)]
        sensor_ids = [(await server.create("sensor", {})).id for _ in range(6)]
        rng = np.random.default_rng(0)
        outs = []
        for t in range(5):
            steps = [server.step(s, {"text": "tac"[t % 3]}) for s in lm_ids]
            steps += [server.step(s, {"values": rng.normal(size=2).tolist()}) for s in sensor_ids]
            outs.append(await asyncio.gather(*steps))
        texts = []
        for s in lm_ids:
            texts.append("".join([t["token"] async for t in server.generate(s, 8)]))
        await server.close()
        return [outs, texts, max(sizes)]

    batched = asyncio.run(run(True))
    alone = asyncio.run(run(False))
    assert batched[2] > 1 and alone[2] == 1  # steps were really batched, and really not
    for a, b in zip(batched[0], alone[0]):
        for x, y in zip(a, b):
            if "next" in x:
                assert [t["id"] for t in x["next"]] == [t["id"] for t in y["next"]]
                np.testing.assert_allclose([t["p"] for t in x["next"]], [t["p"] for t in y["next"]], atol=1e-6)
            else:
                np.testing.assert_allclose(list(x["probabilities"].values()), list(y["probabilities"].values()),
                                           atol=1e-6)
    assert batched[1] == alone[1]


def test_a_retried_step_is_taken_once(client):
    sid = _open(client, model="sensor")
    first = client.post(f"/sessions/{sid}/step", json={"values": [0.5, 0.5], "after": 0}).json()
    again = client.post(f"/sessions/{sid}/step", json={"values": [0.5, 0.5], "after": 0}).json()
    assert again == first and client.get(f"/sessions/{sid}").json()["steps"] == 1  # the retry changed nothing
    r = client.post(f"/sessions/{sid}/step", json={"values": [0.5, 0.5], "after": 5})
    assert r.status_code == 409 and r.json()["field"] == "after"
    r = client.post(f"/sessions/{sid}/step", json={"values": [0.5, 0.5], "after": "x"})
    assert r.status_code == 400 and r.json()["field"] == "after"
    assert client.post(f"/sessions/{sid}/step", json={"values": [0.5, 0.5], "after": 1}).json()["steps"] == 2


def test_steps_of_many_sessions_in_one_request(client):
    a, b = _open(client, model="sensor"), _open(client, model="lm")
    r = client.post("/steps", json={"steps": [{"id": a, "values": [0.1, 0.2]}, {"id": b, "text": "t"},
                                              {"id": "nope", "text": "t"}, {"id": a, "values": [1.0]}]}).json()
    first, second, missing, bad = r["results"]
    assert first["steps"] == 1 and "probabilities" in first and second["steps"] == 1 and "next" in second
    assert missing["status"] == 404 and bad["status"] == 400 and bad["field"] == "values"
    alone = _open(client, model="sensor")
    assert client.post(f"/sessions/{alone}/step", json={"values": [0.1, 0.2]}).json()["probabilities"] == \
        first["probabilities"]
    assert client.post("/steps", json={"steps": []}).json()["field"] == "steps"


def test_a_shared_database_url_and_the_race_between_two_processes(checkpoints, tmp_path):
    """The SQLAlchemy store (SQLite URL here; PostgreSQL in production): sessions persist, and
    a step computed from a stale state is refused instead of overwriting a newer one."""
    pytest.importorskip("sqlalchemy")
    from rnnkit.serving.store import SqlSessionStore, open_store

    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    assert isinstance(open_store(url), SqlSessionStore)
    app = build([f"sensor={checkpoints['sensor']}"], url, ServeSettings())
    with TestClient(app) as c:
        sid = _open(c, model="sensor")
        c.post(f"/sessions/{sid}/step", json={"values": [0.1, 0.2]})
    with TestClient(build([f"sensor={checkpoints['sensor']}"], url, ServeSettings())) as c:
        assert c.post(f"/sessions/{sid}/step", json={"values": [0.1, 0.2]}).json()["steps"] == 2
    store = SqlSessionStore(url)
    record = store.get(sid)
    stale = store.get(sid)
    record.steps += 1
    assert store.put([record], {sid: 2}) == set()
    stale.steps += 1
    assert store.put([stale], {sid: 2}) == {sid}  # the other process got there first
    assert store.get(sid).steps == 3 and store.count() == 1 and store.idle(3600) == []
    assert store.delete([sid]) == 1


def test_recognizer_sessions_stream_frames_and_predict(client, checkpoints):
    import rnnkit
    from helpers import ctc_utterances

    rec = rnnkit.tasks.load(checkpoints["rec"])
    X, _ = ctc_utterances(4, seed=1, letters="ab", features=4, lengths=(1, 4))  # as the model's training data
    want = rec.transcribe(X)
    sid = _open(client, model="rec")
    for x, expected in zip(X, want):  # utterance after utterance in one session
        pieces = []
        for start in range(0, len(x), 3):  # chunks of 3 frames: a stack of 2 waits for its second
            body = {"frames": x[start:start + 3].tolist(), "finish": start + 3 >= len(x)}
            out = client.post(f"/sessions/{sid}/step", json=body).json()
            pieces.append(out["text"])
            assert out["transcript"] == "".join(pieces)
        assert out["finished"] and "".join(pieces) == expected
    taken = sum(len(x) for x in X)
    assert client.get(f"/sessions/{sid}").json()["steps"] == taken
    out = client.post(f"/sessions/{sid}/step", json={"frames": X[0].tolist(), "after": taken}).json()
    taken += len(X[0])
    assert not out["finished"]
    finish = client.post(f"/sessions/{sid}/step", json={"finish": True, "after": taken}).json()
    assert finish["transcript"] == want[0] and finish["steps"] == taken + 1  # a bare finish counts one step
    again = client.post(f"/sessions/{sid}/step", json={"finish": True, "after": taken}).json()
    assert again == finish  # a retried finish gets the stored answer, not a second, empty one
    for model in ("rec", "rec_bi"):  # a bidirectional recogniser predicts, without sessions
        got = client.post(f"/models/{model}/predict", json={"utterances": [x.tolist() for x in X]}).json()
        assert got["transcripts"] == rnnkit.tasks.load(checkpoints[model]).transcribe(X)
    info = client.get("/models/rec").json()
    assert info["family"] == "recognize" and info["alphabet"] == ["a", "b"] and info["sessions"]
    assert not client.get("/models/rec_bi").json()["sessions"]


@pytest.mark.parametrize("path,body,field", [
    ("/sessions", {"model": "rec_bi"}, "model"),
    ("/models/rec/predict", {"utterances": "x"}, "utterances"),
    ("/models/rec/predict", {"utterances": [[[1.0, 2.0]]]}, "utterances[0]"),
    ("/models/rec/predict", {"files": [{"name": "a.wav", "base64": ""}]}, "files"),  # trained on frames
])
def test_bad_recognizer_requests_name_the_field(client, path, body, field):
    r = client.post(path, json=body)
    assert r.status_code in (400, 404, 422) and r.json()["field"] == field, r.text


@pytest.mark.parametrize("body,field", [
    ({"frames": [[1.0, 2.0]]}, "frames"),  # the model reads 4 features
    ({"frames": [[0.0] * 4], "finish": "yes"}, "finish"),
    ({}, "frames"),
    ({"frames": [[0.0] * 4] * 51}, "frames"),  # more than max_steps
])
def test_bad_recognizer_steps_name_the_field(client, body, field):
    sid = _open(client, model="rec")
    r = client.post(f"/sessions/{sid}/step", json=body)
    assert r.status_code == 400 and r.json()["field"] == field, r.text


def test_text_classifier_takes_texts_or_words(client, checkpoints):
    import rnnkit

    clf = rnnkit.tasks.load(checkpoints["txt"])
    texts = ["a good film", "a dull movie"]
    want = [dict(zip(map(str, clf.classes_), p)) for p in clf.predict_proba(texts)]
    for sequences in (texts, [t.split() for t in texts]):  # whole texts, or their words
        got = client.post("/models/txt/predict", json={"sequences": sequences}).json()["probabilities"]
        assert [g == pytest.approx(w, abs=1e-6) for g, w in zip(got, want)] == [True, True]
    for body in ({"text": texts[0]}, {"tokens": texts[0].split()}):  # a session splits a text as the model does
        out = client.post(f"/sessions/{_open(client, model='txt')}/step", json=body).json()
        assert out["probabilities"] == pytest.approx(want[0], abs=1e-5) and out["steps"] == 3
