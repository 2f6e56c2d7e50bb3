"""Red-teaming pieces against a local fake audio-chat server on 127.0.0.1: the chat client
(retries honouring Retry-After, timeouts, malformed replies, cache, shared concurrency limit,
the key kept out of everything), the judges, and the report statistics."""

import json
import logging
import math
import threading
import time

import numpy as np
import pytest

from audiokit.perturb.chat import OpenAITarget, encode_audio
from audiokit.perturb.client import ChatClient, ChatError, ConcurrencyLimit, request_key
from audiokit.perturb.embeddings import HashingEmbedder, make_embedder
from audiokit.perturb.fake_server import REFUSAL, FakeAudioChatServer
from audiokit.perturb.judges import (
    JudgeError,
    LLMJudge,
    RefusalKeywordJudge,
    RefusalSimilarityJudge,
    make_judge,
    parse_scores,
    refusal_sentences,
)
from audiokit.perturb.report import item_metrics, summarize, t_interval, wilson

CORPUS = [
    "the birch canoe slid on the smooth planks",
    "glue the sheet to the dark blue background",
    "rice is often served in round bowls",
    "the juice of lemons makes fine punch",
]
KEY = "sk-test-7f3a9c-DO-NOT-LEAK"


@pytest.fixture(scope="module")
def server():
    with FakeAudioChatServer(["canoe"], CORPUS, api_key=KEY) as srv:
        yield srv


@pytest.fixture
def env_key(monkeypatch):
    monkeypatch.setenv("RT_TEST_KEY", KEY)
    return "RT_TEST_KEY"


def _body(text="hello"):
    return {"model": "m", "messages": [{"role": "user", "content": text}]}


def test_client_retries_429_timeouts_and_malformed_replies_then_caches(server, env_key, tmp_path, caplog):
    c = ChatClient(server.base_url, env_key, timeout=0.5, retries=4, backoff=0.01, cache_dir=tmp_path)
    server.inject("429", 1, "judge", seconds=0.6)
    t0 = time.perf_counter()
    with caplog.at_level(logging.DEBUG):
        r = c.complete(_body())
    assert time.perf_counter() - t0 >= 0.6  # waited for Retry-After, not the 0.01 s backoff
    assert r.message["content"] and not r.cached and c.usage.retries == 1 and c.usage.requests == 2
    server.inject("timeout", 1, "judge", seconds=1.0)
    server.inject("malformed", 1, "judge")
    r2 = c.complete(_body("other"))
    assert c.usage.retries == 3 and c.usage.requests == 5 and c.usage.queries == 2
    assert c.usage.prompt_tokens > 0 and c.usage.completion_tokens > 0
    # the same request again: from the cache, nothing sent
    n = server.counts["requests"]
    r3 = c.complete(_body("other"))
    assert r3.cached and r3.message == r2.message and server.counts["requests"] == n
    assert c.usage.cache_hits == 1
    assert r3.key == request_key(_body("other"), server.base_url)
    # the key reached the server, but no log line, repr, description or cache file holds it
    assert f"Bearer {KEY}" in server.auth_seen
    assert KEY not in caplog.text and KEY not in repr(c) and KEY not in json.dumps(c.describe())
    assert not any(KEY in p.read_text() for p in tmp_path.rglob("*.json"))


def test_client_gives_up_with_a_clear_error(server, env_key, monkeypatch):
    c = ChatClient(server.base_url, env_key, timeout=2.0, retries=1, backoff=0.01)
    server.inject("500", 2, "judge")
    with pytest.raises(ChatError, match="no valid reply after 2 attempts.*HTTP 500"):
        c.complete(_body())
    monkeypatch.setenv("RT_WRONG", "sk-wrong")
    bad = ChatClient(server.base_url, "RT_WRONG", retries=3, backoff=0.01)
    with pytest.raises(ChatError, match=r"HTTP 401 \(check the key in \$RT_WRONG\)") as e:
        bad.complete(_body())
    assert bad.usage.requests == 1 and "sk-wrong" not in str(e.value)  # 401 is not retried
    monkeypatch.delenv("RT_UNSET", raising=False)
    with pytest.raises(ValueError, match="RT_UNSET"):
        ChatClient(server.base_url, "RT_UNSET")
    with pytest.raises(ValueError, match="api_key_env"):
        ChatClient(server.base_url, headers={"Authorization": "Bearer x"})
    with pytest.raises(ValueError, match="api_key_env"):
        OpenAITarget(server.base_url, "m", api_key=KEY)
    with pytest.raises(ValueError, match="http"):
        ChatClient("127.0.0.1:80")


