"""The target-kind registry: every kind's behaviour is looked up in ``KINDS``, and imports stay lazy."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from harness.cli import serve
from harness.cli.serve_deploy import DEPLOYMENTS
from harness.errors import ConfigurationError
from harness.plugin import options as opt
from harness.profile import NO_PROFILE
from harness.targets import kinds
from harness.targets.kinds import KINDS, TargetSettings


def test_the_registry_holds_every_kind_and_the_options_offer_them() -> None:
    assert list(KINDS) == [kinds.DOCKER, kinds.LOCAL, kinds.URL]
    assert all(name == kind.name for name, kind in KINDS.items())
    assert (kinds.AUTO, *KINDS) == opt.TARGETS


def test_properties_of_each_kind() -> None:
    url, local, docker = KINDS[kinds.URL], KINDS[kinds.LOCAL], KINDS[kinds.DOCKER]
    assert (url.single_se, url.deletes_created_files, url.lifecycle, url.serve) == (True, True, False, False)
    for managed in (local, docker):
        assert (managed.single_se, managed.deletes_created_files, managed.lifecycle, managed.serve) == (
            False, False, True, True,
        )  # fmt: skip


def test_serve_offers_a_deployment_for_each_kind_marked_serve() -> None:
    assert set(DEPLOYMENTS) == set(kinds.SERVE_KINDS) == {kinds.LOCAL, kinds.DOCKER}
    assert serve.TARGETS == kinds.SERVE_KINDS
    assert all(cls.kind == name for name, cls in DEPLOYMENTS.items())


def test_a_named_kind_is_used_as_is_and_auto_follows_the_url() -> None:
    with_url = TargetSettings(url="http://127.0.0.1:1")
    assert kinds.implied_kind("local", with_url) is KINDS[kinds.LOCAL]
    assert kinds.implied_kind(kinds.AUTO, with_url) is KINDS[kinds.URL]
    assert kinds.implied_kind(None, with_url) is KINDS[kinds.URL]
    assert kinds.implied_kind(kinds.AUTO, TargetSettings()) is None, "without a URL the machine decides"


@pytest.mark.parametrize(("engine", "expected"), [(True, kinds.DOCKER), (False, kinds.LOCAL)])
def test_auto_without_a_url_takes_docker_where_an_engine_answers(
    monkeypatch: pytest.MonkeyPatch, engine: bool, expected: str
) -> None:
    patched = dict(KINDS)
    patched[kinds.DOCKER] = dataclasses.replace(KINDS[kinds.DOCKER], auto_default=lambda: engine)
    monkeypatch.setattr(kinds, "KINDS", patched)
    assert kinds.resolve_kind(kinds.AUTO, TargetSettings()).name == expected
    assert kinds.resolve_kind(kinds.URL, TargetSettings()).name == kinds.URL


def test_an_unknown_kind_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown target kind 'ftp'(.|\n)*docker, local, url"):
        kinds.kind_named("ftp")


def test_the_url_kind_needs_a_url_before_anything_starts() -> None:
    infrastructure = KINDS[kinds.URL].infrastructure("r1", TargetSettings(), NO_PROFILE)
    with pytest.raises(ConfigurationError, match="needs the URL"):
        infrastructure.start()
    with pytest.raises(ConfigurationError, match="needs the URL"):
        KINDS[kinds.URL].preflight(TargetSettings(), NO_PROFILE)
    assert KINDS[kinds.URL].infrastructure("r1", TargetSettings(url="http://127.0.0.1:1"), NO_PROFILE).start() == {}


def test_settings_come_from_either_parser() -> None:
    values = {opt.dest(opt.IMAGE): "img:1", opt.dest(opt.URL): "http://127.0.0.1:1",
              opt.dest(opt.CAPABILITY): ["range"]}  # fmt: skip
    settings = opt.settings_of(values.get)
    assert (settings.image, settings.url, settings.capabilities, settings.command) == (
        "img:1", "http://127.0.0.1:1", ("range",), None,
    )  # fmt: skip


def test_nothing_imports_docker_code_until_a_docker_kind_is_used() -> None:
    code = (
        "import sys\n"
        "import harness.plugin, harness.plugin.infra, harness.cli.run, harness.cli.serve\n"
        "from harness.targets.kinds import KINDS, TargetSettings, profile_for\n"
        "profile_for(KINDS['local'], TargetSettings())\n"
        "docker = ('docker', 'harness.targets.docker')\n"
        "loaded = sorted(m for m in sys.modules if m in docker or m.startswith(tuple(d + '.' for d in docker)))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
