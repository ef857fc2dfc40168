"""The committed SDL is current, and the breaking-change gate catches what breaks clients."""

from __future__ import annotations

import subprocess
import sys

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
    assert "0 breaking change(s)" in done.stdout
