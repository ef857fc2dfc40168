"""The committed SDL is current, and the breaking-change gate catches what breaks clients."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contracts.git_ref import GitRefError
from graphql_api.schema import sdl
from graphql_api.sdl import SDL_PATH, breaking_changes, check


def test_committed_sdl_is_current() -> None:
    assert SDL_PATH.read_text() == sdl(), "run `logistics graphql export` and commit graphql_api/schema.graphql"


def test_removing_a_field_or_narrowing_an_argument_is_breaking() -> None:
    current = sdl()
    removed = current.replace('  """Hours from creation to delivery."""\n  totalTransitHours: Float\n', "", 1)
    assert breaking_changes(current, removed) == ["FIELD_REMOVED: Field Shipment.totalTransitHours was removed."]
    required = current.replace("shipments(first: Int = null", "shipments(first: Int!", 1)
    assert required != current
    assert any("first" in change for change in breaking_changes(current, required))


def test_adding_a_field_is_not_breaking() -> None:
    current = sdl()
    added = current.replace("type Shipment {\n", "type Shipment {\n  weightClass: String\n", 1)
    assert breaking_changes(current, added) == []


def test_check_against_a_ref_without_the_file_passes_with_a_note() -> None:
    report = check(ref="HEAD")  # HEAD predates the committed SDL in this tree, or holds an identical one
    assert report.breaking == []
    assert report.compared_with.startswith("HEAD")


def test_cli_check_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "logistics.cli.main", "graphql", "check", "--against", "HEAD"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 breaking change(s), 0 dangerous change(s)" in " ".join(done.stdout.split())


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    env |= {
        f"GIT_{who}_{what}": value
        for who in ("AUTHOR", "COMMITTER")
        for what, value in (("NAME", "t"), ("EMAIL", "t@x"))
    }
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


@pytest.fixture
def published_sdl(tmp_path: Path) -> Path:
    """A throwaway repo whose HEAD holds the SDL as published (ShipmentStatus without UNKNOWN); the
    work tree holds the current one."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    path = repo / "schema.graphql"
    path.write_text(sdl().replace("  UNKNOWN\n", "", 1), encoding="utf-8")  # the published schema lacked UNKNOWN
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "publish")
    path.write_text(sdl(), encoding="utf-8")
    return path


def test_a_ref_that_does_not_exist_is_an_error_not_a_pass(published_sdl: Path) -> None:
    with pytest.raises(GitRefError, match="'no-such-ref' is not a commit"):
        check(ref="no-such-ref", path=published_sdl)


def test_a_ref_without_the_file_passes_with_a_note(published_sdl: Path) -> None:
    report = check(ref="HEAD", path=published_sdl.with_name("other.graphql"))
    assert report.compared_with == "HEAD (no SDL there yet)" and report.changes == []


def test_dangerous_changes_are_reported_but_not_breaking(published_sdl: Path) -> None:
    report = check(ref="HEAD", path=published_sdl)
    assert report.breaking == [] and not report.stale
    [change] = report.dangerous
    assert change.kind == "VALUE_ADDED_TO_ENUM" and "UNKNOWN" in change.description


def test_cli_check_exits_2_on_a_ref_that_does_not_exist() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "logistics.cli.main", "graphql", "check", "--against", "no-such-ref-anywhere"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot read no-such-ref-anywhere" in " ".join(done.stderr.split())
