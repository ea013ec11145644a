"""Server profiles against the scripted server: what each form sends, how auto decides, refused
fields, the server's own reason in errors, and reasoning-only replies."""

from __future__ import annotations

import asyncio

import pytest

from cosmos_bench.judge import JudgeConfig, judge_version, judge_videos_sync, load_rubric, resolve_endpoint
from cosmos_bench.judge.fake_server import FakeJudgeServer, FakeRequest, Raw, Reply, Status
from cosmos_bench.judge.server import RequestForm
from tests.judge.conftest import fast_config

VLLM_ONLY = {"top_k", "repetition_penalty", "media_io_kwargs"}


def _fields(req: FakeRequest) -> set[str]:
    return set(req.body) - {"messages"}


@pytest.mark.parametrize(
    "profile, sent, absent",
    [
        ("vllm", {"top_k", "repetition_penalty", "presence_penalty", "media_io_kwargs", "max_completion_tokens"},
         {"max_tokens", "mm_processor_kwargs"}),
        ("generic", {"model", "temperature", "top_p", "seed", "max_tokens"},
         VLLM_ONLY | {"presence_penalty", "max_completion_tokens"}),
    ],
)
def test_each_profile_sends_its_own_form(server, make_videos, profile, sent, absent):
    [v] = make_videos("a")
    [res] = judge_videos_sync([v], "video_physics", fast_config(server, server=profile))
    assert res.status == "ok"
    fields = _fields(server.requests[0])
    assert sent <= fields and not (absent & fields)
    assert res.judge["request"]["server"] == profile


def test_openai_profile_sends_only_openai_fields_and_takes_frames_only(server, real_mp4):
    [res] = judge_videos_sync([real_mp4], "video_physics", fast_config(server, server="openai", video_mode="frames"))
    assert res.status == "ok"
    assert _fields(server.requests[0]) == {"model", "temperature", "top_p", "seed", "max_completion_tokens"}
    with pytest.raises(ValueError, match="takes no video input"):
        JudgeConfig(server="openai", video_mode="video")


def test_auto_picks_vllm_when_the_server_says_so_and_takes_its_context_length(script, make_videos):
    [v] = make_videos("a")
    with FakeJudgeServer(script, owned_by="vllm", max_model_len=8192, lifetime_s=60) as srv:
        cfg, found = asyncio.run(resolve_endpoint(fast_config(srv, server="auto")))
        assert (cfg.server, cfg.context_length, found.server) == ("vllm", 8192, "vllm")
        [res] = judge_videos_sync([v], "video_physics", fast_config(srv, server="auto"))
        [trusted] = judge_videos_sync([v], "video_physics", fast_config(srv, server="auto", request_mm_kwargs=True))
        body, trusted_body = srv.requests[0].body, srv.requests[1].body
    assert VLLM_ONLY <= set(body) and "mm_processor_kwargs" not in body  # vLLM 0.32 refuses it by default
    # a server started with --trust-request-mm-kwargs gets the pixel budget, sized by the server's context:
    # 90 % of (8192 - 4096) tokens of 32x32 pixels; never do_sample_frames, never an fps there (no effect)
    assert trusted_body["mm_processor_kwargs"] == {"size": {"shortest_edge": 128 * 1024,
                                                            "longest_edge": int((8192 - 4096) * 1024 * 0.9)}}
    assert res.judge_version == judge_version(load_rubric("video_physics"), cfg)
    assert trusted.judge_version != res.judge_version


def test_auto_recognises_vllm_by_its_version_endpoint_and_falls_back_to_generic(script, make_videos):
    with FakeJudgeServer(script, owned_by="someone", version="0.11.0", lifetime_s=60) as srv:
        cfg, found = asyncio.run(resolve_endpoint(fast_config(srv, server="auto")))
        assert cfg.server == "vllm" and "/version" in found.why
    with FakeJudgeServer(script, owned_by="local", lifetime_s=60) as srv:
        [v] = make_videos("b")
        [res] = judge_videos_sync([v], "video_physics", fast_config(srv, server="auto"))
        assert res.status == "ok" and not (VLLM_ONLY & set(srv.requests[0].body))
        assert res.judge["request"]["server"] == "generic"


def _refuse(names: set[str], code: int = 422):
    """Like transformers serve: refuse requests carrying any of ``names``."""

    def script(req: FakeRequest):
        unexpected = names & set(req.body)
        if unexpected:
            return Raw(f'{{"detail": "Unexpected fields in the request: {unexpected}"}}'.encode(), code, "application/json")
        return Reply("<think>fine</think>\nScore: 4")

    return script


