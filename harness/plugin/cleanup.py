"""A run against a deployed SE leaves nothing of its own behind.

Every file a test creates (a 201 from upload, seen by ``SEClient``) is recorded; at the end of the
worker's session each one still there is deleted — by an admin DELETE, or, where the SE's mode refuses
deletes, by a service-account GC delete. Only url targets need this: docker and local SEs are discarded
whole.
"""

from __future__ import annotations

import httpx

from harness.tokens import TokenFactory

GONE = (200, 204, 404)


def remove_created_files(created: list[tuple[str, str]], tokens: TokenFactory, timeout: float = 10.0) -> list[str]:
    """Delete the given (base_url, file_id) pairs; returns a line per file that could not be removed."""
    problems: list[str] = []
    with httpx.Client(timeout=timeout) as http:
        for base, file_id in dict.fromkeys(created):
            admin = {"Authorization": f"Bearer {tokens.admin}"}
            service = {"Authorization": f"Bearer {tokens.service}"}
            try:
                resp = http.delete(f"{base}/api/v1/files/{file_id}", headers=admin)
                if resp.status_code in GONE:
                    continue
                resp = http.delete(f"{base}/api/v1/gc/{file_id}", headers=service)
                if resp.status_code in GONE:
                    continue
                problems.append(f"{file_id} at {base}: DELETE and GC answered {resp.status_code} {resp.text[:120]}")
            except httpx.HTTPError as exc:
                problems.append(f"{file_id} at {base}: {type(exc).__name__}: {exc}")
    return problems
