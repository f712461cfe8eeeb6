"""The short, plain summary at the end of ``se-conformance run`` (pure: report document → text)."""

from __future__ import annotations

from typing import Any

from harness.report.outcomes import ERROR, FAIL, OUTCOMES, WAIVED
from harness.report.verdict import EXIT_CONFORMANT, EXIT_NOT_CONFORMANT, Verdict

HEADLINE = {EXIT_CONFORMANT: "CONFORMANT", EXIT_NOT_CONFORMANT: "NOT CONFORMANT"}
NO_VERDICT = "NO VERDICT (harness or configuration problem)"


def _first_line(text: str, width: int = 150) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def target_line(doc: dict[str, Any]) -> str:
    target = doc["target"]
    identity = target.get("identity") or {}
    what = identity.get("image") or identity.get("command") or identity.get("url") or ""
    parts = [f"target {target['kind']}" + (f" ({what})" if what else "")]
    if target.get("version"):
        parts.append(f"SE version {target['version']}")
    parts.append(f"profile {doc['run']['profile']}")
    if target.get("table_prefixes"):
        parts.append("prefix " + ", ".join(target["table_prefixes"]))
    return f"se-conformance {doc['suite']['version']} — " + ", ".join(parts)


def area_table(doc: dict[str, Any]) -> list[str]:
    areas: dict[str, dict[str, int]] = doc["areas"]
    if not areas:
        return []
    width = max(len("total"), *(len(a) for a in areas))
    cols = [max(len(o), 4) + 2 for o in OUTCOMES]

    def row(name: str, counts: dict[str, int]) -> str:
        return (
            "  " + name.ljust(width) + "".join(f"{counts.get(o, 0):>{w}}" for o, w in zip(OUTCOMES, cols, strict=True))
        )

    lines = [
        "requirements per area:",
        "  " + "".ljust(width) + "".join(f"{o:>{w}}" for o, w in zip(OUTCOMES, cols, strict=True)),
    ]
    lines += [row(area, counts) for area, counts in areas.items()]
    lines.append(row("total", doc["counts"]["requirements"]))
    return lines


def _requirement_lines(doc: dict[str, Any], ids: list[str], outcome: str, limit: int = 3) -> list[str]:
    by_id = {r["id"]: r for r in doc["requirements"]}
    lines = []
    for req_id in ids:
        req = by_id[req_id]
        lines.append(f"  {req['id']}  {req['level']:<6} {req['title']}")
        bad = [t for t in req["tests"] if t["outcome"] == outcome]
        for test in bad[:limit]:
            lines.append(f"      {test['nodeid']}")
            if test["message"]:
                lines.append(f"        {_first_line(test['message'])}")
        if len(bad) > limit:
            lines.append(f"      … and {len(bad) - limit} more test(s)")
    return lines


def render(doc: dict[str, Any], verdict: Verdict, *, strict: bool = False) -> str:
    lines = [target_line(doc)]
    headline = HEADLINE.get(verdict.exit_code, NO_VERDICT)
    lines.append(f"{headline}" + (f" — {'; '.join(verdict.reasons)}" if verdict.reasons else ""))
    tests = doc["counts"]["tests"]
    lines.append("tests: " + (", ".join(f"{tests[o]} {o}" for o in OUTCOMES if tests.get(o)) or "none"))
    lines += ["", *area_table(doc)]
    if verdict.failures:
        levels = "" if strict else " (MUST)"
        lines += ["", f"Failed requirements{levels}:", *_requirement_lines(doc, [c.id for c in verdict.failures], FAIL)]
    if verdict.warnings:
        lines += ["", "Warnings — SHOULD/MAY requirements failed (they fail the gate with --strict):",
                  *_requirement_lines(doc, [c.id for c in verdict.warnings], FAIL)]  # fmt: skip
    if verdict.errors:
        lines += ["", "Harness errors — no verdict for these requirements:",
                  *_requirement_lines(doc, [c.id for c in verdict.errors], ERROR)]  # fmt: skip
    bad_unmapped = [t for t in doc["unmapped_tests"] if t["outcome"] in (FAIL, ERROR)]
    if bad_unmapped:
        lines += ["", "Tests without a requirement ID that failed:"]
        lines += [f"  {t['nodeid']}: {_first_line(t['message'])}" for t in bad_unmapped]
    waived = [r for r in doc["requirements"] if r["outcome"] == WAIVED]
    if waived:
        lines += ["", "Waived (known deviations):"]
        for req in waived:
            waiver = req.get("waiver") or {}
            lines.append(f"  {req['id']}  until {waiver.get('expires', '?')}: {waiver.get('reason', '')}")
    for error in doc["run"]["collection_errors"]:
        lines += ["", "Collection error:", f"  {_first_line(error, 300)}"]
    return "\n".join(lines)