def test_refused_fields_are_dropped_once_and_recorded_in_the_judge_version(make_videos, caplog):
    videos = make_videos("a", "b", "c")
    rubric = load_rubric("video_physics")
    with FakeJudgeServer(_refuse({"top_k", "media_io_kwargs"}), lifetime_s=60) as srv:
        cfg = fast_config(srv, server="vllm", concurrency=1)
        res = judge_videos_sync(videos, rubric, cfg)
        assert [r.status for r in res] == ["ok"] * 3 and [r.score for r in res] == [4.0] * 3
        # one refusal, then every call goes without the named fields (and keeps the rest of the form)
        assert srv.calls == 4 and sum(r.calls for r in res) == 4
        later = srv.requests[-1].body
        assert not ({"top_k", "media_io_kwargs"} & set(later)) and later["repetition_penalty"] == 1.0
    form = RequestForm("vllm", ("media_io_kwargs", "top_k"))
    assert {r.judge_version for r in res} == {judge_version(rubric, cfg, form)}
    assert judge_version(rubric, cfg, form) != judge_version(rubric, cfg)  # different forms never mix
    assert res[0].judge["request"]["dropped"] == ["media_io_kwargs", "top_k"]
    assert "refused media_io_kwargs, top_k" in caplog.text and "--server generic" in caplog.text


def test_a_second_refusal_is_an_error_with_the_servers_reason(make_videos):
    [v] = make_videos("a")

    def script(req: FakeRequest):
        return Raw(b'{"detail": "Unexpected fields in the request: {\'seed\'}"}', 422, "application/json") \
            if "seed" in req.body else Reply("Score: 4")

    with FakeJudgeServer(script, lifetime_s=60) as srv:
        # seed is refused, dropped and asked again: fine. A server that refuses everything is not.
        [ok] = judge_videos_sync([v], "video_physics", fast_config(srv, server="generic"))
        assert ok.status == "ok" and ok.samples[0].attempts == 2
    with FakeJudgeServer(_refuse({"model", "top_p", "seed", "temperature"}), lifetime_s=60) as srv:
        [res] = judge_videos_sync([v], "video_physics", fast_config(srv, server="generic"))
    assert res.status == "error" and res.samples[0].attempts == 2
    assert "HTTP 422: Unexpected fields in the request" in res.reason


@pytest.mark.parametrize(
    "action, reason",
    [
        (Raw(b'{"detail": "Server is pinned to \'x\'; requested \'y\'."}', 400, "application/json"),
         "HTTP 400: Server is pinned to 'x'; requested 'y'."),
        (Status(403, "this key may not use vision models"), "HTTP 403: this key may not use vision models"),
        (Raw(b'{"detail": [{"loc": ["body", "messages"], "msg": "field required"}]}', 422, "application/json"),
         "HTTP 422: messages: field required"),
        (Raw(b"<html>gateway says no</html>", 404, "text/html"), "HTTP 404: <html>gateway says no</html>"),
        # long reasons keep ~2,000 characters: the start and the end (where a processor error names the value)
        (Raw(b"a" * 3000 + b"z" * 2000, 400, "text/plain"), "HTTP 400: " + "a" * 1330 + " ... " + "z" * 665),
        (Raw(b"Internal Server Error", 500, "text/plain"), "HTTP 500: Internal Server Error"),
    ],
)
def test_errors_carry_the_servers_own_reason(script, server, make_videos, action, reason):
    [v] = make_videos("a")
    script.default = action
    [res] = judge_videos_sync([v], "video_physics", fast_config(server, retries=0))
    assert res.status == "error" and res.score is None
    assert res.samples[0].reason.startswith(reason)


@pytest.mark.parametrize(
    "reasoning, finish, score",
    [
        ("The arm lifts the cup; nothing passes through the table. The motion is smooth. Final score: 4", "stop", 4),
        ("Rigid throughout.\nSo the score is 5.", "stop", 5),
        # a number in the middle of the reasoning is never the answer
        ("Score 2 seems harsh; the motion is smooth and the cup stays rigid", "stop", None),
        ("A 4 maybe. Final score: 4 would fit, but the hand", "stop", None),
        # cut at the token limit: not an answer, even if it looks like one
        ("The motion is smooth. Final score: 4", "length", None),
    ],
)
def test_reasoning_only_replies_count_only_an_explicit_final_answer(script, server, make_videos, reasoning, finish, score):
    [v] = make_videos("a")
    script.default = Reply(None, reasoning=reasoning, finish_reason=finish)
    [res] = judge_videos_sync([v], "video_physics", fast_config(server, reasks=0))
    assert res.samples[0].score == score
    assert (res.status == "ok") == (score is not None)


