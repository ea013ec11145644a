"""Output formats for CI and review: plain lines, markdown tables, GitHub annotations and step summaries.

Why not rich here: without a terminal rich lays tables out at 80 columns and folds long cells
mid-word, which makes a CI log unreadable. These formats write whole lines (``click.echo``), never
wrapped: one line per metric with its verdict and numbers, the details on indented lines below.
Each renders the gate's document (:mod:`cosmos_bench.results.export`), so the log, the JSON file, the
JUnit file and the step summary say the same thing.

GitHub Actions: ``::error``/``::warning`` workflow commands on stdout become annotations on the run
and the pull request; a markdown file appended to ``$GITHUB_STEP_SUMMARY`` shows on the run's page.
Both are bound from the environment once, by the command's options.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import typer

FORMATS = ("auto", "table", "plain", "markdown", "github")
FORMAT_HELP = ("Output: table (rich, for a terminal), plain (one line per metric, never wrapped), markdown (a table for a PR "
               "comment), github (plain lines, ::error/::warning annotations, and a markdown table appended to "
               "$GITHUB_STEP_SUMMARY); auto: github when $GITHUB_ACTIONS is set, table on a terminal, else plain.")


def check_format(value: str) -> str:
    if value not in FORMATS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(FORMATS)}")
    return value


def resolve_format(value: str, *, github_actions: bool, terminal: bool) -> str:
    """The format ``auto`` stands for here (GitHub Actions, a terminal, or a log)."""
    if value != "auto":
        return value
    return "github" if github_actions else "table" if terminal else "plain"


def echo_lines(lines: Iterable[str], *, err: bool = False) -> None:
    for line in lines:
        typer.echo(line, err=err)


def _num(x: float | None, fmt: str = ".4g") -> str:
    return "—" if x is None else format(x, fmt)


VERDICT_WORDS = {"pass": "pass", "fail": "FAIL", "undecided": "CANNOT DECIDE", "worse": "WORSE",
                 "inconclusive at budget": "INCONCLUSIVE at budget"}


def verdict_word(item: dict[str, Any]) -> str:
    return VERDICT_WORDS.get(item["verdict"], item["verdict"])


def item_numbers(item: dict[str, Any]) -> str:
    """The numbers of one verdict on one line: estimate [interval] method, margin, MDE, pairs, missing pairs."""
    ci = item["interval"]
    interval = f"[{_num(ci['low'], '+.4g')}, {_num(ci['high'], '+.4g')}]" if ci["low"] is not None else "no interval"
    parts = [f"{item['estimate_of']} {_num(item['estimate'], '+.4g')} {interval} ({ci['method']})",
             f"margin {_num(item['margin'])}"]
    if item["mde"] is not None:
        parts.append(f"MDE {_num(item['mde'], '+.4g')}")
    parts.append(f"{item['n_test_pairs']} test pairs, {item['n_pairs']} videos")
    if item["n_missing_pairs"]:
        parts.append(f"{item['n_missing_pairs']} missing")
    return "; ".join(parts)


def gate_lines(doc: dict[str, Any]) -> list[str]:
    """Plain lines: a heading, then per item ``metric: VERDICT numbers`` and an indented ``why``."""
    lines = [f"{doc['kind']} gate: {doc['candidate']} vs {doc['baseline']} on {doc['suite']}"]
    width = max((len(i["metric"]) for i in doc["results"]), default=0)
    many = len({i["candidate"] for i in doc["results"]}) > 1
    for item in doc["results"]:
        who = f"{item['candidate']} " if many else ""
        lines.append(f"{who}{item['metric']:<{width}}  {verdict_word(item)}  {item_numbers(item)}")
        lines.append(f"    why: {item['why']}")
    lines += [f"note: {n}" for n in doc.get("notes", [])]
    return lines


def closing_line(doc: dict[str, Any]) -> tuple[str, str]:
    """The gate's last line and its tone (``error``, ``warning`` or ``ok``)."""
    cand, base = doc["candidate"], doc["baseline"]

    def names(pred) -> str:
        return ", ".join(i["metric"] for i in doc["results"] if pred(i))

    if doc["kind"] == "sequential":
        if doc["outcome"] == "regression":
            return "error", f"regression: {cand} is worse than {base} beyond the margin on {names(lambda i: i['verdict'] == 'worse')}"
        if doc["outcome"] == "undecided":
            return "warning", (f"cannot decide: no verdict for {cand} on {names(lambda i: not i['decided'])}; "
                               "this is not a pass")
        return "ok", f"pass: {cand} is decided and not worse than {base} on any gated metric."
    if doc["outcome"] == "regression":
        return "error", f"regression: {cand} got worse than {base} on {names(lambda i: i['verdict'] == 'fail')}"
    if doc["outcome"] == "undecided":
        return "warning", (f"cannot decide: too little paired data (or too weak a test) on "
                           f"{names(lambda i: i['verdict'] == 'undecided')}; this is not a pass")
    return "ok", f"pass: {cand} shows no regression against {base}."


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def gate_markdown(doc: dict[str, Any]) -> str:
    """A markdown table of the gate (one row per item) with the closing line, for a step summary or PR comment."""
    marks = {"pass": "✅ pass", "fail": "❌ **FAIL**", "undecided": "⚠️ cannot decide", "worse": "❌ **worse**",
             "better": "✅ better", "equivalent": "✅ equivalent"}
    unit = "worsening (> 0 worse)" if doc["kind"] == "fixed" else "candidate − baseline"
    lines = [f"### cosmos-bench check: `{_cell(doc['candidate'])}` vs `{_cell(doc['baseline'])}` ({_cell(doc['suite'])})", "",
             f"| candidate | metric | verdict | {unit} | interval | margin | MDE | test pairs | videos | missing |",
             "|---|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for i in doc["results"]:
        ci = i["interval"]
        interval = f"[{_num(ci['low'], '+.4g')}, {_num(ci['high'], '+.4g')}] {ci['method']}" if ci["low"] is not None else "—"
        lines.append(f"| {_cell(i['candidate'])} | {_cell(i['metric'])} | {marks.get(i['verdict'], '⚠️ ' + i['verdict'])} | "
                     f"{_num(i['estimate'], '+.4g')} | {interval} | {_num(i['margin'])} | {_num(i['mde'], '+.4g')} | "
                     f"{i['n_test_pairs']} | {i['n_pairs']} | {i['n_missing_pairs']} |")
    _, last = closing_line(doc)
    lines += ["", f"**{_cell(last)}** (exit code {doc['exit_code']})", ""]
    return "\n".join(lines) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, title: str, message: str) -> str:
    """One GitHub workflow command (``::error title=...::message``), escaped as GitHub documents."""
    return f"::{level} title={_escape_property(title)}::{_escape_data(message)}"


