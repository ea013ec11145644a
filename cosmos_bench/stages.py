"""Scoring stages: what turns generated outputs into result rows.

A stage says which metrics it produces and under which versions (the store's key includes them, so
a changed setting gets new rows and never mixes with old ones), and scores outputs into
:class:`~cosmos_bench.results.store.ResultRow`\\ s. The runner drives every stage the same way —
skip what the store has, lease each output, store its rows the moment they exist — so ``run``,
``rescore`` and an executor's workers (which call :meth:`GeometryStage.score` beside the GPU that
made the video) all score through one path. Adding a metric is its catalogue entry plus a stage
that produces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Protocol

from . import catalog
from .catalog import SECONDARY_SUFFIX
from .data.suite import Suite
from .data.video import VideoError
from .models.outputs import Output
from .results.store import ResultRow

Scored = tuple[Output, list[ResultRow], "str | None"]  # an output, its rows, and an error line for the run's summary


class Stage(Protocol):
    """One scoring stage of a run."""

    name: str  # the progress name ("metrics", "judge"), also the first part of its work items' claims
    label: str  # shown when the stage starts (e.g. which judge metric)

    def versions(self) -> dict[str, str]:
        """Headline metric → the version its rows are stored under (companion rows share it)."""
        ...

    def claim_tag(self) -> tuple[str, ...]:
        """What, besides the output, names this stage's work item when a run leases it."""
        ...

    def score(self, outputs: Iterable[Output]) -> Iterator[Scored]:
        """Score each output (lazily: the runner leases outputs as the stage takes them)."""
        ...


def rows_per_output(metric: str) -> int:
    """How many rows one output gets for ``metric``: the headline, plus its companion if it has one."""
    return 1 + (catalog.companion(metric) is not None)


def result_row(suite: Suite, o: Output, metric: str, version: str, value: float | None, status: str,
               reason: str | None, details: dict[str, Any] | None = None, *, direction: str | None = None,
               extra_provenance: dict[str, Any] | None = None) -> ResultRow:
    """One stored row of ``o``; the direction comes from the catalogue unless the metric reports its own."""
    prov = o.provenance()
    if extra_provenance:
        prov.update(extra_provenance)
    return ResultRow(
        suite=suite.name, model=o.model, generation_key=o.key, sample=o.sample, seed=o.seed, metric=metric,
        metric_version=version, direction=direction or catalog.metric(metric).direction,
        value=value if status == "ok" else None, status=status, reason=reason, details=details or {}, provenance=prov,
    )


# ----------------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class GeometryStage:
    """Sampson errors (tse, cse) and their mean-of-means companions, from the suite's views. Picklable."""

    suite: Suite
    metrics: tuple[str, ...]  # the geometric metrics the run asked for that apply to this suite
    stride: int = 1
    cross_view_mode: str = "pooled"
    backend: str = "opencv"
    device: str | None = None

    name = "metrics"
    label = ""

    @classmethod
    def applicable(cls, suite: Suite, wanted: Iterable[str], **options: Any) -> GeometryStage:
        """The stage for the wanted geometric metrics this suite can have (cse needs two views)."""
        metrics = tuple(m for m in catalog.metrics_of_stage("geometry")
                        if m in wanted and len(suite.views) >= catalog.metric(m).min_views)
        return cls(suite, metrics, **options)

    def versions(self) -> dict[str, str]:
        from .metrics.geometry import SampsonOptions, cse_version, tse_version

        opts = SampsonOptions.from_kwargs(backend=self.backend, device=self.device)
        every = {"tse": tse_version(opts, self.stride), "cse": cse_version(opts, self.cross_view_mode)}
        return {m: every[m] for m in self.metrics}

    def claim_tag(self) -> tuple[str, ...]:
        return tuple(self.versions().values())

    def score(self, outputs: Iterable[Output]) -> Iterator[Scored]:
        versions = self.versions()
        for o in outputs:
            yield (o, *self.score_one(o, versions))

    def score_one(self, o: Output, versions: dict[str, str]) -> tuple[list[ResultRow], str | None]:
        """The rows of one output, and the error line to report if it could not be scored."""
        reason, message = o.error, None
        if reason is None:
            try:
                return self._rows(o), None
            except VideoError as exc:  # names the file already
                reason = message = str(exc)
            except Exception as exc:  # one broken video never stops the benchmark
                reason = f"{type(exc).__name__}: {exc}"
                message = f"{o.label}: {reason}"
        return [result_row(self.suite, o, name, versions[m], None, "error", reason)
                for m in self.metrics for name in (m, m + SECONDARY_SUFFIX)], message

    def _rows(self, o: Output) -> list[ResultRow]:
        from .metrics.geometry import sampson_metrics

        self.suite.check_sample(o.directory, o.sample, o.sidecar.expect if o.sidecar else None)  # no score for a broken file
        windows = self.suite.iter_views(o.directory, o.sample)  # a long video is never in memory at once
        results = sampson_metrics(
            windows, stride=self.stride if "tse" in self.metrics else None,
            mode=self.cross_view_mode if "cse" in self.metrics else None, backend=self.backend, device=self.device,
        )
        rows = []
        for m in self.metrics:
            r = results[m]
            rows.append(result_row(self.suite, o, m, r.version, r.value if r.ok else None, r.status, r.reason,
                                   dict(r.details), direction=r.direction))
            secondary = r.details.get("mean_of_means")
            ok2 = r.ok and secondary is not None
            rows.append(result_row(self.suite, o, m + SECONDARY_SUFFIX, r.version, secondary if ok2 else None,
                                   "ok" if ok2 else r.status, None if ok2 else (r.reason or "no mean of means"),
                                   {"headline": m}, direction=r.direction))
        return rows


