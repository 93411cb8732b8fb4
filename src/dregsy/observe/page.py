"""The status page: one self-contained HTML document (inline CSS, no scripts, no external
assets) that reloads itself every `REFRESH_SECONDS`.

Every value from outside (task names, references, error texts from registries) goes
through `html.escape`; the board never holds secrets, so the page shows none.
"""

from __future__ import annotations

from html import escape

from dregsy.observe.results import ImageOutcome, RunOutcome, iso
from dregsy.observe.status import MAX_FAILURES_SHOWN, StatusBoard, TaskState
from dregsy.sync.stats import human_bytes

REFRESH_SECONDS = 10

_CSS = """
:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --run: #0969da;
  --idle: #6e7781; --line: #d0d7de; --card: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --line: #30363d; --card: #161b22; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
  max-width: 1100px; padding: 16px 24px; }
header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap;
  border-bottom: 1px solid var(--line); padding-bottom: 8px; }
h1 { font-size: 20px; margin: 0; } h2 { font-size: 17px; margin: 0; }
.muted { color: var(--idle); }
.task { border: 1px solid var(--line); border-radius: 6px; background: var(--card);
  margin: 16px 0; padding: 12px 16px; }
.task-head { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; }
.badge { border-radius: 10px; color: #fff; font-size: 12px; font-weight: 600;
  padding: 1px 9px; text-transform: uppercase; letter-spacing: .03em; }
.success { background: var(--ok); } .failure { background: var(--bad); }
.running { background: var(--run); } .never { background: var(--idle); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 10px 0 0; }
dt { color: var(--idle); } dd { margin: 0; }
.counts span { margin-right: 14px; } .n-failed { color: var(--bad); font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin-top: 10px; font-size: 13px; }
th, td { border-top: 1px solid var(--line); padding: 4px 8px 4px 0; text-align: left;
  vertical-align: top; }
td.ref { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; white-space: nowrap; }
td.error { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; color: var(--bad);
  word-break: break-word; }
"""


def render(board: StatusBoard) -> str:
    """The whole page for the board as it is now."""
    now = board.snapshot_time()
    tasks = list(board.tasks.values())
    failing = sum(1 for t in tasks if t.last is not None and t.last.outcome is RunOutcome.FAILURE)
    body = "".join(_task(state, now) for state in tasks) or (
        "<p class=muted>Waiting for the configuration.</p>"
    )
    summary = f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}"
    if failing:
        summary += f", <span class=n-failed>{failing} failing</span>"
    shard = f"<span>shard {escape(board.shard)}</span>" if board.shard else ""
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>dregsy: {summary if not failing else f'{failing} failing'}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<header><h1>dregsy</h1><span class=muted>{escape(board.version)}</span>"
        f"<span>{summary}</span>{shard}"
        f"<span class=muted>updated {escape(iso(now) or '')}; refreshes every {REFRESH_SECONDS} s"
        " &middot; <a href=api/status>JSON</a> &middot; <a href=metrics>metrics</a></span>"
        f"</header><main>{body}</main></body></html>\n"
    )


def _task(state: TaskState, now: float) -> str:
    last = state.last
    if state.running_since is not None:
        badge = "<span class='badge running'>running</span>"
    elif last is None:
        badge = "<span class='badge never'>not run yet</span>"
    else:
        badge = f"<span class='badge {last.outcome}'>{escape(str(last.outcome))}</span>"
    schedule = f"every {_seconds(state.interval)}" if state.interval else "once"
    rows = [("Registries", f"{escape(state.source)} &rarr; {escape(state.target)}")]
    rows.append(("Schedule", schedule))
    if state.running_since is not None:
        progress = f"{state.done} of {state.total} images" if state.total else "listing"
        if state.moved:
            progress += f", {human_bytes(state.moved)} moved"
        rows.append(("Running", f"since {_time(state.running_since, now)}: {progress}"))
    if last is not None:
        rows.append(
            (
                "Last run",
                f"{_time(last.started, now)}, took {_seconds(last.duration)}",
            )
        )
        rows.append(("Result", _counts(state)))
        if last.shard is not None:
            rows.append(
                (
                    "Shard",
                    f"{escape(last.shard)}: {last.repositories} of "
                    f"{last.repositories_found} repositories",
                )
            )
    rows.append(("Last success", _time(state.last_success, now) if state.last_success else "never"))
    if state.next_run is not None:
        rows.append(("Next run", _time(state.next_run, now)))
    elif state.interval == 0 and last is not None:
        rows.append(("Next run", "none (runs once)"))
    details = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return (
        f"<section class=task id='task-{escape(state.name)}'><div class=task-head>"
        f"<h2>{escape(state.name)}</h2>{badge}</div><dl>{details}</dl>"
        f"{_failures(state)}</section>"
    )


def _counts(state: TaskState) -> str:
    run = state.last
    assert run is not None
    failed = run.count(ImageOutcome.FAILED)
    failed_class = " class=n-failed" if failed else ""
    return (
        "<span class=counts>"
        f"<span>{run.count(ImageOutcome.COPIED)} copied</span>"
        f"<span>{run.count(ImageOutcome.SKIPPED)} skipped</span>"
        f"<span{failed_class}>{failed} failed</span>"
        f"<span>{human_bytes(run.bytes)} moved</span></span>"
    )


def _failures(state: TaskState) -> str:
    if state.last is None or not state.last.failures:
        return ""
    failures = state.last.failures
    rows = "".join(
        f"<tr><td class=ref>{escape(f.source)}</td><td class=ref>{escape(f.target)}</td>"
        f"<td class=error>{escape(f.error or '')}</td></tr>"
        for f in failures[:MAX_FAILURES_SHOWN]
    )
    more = ""
    if len(failures) > MAX_FAILURES_SHOWN:
        more = f"<p class=muted>and {len(failures) - MAX_FAILURES_SHOWN} more (see the log)</p>"
    return (
        "<table><thead><tr><th>Failed source</th><th>Target</th><th>Error</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{more}"
    )


def _time(at: float | None, now: float) -> str:
    """`2026-12-04T17:05:03Z (12 s ago)` / `(in 48 s)`."""
    stamp = iso(at) or ""
    if at is None:
        return ""
    delta = at - now
    relative = f"in {_seconds(delta)}" if delta > 0.5 else f"{_seconds(-delta)} ago"
    return f"<time datetime='{stamp}'>{stamp}</time> <span class=muted>({relative})</span>"


def _seconds(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
