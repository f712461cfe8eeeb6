"""The fleet file parser (strict: unknown keys named), the fleet file writer, the exit-code rule of a
fleet (1 > 2 > 0) and the fleet-wide checks' pure parts."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigurationError
from harness.fleet import checks, results, toml_out
from harness.fleet.children import RunOptions, se_command
from harness.fleet.spec import FleetEntry, load_fleet, parse_fleet
from harness.report.verdict import EXIT_CONFORMANT, EXIT_NO_VERDICT, EXIT_NOT_CONFORMANT

DSN = "postgresql://se:se@127.0.0.1:5432/se"


def se(**over: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": "se-a", "url": "http://127.0.0.1:8101", "table_prefix": "se_a", "mode": "edit",
                             "private_key": "key.pem"}  # fmt: skip
    entry.update(over)
    return {k: v for k, v in entry.items() if v is not None}


def parse(*entries: dict[str, Any], **top: Any) -> Any:
    return parse_fleet({"se": list(entries), **top}, "fleet.toml", Path("/srv/fleet"))


def test_a_full_entry_is_parsed_with_paths_relative_to_the_file() -> None:
    fleet = parse(se(db_dsn=DSN, storage_path="store/a", profile_file="my-se.toml", capabilities=["range"]),
                  se(name="se-b", table_prefix="se_b", mode="rw", private_key=None, tokens={"user": "t1"}))  # fmt: skip
    a, b = fleet.entries
    assert a.private_key == Path("/srv/fleet/key.pem")
    assert a.storage_path == Path("/srv/fleet/store/a")
    assert a.profile_file == Path("/srv/fleet/my-se.toml")
    assert a.capabilities == ("range",)
    assert a.database_key() == ("127.0.0.1", 5432, "se")
    assert b.tokens == {"user": "t1"}
    assert b.mode == "rw"
    assert b.database_key() is None


@pytest.mark.parametrize(
    ("entries", "top", "message"),
    [
        ([se(tabel_prefix="x")], {}, "unknown key(s) tabel_prefix"),
        ([se()], {"defaults": {}}, "unknown top-level key(s) defaults"),
        ([], {}, "no [[se]] entries"),
        ([se(mode=None)], {}, "missing mode"),
        ([se(mode="write")], {}, "mode 'write' is not an APP_MODE"),
        ([se(name="SE A")], {}, "name 'SE A' is not usable"),
        ([se(), se(table_prefix="se_b")], {}, "two [[se]] entries are named 'se-a'"),
        ([se(url="http://10.0.0.5:8000")], {}, "host '10.0.0.5' is not on this machine"),
        ([se(table_prefix="Bad")], {}, "invalid table prefix 'Bad'"),
        ([se(capabilities=["rnage"])], {}, "unknown capability 'rnage'"),
        ([se(private_key=None)], {}, "neither 'private_key' nor 'tokens'"),
        ([se(tokens={"user": "t"})], {}, "both 'private_key' and 'tokens'"),
        ([se(private_key=None, tokens={"root": "t"})], {}, "unknown token role(s) root"),
        ([se(db_dsn="postgresql://se@db.example:5432/se")], {}, "host 'db.example' is not on this machine"),
    ],
)
def test_mistakes_are_refused_with_what_expected_and_a_hint(entries: list[dict[str, Any]], top: dict[str, Any],
                                                            message: str) -> None:  # fmt: skip
    with pytest.raises(ConfigurationError) as caught:
        parse(*entries, **top)
    assert message in str(caught.value)
    assert caught.value.expected
    assert caught.value.hint


def test_an_unknown_key_names_the_entry_and_lists_the_known_keys() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse(se(), se(name="se-b", table_prefix="se_b", db_dns=DSN))
    assert "[[se]] 'se-b': unknown key(s) db_dns" in str(caught.value)
    assert "db_dsn" in str(caught.value.expected)


def test_unreadable_or_invalid_files_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read the fleet file"):
        load_fleet(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[se]\nname=")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_fleet(bad)


def test_a_written_fleet_file_reads_back_the_same(tmp_path: Path) -> None:
    entries = [FleetEntry("se-a", "http://127.0.0.1:8101", "se_a", "edit", db_dsn=DSN, private_key=tmp_path / "k.pem",
                          capabilities=("etag", "range"), storage_path=tmp_path / 'odd "dir"'),
               FleetEntry("se-b", "http://127.0.0.1:8102", "se_b", "ro",
                          tokens={"user": "a.b.c", "admin": "d.e.f"})]  # fmt: skip
    path = toml_out.write(tmp_path / "fleet.toml", entries, "a header\nof two lines")
    assert load_fleet(path).entries == tuple(entries)
    assert tomllib.loads(path.read_text())["se"][1]["tokens"] == {"user": "a.b.c", "admin": "d.e.f"}


def test_each_se_run_is_a_url_target_with_one_worker(tmp_path: Path) -> None:
    entry = FleetEntry("se-a", "http://127.0.0.1:8101", "se_a", "edit", db_dsn=DSN, capabilities=("range",),
                       tokens={"user": "u"})  # fmt: skip
    cmd = se_command(entry, tmp_path / "se-a", RunOptions(profile="db", strict=True, keyword="public"))
    joined = " ".join(cmd)
    assert "--target url --url http://127.0.0.1:8101 --table-prefix se_a --profile db -n 0" in joined
    assert f"--out {tmp_path / 'se-a'}" in joined
    assert "--db-dsn " + DSN in joined
    assert "--capability range" in joined
    assert "--token-user u" in joined
    assert cmd[-3:] == ["--strict", "-k", "public"]


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([0, 0, 0], EXIT_CONFORMANT),
        ([0, 2, 0], EXIT_NO_VERDICT),
        ([0, 1, 2], EXIT_NOT_CONFORMANT),
        ([2, 1], EXIT_NOT_CONFORMANT),
        ([0, 5], EXIT_NO_VERDICT),
        ([], EXIT_NO_VERDICT),
    ],
)
def test_the_fleet_exit_code_is_the_worst_one_beats_two_beats_zero(codes: list[int], expected: int) -> None:
    assert results.combine(codes) == expected


def check(outcome: str, req: str = "SE-FLEET-003") -> results.FleetCheck:
    return results.FleetCheck("t", (req,), ("se-a",), outcome)


@pytest.mark.parametrize(
    ("found", "strict", "status", "expected"),
    [
        ([check("pass"), check("skipped")], False, 0, EXIT_CONFORMANT),
        ([check("pass"), check("fail")], False, 1, EXIT_NOT_CONFORMANT),
        ([check("fail"), check("error")], False, 1, EXIT_NOT_CONFORMANT),
        ([check("pass"), check("error")], False, 1, EXIT_NO_VERDICT),
        ([check("fail", "SE-FLEET-004")], False, 1, EXIT_CONFORMANT),
        ([check("fail", "SE-FLEET-004")], True, 1, EXIT_NOT_CONFORMANT),
        ([check("pass")], False, 4, EXIT_NO_VERDICT),
        ([], False, 5, EXIT_NO_VERDICT),
    ],
)
def test_fleet_checks_gate_like_a_run(found: list[results.FleetCheck], strict: bool, status: int,
                                      expected: int) -> None:  # fmt: skip
    assert results.checks_exit(found, strict=strict, pytest_status=status)[0] == expected


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [("se_a", "se_b", False), ("se", "se_a", True), ("se_a", "se_a", True), ("se_a", "se_ab", False)],
)
def test_table_namespaces(a: str, b: str, overlap: bool) -> None:
    assert checks.namespaces_overlap(a, b) is overlap


def test_ses_without_a_dsn_may_share_a_database() -> None:
    a = FleetEntry("a", "http://127.0.0.1:1", "a", "edit", db_dsn=DSN)
    other = FleetEntry("b", "http://127.0.0.1:2", "b", "edit", db_dsn="postgresql://se:se@localhost:5432/other")
    unknown = FleetEntry("c", "http://127.0.0.1:3", "c", "edit")
    assert checks.may_share_database(a, unknown)
    assert not checks.may_share_database(a, other)
    assert checks.shares_known_database(a, FleetEntry("d", "http://127.0.0.1:4", "d", "edit",
                                                      db_dsn="postgresql://x:y@localhost:5432/se"))  # fmt: skip