def gate_annotations(doc: dict[str, Any]) -> list[str]:
    """``::error`` per regression, ``::warning`` per undecided metric (a sequential 'inconclusive' included)."""
    out = []
    for i in doc["results"]:
        title = f"cosmos-bench {i['candidate']} {i['metric']}"
        if i["exit_code"] == 1:
            out.append(annotation("error", f"{title}: regression", f"{i['metric']}: {i['why']}"))
        elif not i["decided"]:
            out.append(annotation("warning", f"{title}: {i['verdict']}", f"{i['metric']}: {i['why']}"))
    return out


def append_step_summary(path: Path | None, markdown: str) -> None:
    """Append to ``$GITHUB_STEP_SUMMARY`` (GitHub shows the file on the run's page); nothing when unset."""
    if path is None:
        return
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(markdown)


# ------------------------------------------------------------------------------------ leaderboards
def _interval(low: float | None, high: float | None, fmt: str) -> str:
    return "n too small" if low is None or high is None else f"[{format(low, fmt)}, {format(high, fmt)}]"


def board_lines(doc: dict[str, Any]) -> list[str]:
    """A leaderboard's results file (:mod:`cosmos_bench.results.results_file`) as plain lines: one per
    model and metric, then one per paired difference against the baseline."""
    pct = round(doc["settings"]["confidence"] * 100)
    lines = [f"leaderboard {doc['suite']}: mean over test pairs with its {pct}% interval and method; n = scored videos"]
    for s in doc["summaries"]:
        counts = f"n={s['n']}" + (f", deg {s['n_degenerate']}" if s["n_degenerate"] else "") + \
            (f", err {s['n_error']}" if s["n_error"] else "")
        mean = "—" if s["mean"] is None else f"{s['mean']:.4g}"
        lines.append(f"{s['model']} {s['metric']}: {mean} {_interval(s['ci_low'], s['ci_high'], '.4g')} {s['method']} ({counts})")
    for m in doc["metrics"]:
        if not m["run"]:
            lines.append(f"{m['metric']}: {m['missing']['status']} ({m['missing']['why']})")
    for c in doc["comparisons"]:
        p = "" if c["p_adjusted"] is None else f", Holm p {c['p_adjusted']:.3g}"
        lines.append(f"{c['model']} - {c['baseline']} {c['metric']}: {c['diff']:+.4g} "
                     f"{_interval(c['ci_low'], c['ci_high'], '+.4g')} {c['method']}, {c['verdict']}{p} ({c['n_pairs']} pairs)")
    return lines


def board_annotations(doc: dict[str, Any]) -> list[str]:
    """A ``::warning`` per paired difference the board marks worse (the leaderboard itself gates nothing)."""
    return [annotation("warning", f"cosmos-bench {c['model']} {c['metric']}: worse than {c['baseline']}",
                       f"{c['metric']}: {c['model']} - {c['baseline']} = {c['diff']:+.4g} "
                       f"{_interval(c['ci_low'], c['ci_high'], '+.4g')}, Holm p {c['p_adjusted']:.3g}")
            for c in doc["comparisons"] if c["verdict"] == "worse"]