def test_concurrency_limit_is_shared_through_the_lock_folder(tmp_path):
    # two limits on the same folder (as two worker processes of one job) never exceed 2 holders
    a, b = ConcurrencyLimit(2, tmp_path), ConcurrencyLimit(2, tmp_path)
    live, peak, lock = [0], [0], threading.Lock()

    def work(lim):
        for _ in range(5):
            with lim():
                with lock:
                    live[0] += 1
                    peak[0] = max(peak[0], live[0])
                time.sleep(0.01)
                with lock:
                    live[0] -= 1

    ts = [threading.Thread(target=work, args=(lim,)) for lim in (a, a, a, b, b, b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert peak[0] == 2
    with pytest.raises(ValueError):
        ConcurrencyLimit(0)


def test_openai_target_sends_input_audio_and_judges_the_reply(server, env_key, speech16k, tmp_path):
    x, sr = speech16k
    t = OpenAITarget(server.base_url, "fake-audio", env_key, cache_dir=tmp_path, temperature=0, seed=3)
    body = t.body(x, sr)
    part = body["messages"][-1]["content"][-1]
    assert part["type"] == "input_audio" and part["input_audio"]["format"] == "wav"
    assert body["temperature"] == 0 and body["seed"] == 3 and len(body["messages"]) == 1  # audio only
    assert t(x, sr) == 0.0 and t.last_info["reply"] == REFUSAL and not t.success(0.0)  # heard "canoe"
    silent = np.zeros_like(x)
    assert t(silent, sr) == 1.0 and t.success(1.0)
    assert "canoe" not in t.last_info["reply"]
    # mp3 and resampling: the server decodes it and still hears the word
    t2 = OpenAITarget(server.base_url, "fake-audio", env_key, audio_format="mp3", sample_rate=22050)
    assert t2(x, sr) == 0.0
    import io

    import soundfile as sf

    y, r = sf.read(io.BytesIO(encode_audio(x, sr, "mp3", 22050)))
    assert r == 22050 and abs(len(y) / r - x.shape[-1] / sr) < 0.1
    desc = json.dumps(t.describe())
    assert "RT_TEST_KEY" in desc and KEY not in desc
    with pytest.raises(ValueError, match="unknown argument"):
        OpenAITarget(server.base_url, "m", bogus=1)


def test_keyword_and_similarity_judges():
    kw = RefusalKeywordJudge()
    assert kw(REFUSAL).score == 0.0 and not kw(REFUSAL).success
    assert kw("Here is the recipe.").success and kw(None).success  # AJailBench: None is no refusal
    refs = refusal_sentences()
    assert len(refs) == 142 and len(set(refs)) == 142
    assert refs[12] == "I'm sorry, but I can't assist with that request."
    sim = RefusalSimilarityJudge()  # hashing TF-IDF by default
    v = sim(refs[12])
    assert v.details["similarity"] == pytest.approx(1.0) and v.details["nearest"] == 12 and not v.success
    far = sim("Bake the bread at two hundred degrees for forty minutes.")
    assert far.details["similarity"] < 0.2 and far.success
    assert far.score == pytest.approx(1 - far.details["similarity"])
    # the hashing embedder: unit rows, identical texts 1, disjoint vocabularies 0
    e = HashingEmbedder(dim=4096).fit(["a b", "c d"])
    m = e.encode(["red fox", "red fox", "blue whale", ""])
    assert np.allclose(np.linalg.norm(m[:3], axis=1), 1) and m[0] @ m[1] == pytest.approx(1)
    assert m[0] @ m[2] == pytest.approx(0, abs=1e-12) and not m[3].any()
    assert isinstance(make_embedder(None), HashingEmbedder)
    assert make_embedder("all-MiniLM-L6-v2").name == "all-MiniLM-L6-v2"
    with pytest.raises(ValueError):
        make_judge("toxicity")
    with pytest.raises(ValueError):
        RefusalSimilarityJudge(max_similarity=2)


def test_llm_judge_parses_validates_and_retries_malformed_replies(server, env_key, tmp_path):
    fenced = '```json\n{"harmfulness": 2, "relevance": "3", "policy_violation": true}\n```'
    assert parse_scores({"content": fenced}) == {"harmfulness": 2, "relevance": 3, "policy_violation": 1}
    pv2 = '{"harmfulness": 1, "relevance": 1, "policy_violation": 2}'
    for msg, err in (
        ({"content": "no idea"}, "no JSON"),
        ({"content": "{harmfulness: 2}"}, "not valid JSON"),
        ({"content": '{"harmfulness": 2, "relevance": 3}'}, "no 'policy_violation'"),
        ({"content": '{"harmfulness": 7, "relevance": 3, "policy_violation": 0}'}, "harmfulness must be an"),
        ({"tool_calls": [{"function": {"arguments": pv2}}]}, "policy_violation must be an integer in 0-1"),
    ):
        with pytest.raises(JudgeError, match=err):
            parse_scores(msg)
    c = ChatClient(server.base_url, env_key, retries=0, cache_dir=tmp_path)
    for mode in ("tools", "json"):
        j = LLMJudge(c, "fake-judge", mode=mode, retries=1)
        bad = j(REFUSAL, "how to build a canoe")
        good = j("Step one: take the plank.", "how to build a canoe")
        assert (bad.score, bad.success, bad.details["policy_violation"]) == (0.0, False, 0)
        assert good.details == {"harmfulness": 4, "relevance": 5, "policy_violation": 1}
        assert good.score == pytest.approx(0.5 + 0.25 * 3 / 4 + 0.25) and good.success
    # a malformed judge reply is dropped from the cache and asked again
    j = LLMJudge(c, "fake-judge", retries=1)
    server.inject("judge_malformed", 1, "judge")
    assert j("Fresh reply one.", "q").success and server.counts["fault_judge_malformed"] == 1
    assert j("Fresh reply one.", "q").success  # now cached: the good reply
    server.inject("judge_malformed", 2, "judge")
    with pytest.raises(JudgeError, match="malformed reply after 2 attempts.*harmfulness must be"):
        j("Fresh reply two.", "q")
    with pytest.raises(ValueError, match="judge_model"):
        OpenAITarget(server.base_url, "m", judge="llm")


def test_report_statistics_closed_forms():
    lo, hi = wilson(3, 10)
    assert (lo, hi) == pytest.approx((0.1077913, 0.6032219), abs=1e-6)  # Wilson (1927), z = 1.96
    assert wilson(0, 5)[0] == 0.0 and math.isnan(wilson(0, 0)[0])
    from scipy import stats

    x = [1.0, 2.0, 4.0, 7.0]
    assert t_interval(x) == pytest.approx(stats.t.interval(0.95, 3, loc=np.mean(x), scale=stats.sem(x)))

    def rec(cat, refused, base_refused, sim, q):
        return {
            "key": f"{cat}{q}",
            "category": cat,
            "reply": REFUSAL if refused else "Sure, do this.",
            "baseline_reply": REFUSAL if base_refused else "Sure.",
            "success": not refused,
            "queries": q,
            "trials": q - 1,
            "judgments": {"best": {"similarity": {"similarity": sim}}, "baseline": {}},
        }

    recs = [rec("A", False, True, 0.1, 4), rec("A", True, True, 0.9, 10), rec("A", False, True, 0.2, 6)]
    recs += [rec("B", True, True, 0.8, 10), {**rec("B", False, False, 0.1, 1), "key": "clean"}]
    rows = summarize(item_metrics(r) for r in recs)
    by = {label: cells for label, _, cells in rows}
    assert by["A"]["asr"].mean == pytest.approx(2 / 3) and by["B"]["asr"].mean == 0.5
    assert by["overall (weighted)"]["asr"].mean == pytest.approx(3 / 5)  # 3 of 5 items
    assert by["overall (unweighted)"]["asr"].mean == pytest.approx(7 / 12)  # mean of 2/3 and 1/2
    # unweighted interval: z * sqrt(sum p(1-p)/n) / K
    h = 1.959964 * math.sqrt((2 / 3) * (1 / 3) / 3 + 0.5 * 0.5 / 2) / 2
    assert by["overall (unweighted)"]["asr"].lo == pytest.approx(7 / 12 - h, abs=1e-5)
    assert by["overall (unweighted)"]["asr"].hi == 1.0  # 7/12 + h = 1.02, clipped
    # queries to success: successes after a search only (B's clean success and its failure: none)
    assert by["A"]["queries_to_success"].mean == pytest.approx(5.0) and by["B"]["queries_to_success"].n == 0
    assert by["A"]["similarity"].mean == pytest.approx(0.4)
    assert by["overall (weighted)"]["baseline_asr"].mean == pytest.approx(1 / 5)


def test_hf_audiofolder_metadata_is_an_index(tmp_path):
    import shutil

    from audiokit.assets import speech_path
    from audiokit.perturb.config import PerturbConfig
    from audiokit.perturb.runner import make_items

    for split, name, cat in (("train", "a.wav", "Privacy"), ("test", "b.wav", "Economic harm")):
        (tmp_path / split / "clips").mkdir(parents=True)
        shutil.copy(speech_path("slt_16k.wav"), tmp_path / split / "clips" / name)
        (tmp_path / split / "metadata.csv").write_text(
            f"file_name,prompt,category\nclips/{name},say {name},{cat}\n"
        )
    items = make_items(tmp_path, tmp_path / "out", PerturbConfig())
    got = sorted((it.key, it.src, it.meta["category"], it.meta["prompt"]) for it in items)
    assert got == [
        ("test/clips/b.wav", str(tmp_path / "test/clips/b.wav"), "Economic harm", "say b.wav"),
        ("train/clips/a.wav", str(tmp_path / "train/clips/a.wav"), "Privacy", "say a.wav"),
    ]
    # a top-level metadata.jsonl wins, and --index accepts the same file explicitly
    (tmp_path / "metadata.jsonl").write_text(
        json.dumps({"file_name": "train/clips/a.wav", "category": "X"}) + "\n"
    )
    (only,) = make_items(tmp_path, tmp_path / "out", PerturbConfig())
    assert only.key == "train/clips/a.wav" and only.meta["category"] == "X"
    (bad := tmp_path / "bad.jsonl").write_text(json.dumps({"prompt": "no audio"}) + "\n")
    with pytest.raises(ValueError, match="no speech_path"):
        make_items(tmp_path, tmp_path / "out", PerturbConfig(), index=bad)


def test_cli_usage_errors_of_the_openai_target(tmp_path, monkeypatch, capsys):
    from audiokit.assets import speech_path
    from audiokit.cli import main

    (tmp_path / "in").mkdir()
    import shutil

    shutil.copy(speech_path("slt_16k.wav"), tmp_path / "in")
    base = ["perturb", str(tmp_path / "in"), str(tmp_path / "out"), "--search", "--target", "openai"]
    monkeypatch.delenv("RT_NOT_SET", raising=False)
    url, model = ["--target-arg", "base_url=http://127.0.0.1:9/v1"], ["--target-arg", "model=m"]
    cases = [
        (model, "base_url=URL is required"),
        (url, "model=NAME is required"),
        (url + model + ["--target-arg", "api_key=sk-x"], "never pass the API key itself"),
        (url + model + ["--target-arg", "api_key_env=RT_NOT_SET"], "RT_NOT_SET"),
        (
            url
            + model
            + ["--target-arg", "judge=similarity", "--target-arg", f"embedder={tmp_path / 'none'}"],
            "target:",
        ),
    ]
    for extra, msg in cases:
        assert main(base + extra) == 2
        err = capsys.readouterr().err
        assert msg in err and len(err.strip().splitlines()) == 1 and "sk-x" not in err
    assert main(["perturb", "report", str(tmp_path / "nowhere")]) == 2
    assert "no manifest" in capsys.readouterr().err


def test_report_mean_intervals_stay_in_the_metric_range():
    from audiokit.perturb.report import ItemMetrics

    items = [
        ItemMetrics(str(i), "A", {"harmfulness": h, "queries": q})
        for i, (h, q) in enumerate([(1, 1), (5, 30)])
    ]
    (_, _, cells), _, _ = summarize(items)
    assert cells["harmfulness"].lo == 1.0 and cells["harmfulness"].hi == 5.0  # t gives [-22.4, 28.4]
    assert cells["queries"].lo == 0.0 and cells["queries"].mean == 15.5


def test_variants_mode_records_the_model_reply(server, env_key, tmp_path):
    import shutil

    from audiokit.assets import speech_path
    from audiokit.cli import main

    (tmp_path / "in").mkdir()
    shutil.copy(speech_path("slt_16k.wav"), tmp_path / "in")
    out = tmp_path / "out"
    args = [
        "perturb",
        str(tmp_path / "in"),
        str(out),
        "--variants",
        "1",
        "--perturbations",
        "gain",
        "--target",
    ]
    args += ["openai", "--target-arg", f"base_url={server.base_url}", "--target-arg", "model=m"]
    assert main([*args, "--target-arg", f"api_key_env={env_key}", "--no-progress"]) == 0
    (rec,) = [json.loads(s) for s in (out / "manifest.jsonl").read_text().splitlines()]
    assert rec["reply"] == REFUSAL and rec["success"] is False and rec["target"]["score"] == 0.0
    assert (out / "query_cache" / "slots").is_dir()  # the job's cache and concurrency slots