# ----------------------------------------------------------------------------------- judge
@dataclass
class JudgeStage:
    """One judge metric (a rubric) over every output, sent to the VLM judge as one batch."""

    suite: Suite
    metric: str
    rubric: Any  # a cosmos_bench.judge.Rubric
    config: Any  # a cosmos_bench.judge.JudgeConfig, with the server's request form decided
    cache: Any  # a cosmos_bench.judge.ScoreCache
    endpoint_error: str | None = None  # the judge could not be reached: every output gets an error row saying so
    on_progress: Callable[[Any], None] | None = None

    name = "judge"

    @property
    def label(self) -> str:
        return self.metric

    def versions(self) -> dict[str, str]:
        from .judge import judge_version

        return {self.metric: judge_version(self.rubric, self.config) + self._views_tag()}

    def _views_tag(self) -> str:
        """Marks scores of tiled views (a multi-view ``files`` suite), so they never mix with rows from
        versions that showed the judge only the first view."""
        return ";views=tiled" if self.suite.storage.kind == "files" and len(self.suite.views) > 1 else ""

    def claim_tag(self) -> tuple[str, ...]:
        return (self.metric, self.versions()[self.metric])

    def score(self, outputs: Iterable[Output]) -> Iterator[Scored]:
        from .judge import JudgeRequest, judge_videos_sync

        version = self.versions()[self.metric]
        ready: list[tuple[Output, Any]] = []
        for o in outputs:
            reason, message = o.error or self.endpoint_error, None  # those two are reported where they arise
            if reason is None:
                try:
                    self.suite.check_sample(o.directory, o.sample, o.sidecar.expect)  # never upload a broken file
                    video = self.suite.judge_video(o.directory, o.sample)  # every view, as one video
                except VideoError as exc:
                    reason = message = str(exc)
            if reason is not None:
                yield o, [result_row(self.suite, o, self.metric, version, None, "error", reason)], message
                continue
            instruction = o.sidecar.prompt if self.rubric.needs_instruction else None
            ready.append((o, JudgeRequest(str(video), instruction=instruction, id=o.label)))
        if not ready:
            return
        by_id = {req.id: o for o, req in ready}
        requests = [req for _, req in ready]
        results = judge_videos_sync(requests, rubric=self.rubric, config=self.config, cache=self.cache,
                                    progress=self.on_progress)
        controls = {}
        if getattr(self.config, "control_share", 0) > 0:  # kept in the rows' details, never in their values
            from .judge.controls import judge_controls

            controls = judge_controls(requests, results, self.rubric, self.config, self.cache)
        for res in results:
            o = by_id[res.id]
            details = res.to_dict()
            if res.id in controls:
                from .judge.controls import control_detail

                details["control"] = control_detail(controls[res.id])
            status = "ok" if res.status == "ok" else "error"
            message = None if status == "ok" else f"judge {self.metric} {res.id}: {res.reason}"  # the run exits 1
            yield o, [result_row(self.suite, o, self.metric, res.judge_version + self._views_tag(), res.score, status, res.reason, details,
                                 extra_provenance={"judge": details.get("judge")})], message


__all__ = ["GeometryStage", "JudgeStage", "Scored", "Stage", "result_row", "rows_per_output"]
