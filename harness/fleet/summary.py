"""The fleet summary: one row per SE, one column per area (its worst requirement outcome and how many),
the fleet-wide checks that concern it, and its verdict; then every failed requirement with the SE it
names. Pure: fleet document → text."""

from __future__ import annotations

from typing import Any

from harness import catalogue
from harness.cli.summary import HEADLINE, NO_VERDICT
from harness.expect import ConformanceFailure
from harness.report.outcomes import PASS, SEVERITY_ORDER

MISSING = "-"
DEFECT_PREFIX = ConformanceFailure.__name__
MESSAGE_WIDTH = 160


def cell(counts: dict[str, int] | None) -> str:
    """``fail 2`` / ``error 1`` / ``pass 12`` … : the area's worst outcome that occurred, and its count."""
    if not counts:
        return MISSING
    for outcome in SEVERITY_ORDER:
        if counts.get(outcome):
            return f"{outcome} {counts[outcome]}"
    return MISSING


def verdict_word(code: int | None) -> str:
    return {0: "conformant", 1: "NOT CONFORMANT", 2: "NO VERDICT"}.get(code if code is not None else 2, "NO VERDICT")


def _short(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= MESSAGE_WIDTH else line[: MESSAGE_WIDTH - 1] + "…"


def message_lines(text: str) -> list[str]:
    """A check's message: its first line without the exception's name, and its actual/expected lines."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    first = lines[0].split(": ", 1)[1] if DEFECT_PREFIX in lines[0].split(": ", 1)[0] else lines[0]
    return [_short(first), *(_short(ln) for ln in lines[1:] if ln.startswith(("actual:", "expected:")))]


def table(doc: dict[str, Any]) -> list[str]:
    ses = doc["ses"]
    areas = [a for a in catalogue.AREAS if a != "fleet" and any(a in (s.get("areas") or {}) for s in ses)]
    header = ["SE", *areas, "fleet", "run verdict"]
    rows = []
    for se in ses:
        fleet = se.get("fleet_outcome")
        rows.append([se["name"], *(cell((se.get("areas") or {}).get(a)) for a in areas),
                     fleet or MISSING, verdict_word(se["exit_code"])])  # fmt: skip
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return ["  " + "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]


def failures(doc: dict[str, Any]) -> list[str]:
    lines = []
    for check in doc["fleet_checks"]["checks"]:
        if check["outcome"] == PASS or check["outcome"] in ("unsupported", "skipped"):
            continue
        for req in check["requirements"] or ["(no requirement)"]:
            title = catalogue.load().get(req)
            level = title.level if title else "MUST"
            lines.append(f"  {req}  {level:<6} {title.title if title else ''} — {' + '.join(check['subject'])}: "
                         f"{check['outcome']}")  # fmt: skip
        lines += [f"      {line}" for line in message_lines(check["message"])]
    for se in doc["ses"]:
        for req in se.get("must_failures", []):
            lines.append(f"  {req}  {se.get('levels', {}).get(req, 'MUST'):<6} {se.get('titles', {}).get(req, '')} — "
                         f"{se['name']}: fail")  # fmt: skip
        for req in se.get("other_failures", []):
            lines.append(f"  {req}  {se.get('levels', {}).get(req, ''):<6} {se.get('titles', {}).get(req, '')} — "
                         f"{se['name']}: fail (warning)")  # fmt: skip
        if se["exit_code"] not in (0, 1):
            reasons = "; ".join(se.get("reasons", [])) or "see its run.log"
            lines.append(f"  {se['name']}: no verdict — {_short(reasons)}")
    return lines


def render(doc: dict[str, Any]) -> str:
    code = doc["exit_code"]
    headline = HEADLINE.get(code, NO_VERDICT)
    lines = [f"fleet {doc['fleet_file']} — {len(doc['ses'])} SEs, profile {doc['profile']}, {doc['duration_s']:.1f} s",
             "", "requirements per SE and area (worst outcome, count; fleet: the fleet-wide checks naming the SE):",
             *table(doc)]  # fmt: skip
    found = failures(doc)
    if found:
        lines += ["", "failed requirements and runs without a verdict:", *found]
    reasons = doc["fleet_checks"].get("reasons", [])
    if reasons:
        lines += ["", "fleet-wide checks: " + "; ".join(reasons) + f" (log: {doc['fleet_checks']['out']}/pytest.log)"]
    lines += ["", f"FLEET: {headline} (exit {code})"]
    return "\n".join(lines)