def test_auto_with_the_server_down_asks_in_the_generic_form_and_records_errors(make_videos, caplog):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    [v] = make_videos("a")
    [res] = judge_videos_sync([v], "video_physics", fast_config(None, base_url=f"http://127.0.0.1:{port}/v1",
                                                                server="auto", retries=0))
    assert res.status == "error" and "connection error" in res.reason and res.score is None
    assert res.judge["request"]["server"] == "generic" and "cannot reach the judge" in caplog.text


def _refuse_video(req: FakeRequest):
    """Like OpenAI's API: a video_url part is refused with HTTP 400 naming it; images are fine."""
    if any(p.get("type") == "video_url" for p in req.user_parts):
        return Raw(b'{"error": {"message": "Invalid value: \'video_url\'. Supported values are: \'text\' and \'image_url\'."}}',
                   400, "application/json")
    return Reply("<think>fine</think>\nScore: 4")


def test_a_server_refusing_the_video_gets_frames_automatically_recorded_in_the_judge_version(real_mp4, tmp_path, caplog):
    from cosmos_bench.data.video import write_video

    import numpy as np

    other = write_video(tmp_path / "other.mp4", np.full((8, 48, 64, 3), 90, np.uint8), fps=8)
    rubric = load_rubric("video_physics")
    with FakeJudgeServer(_refuse_video, lifetime_s=60) as srv:
        cfg = fast_config(srv, server="vllm", video_mode="auto", concurrency=1, num_frames=3)
        res = judge_videos_sync([real_mp4, other], rubric, cfg)
        kinds = [{p["type"] for p in r.user_parts} - {"text"} for r in srv.requests]
        explicit_frames = judge_version(rubric, fast_config(srv, server="vllm", video_mode="frames", num_frames=3))
    assert [r.status for r in res] == ["ok", "ok"] and [r.score for r in res] == [4.0, 4.0]
    # one refusal, then frames for the rest of the run (the second video is never sent as a video)
    assert kinds == [{"video_url"}, {"image_url"}, {"image_url"}]
    assert "HTTP 400: Invalid value: 'video_url'" in res[0].samples[0].errors[0]
    assert res[0].judge["encoding"]["mode"] == "frames" and res[0].judge["request"]["video_refused"] is True
    assert "media_io_kwargs" not in srv.requests[-1].body  # a frame rate means nothing for images
    assert {r.judge_version for r in res} == {res[0].judge_version} and res[0].judge_version != explicit_frames
    assert "refused the video" in caplog.text and "--frames-mode" in caplog.text


def test_an_explicit_video_mode_is_not_switched_and_the_error_names_the_option(real_mp4):
    with FakeJudgeServer(_refuse_video, lifetime_s=60) as srv:
        [res] = judge_videos_sync([real_mp4], "video_physics", fast_config(srv, server="generic", video_mode="video"))
        assert srv.calls == 1
    assert res.status == "error" and "--frames-mode" in res.samples[0].reason
    assert res.samples[0].reason.startswith("HTTP 400: Invalid value: 'video_url'")


def test_generic_and_openai_get_frames_as_image_url_parts_by_default(server, real_mp4):
    for profile in ("generic", "openai"):
        [res] = judge_videos_sync([real_mp4], "video_physics", fast_config(server, server=profile, video_mode="auto"))
        assert res.status == "ok" and res.judge["encoding"]["mode"] == "frames"
        assert {p["type"] for p in server.requests[-1].user_parts} == {"text", "image_url"}


# vLLM 0.32's own words (recorded from a real server started without --trust-request-mm-kwargs)
VLLM_UNTRUSTED = (b'{"error":{"message":"Per-request media_io_kwargs are disabled by default because they can change '
                  b'multimodal media loading resource usage. Start the server with --trust-request-mm-kwargs only when '
                  b'clients are trusted. (parameter=media_io_kwargs)","type":"BadRequestError","param":"media_io_kwargs",'
                  b'"code":400}}')


def test_a_vllm_without_trusted_media_kwargs_is_asked_without_them_and_the_version_says_no_fps(make_videos, caplog):
    [v] = make_videos("a")

    def script(req: FakeRequest):
        return Raw(VLLM_UNTRUSTED, 400, "application/json") if "media_io_kwargs" in req.body else Reply("Score: 4")

    with FakeJudgeServer(script, owned_by="vllm", lifetime_s=60) as srv:
        [res] = judge_videos_sync([v], "video_physics", fast_config(srv, server="vllm", fps=8))
        assert [("media_io_kwargs" in r.body) for r in srv.requests] == [True, False]
    assert res.status == "ok" and res.judge["request"]["dropped"] == ["media_io_kwargs"]
    assert res.judge["encoding"] == {"mode": "video", "fps": None}  # the server chose the frames, not the judge
    assert "--trust-request-mm-kwargs" in caplog.text  # the server's reason names the fix
