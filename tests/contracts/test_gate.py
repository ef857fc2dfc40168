"""The compatibility gate: within the registry, against a git ref, and through the CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from contracts.compatibility import RULE_ADDED_FIELD_WITHOUT_DEFAULT, RULE_REMOVED_FIELD_WITHOUT_DEFAULT
from contracts.gate import GateFailure, check_against, check_registry
from contracts.git_ref import GitRefError, default_ref, load_registry_at, ref_exists
from contracts.registry import REGISTRY_DIR, RegistryError, load_registry

REPO = REGISTRY_DIR.parent
LOGISTICS = Path(sys.executable).with_name("logistics")


# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """Throwaway repos must not see the user's git config or an outer repo's GIT_* variables."""
    for name in [n for n in os.environ if n.startswith("GIT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Contract Tests")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "tests@example.invalid")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


def init_repo(repo: Path) -> None:
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "commit.gpgsign", "false")


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def published(registry_copy):
    """The registry copy committed in a throwaway repo (``tmp_path``), as if published on main."""
    repo = registry_copy.root.parent
    init_repo(repo)
    commit_all(repo, "publish the registry")
    return registry_copy


def gate_against_head(root: Path) -> list[GateFailure]:
    at_head = load_registry_at("HEAD", root=root)
    assert at_head is not None
    return check_against(load_registry(root), at_head, ref="HEAD")


def add_field(schema: dict, field: dict) -> dict:
    return {**schema, "fields": [*schema["fields"], field]}


# --------------------------------------------------------------------------- within the registry


def test_real_registry_passes_its_own_compatibility_modes() -> None:
    assert check_registry(load_registry()) == []


def test_v3_adding_a_required_field_fails_naming_subject_version_field_and_rule(registry_copy) -> None:
    v2 = registry_copy.schema("shipment.created", 2)
    registry_copy.write_schema("shipment.created", 3, add_field(v2, {"name": "hazmat_class", "type": "string"}))
    registry = load_registry(registry_copy.root)
    assert [v.version for v in registry.subject("shipment.created").versions] == [1, 2, 3]

    failures = check_registry(registry)
    assert failures, "a required field without default must fail BACKWARD_TRANSITIVE"
    assert {f.subject for f in failures} == {"shipment.created"}
    assert {f.rule for f in failures} == {RULE_ADDED_FIELD_WITHOUT_DEFAULT}
    for failure in failures:
        assert "shipment.created" in failure.message
        assert "v3" in failure.message
        assert "hazmat_class" in failure.message
        assert "added_field_without_default" in failure.message
    # transitive: v3 is checked against every earlier version, not only v2
    assert any("with v1" in f.message for f in failures)
    assert any("with v2" in f.message for f in failures)


def test_v3_adding_a_defaulted_field_passes(registry_copy) -> None:
    v2 = registry_copy.schema("shipment.created", 2)
    new_field = {"name": "hazmat_class", "type": ["null", "string"], "default": None}
    registry_copy.write_schema("shipment.created", 3, add_field(v2, new_field))
    registry = load_registry(registry_copy.root)
    assert registry.subject("shipment.created").latest.version == 3
    assert check_registry(registry) == []


def test_full_transitive_subject_rejects_removing_a_required_field(registry_copy) -> None:
    v1 = registry_copy.schema("facility.created", 1)
    v2 = {**v1, "fields": [f for f in v1["fields"] if f["name"] != "timezone"]}
    registry_copy.write_schema("facility.created", 2, v2)
    failures = check_registry(load_registry(registry_copy.root))
    assert [(f.subject, f.rule) for f in failures] == [("facility.created", RULE_REMOVED_FIELD_WITHOUT_DEFAULT)]
    assert "timezone" in failures[0].message
    assert "FULL_TRANSITIVE" in failures[0].message


def test_breaking_envelope_change_is_checked_too(registry_copy) -> None:
    envelope = registry_copy.root / "envelope"
    v1 = (envelope / "v1.avsc").read_text(encoding="utf-8")
    (envelope / "v2.avsc").write_text(
        v1.replace('"name": "event_version", "type": "int"', '"name": "event_version", "type": "string"'),
        encoding="utf-8",
    )
    registry = load_registry(registry_copy.root)
    assert registry.envelope.version == 2
    failures = check_registry(registry)
    assert failures and {f.subject for f in failures} == {"envelope"}
    assert all("event_version" in f.message for f in failures)


# --------------------------------------------------------------------------- against a git ref


def test_unchanged_tree_has_no_failures_against_head(published) -> None:
    assert gate_against_head(published.root) == []


def test_editing_a_published_version_is_reported(published) -> None:
    schema = published.schema("facility.created", 1)
    for fld in schema["fields"]:
        if fld["name"] == "capacity_per_hour":
            fld["type"] = "string"
    published.write_schema("facility.created", 1, schema)

    failures = gate_against_head(published.root)
    assert [(f.subject, f.rule) for f in failures] == [("facility.created", "published_version_edited")]
    message = failures[0].message
    assert "facility.created v1" in message
    assert "HEAD" in message
    assert "add v2" in message


def test_load_registry_at_reads_the_commit_not_the_work_tree(published) -> None:
    original = published.schema("facility.created", 1)
    published.write_schema("facility.created", 1, {**original, "fields": original["fields"][:-1]})
    at_head = load_registry_at("HEAD", root=published.root)
    assert [f["name"] for f in at_head.subject("facility.created").latest.schema["fields"]][-1] == "timezone"
    current = load_registry(published.root)
    assert "timezone" not in [f["name"] for f in current.subject("facility.created").latest.schema["fields"]]


def test_editing_only_doc_strings_is_not_a_change(published) -> None:
    schema = published.schema("shipment.created", 1)
    schema["doc"] = "Reworded: a shipment was booked at its origin facility."
    for fld in schema["fields"]:
        if fld["name"] == "expected_delivery":
            fld["doc"] = "Promised delivery time, UTC."
        if fld["name"] == "weight_kg":
            fld["doc"] = "Gross weight in kilograms."  # a doc added where there was none
    published.write_schema("shipment.created", 1, schema)
    customer = published.root / "common" / "logistics.common.Customer.avsc"
    customer.write_text(
        customer.read_text(encoding="utf-8").replace("A sender or recipient.", "A party."), encoding="utf-8"
    )

    changed = git(published.root.parent, "status", "--porcelain").splitlines()
    assert len(changed) == 2, "the doc edits must really change the files"
    assert gate_against_head(published.root) == []


def test_removing_a_subject_is_reported(published) -> None:
    config = published.config()
    del config["subjects"]["shipment.exception"]
    published.write_config(config)
    shutil.rmtree(published.root / "schemas" / "shipment.exception")

    current = load_registry(published.root)  # the registry itself is still consistent
    assert "shipment.exception" not in current.subjects
    failures = gate_against_head(published.root)
    assert [(f.subject, f.rule) for f in failures] == [("shipment.exception", "subject_removed")]
    assert "HEAD" in failures[0].message


def test_removing_a_published_version_is_reported(published) -> None:
    published.schema_path("shipment.created", 2).unlink()
    failures = gate_against_head(published.root)
    assert [(f.subject, f.rule) for f in failures] == [("shipment.created", "version_removed")]
    assert "shipment.created v2" in failures[0].message


def test_moving_a_family_to_another_silver_table_is_reported(published) -> None:
    config = published.config()
    config["families"]["driver"]["silver_table"] = "drivers"
    published.write_config(config)
    failures = gate_against_head(published.root)
    driver_subjects = {name for name in load_registry(published.root).subjects if name.startswith("driver.")}
    assert {f.subject for f in failures} == driver_subjects
    assert {f.rule for f in failures} == {"silver_table_changed"}
    assert all("driver_events" in f.message and "drivers" in f.message for f in failures)


def test_default_ref_and_registry_at_older_commits(tmp_path: Path, registry_copy) -> None:
    repo = registry_copy.root.parent  # tmp_path, holding contracts/ (still untracked)
    assert repo == tmp_path
    init_repo(repo)
    (repo / "README.md").write_text("before the registry existed\n", encoding="utf-8")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "first")
    root = registry_copy.root
    assert default_ref(root=root) is None  # one commit, no origin
    assert load_registry_at("HEAD", root=root) is None  # no registry at that commit

    commit_all(repo, "add the registry")
    assert ref_exists("HEAD~1", root=root)
    assert not ref_exists("origin/main", root=root)
    assert default_ref(root=root) == "HEAD~1"
    assert load_registry_at("HEAD~1", root=root) is None
    at_head = load_registry_at("HEAD", root=root)
    assert at_head is not None and "shipment.created" in at_head.subjects

    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    assert default_ref(root=root) == "origin/main"


def test_unknown_ref_raises_git_ref_error(published) -> None:
    assert not ref_exists("no-such-branch", root=published.root)
    with pytest.raises(GitRefError):
        load_registry_at("no-such-branch", root=published.root)


def test_registry_that_did_not_load_at_ref_raises_git_ref_error(published) -> None:
    published.schema_path("shipment.created", 1).unlink()  # v2 alone: "no v1" at the next commit
    commit_all(published.root.parent, "break the registry")
    with pytest.raises(GitRefError, match=r"HEAD.*does not load"):
        load_registry_at("HEAD", root=published.root)


# --------------------------------------------------------------------------- the CLI


def run_cli(*args: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([str(LOGISTICS), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _row(subject: str, mode: str, versions: int, result: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(subject)}\W+{mode}\W+{versions}\W+{result}\b")


def test_cli_check_passes_on_the_real_tree() -> None:
    done = run_cli("contracts", "check", "--no-ref", cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _row("shipment.created", "BACKWARD_TRANSITIVE", 2, "ok").search(done.stdout), done.stdout
    assert _row("envelope", "FULL_TRANSITIVE", 1, "ok").search(done.stdout)
    assert "FAIL" not in done.stdout


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of the ``contracts`` package (code + authored registry) that ``PYTHONPATH`` puts first.

    The CLI reads the registry next to ``contracts/registry.py``; importing the copy is the one
    clean way to point the real CLI at a tmp registry. Returns the directory to put on PYTHONPATH.
    """
    site = tmp_path / "site"
    shutil.copytree(REGISTRY_DIR, site / "contracts", ignore=shutil.ignore_patterns("__pycache__", "generated"))
    return site


def test_cli_check_fails_with_reason_on_a_breaking_tmp_registry(package_copy: Path) -> None:
    subject_dir = package_copy / "contracts" / "schemas" / "shipment.created"
    v2 = (subject_dir / "v2.avsc").read_text(encoding="utf-8")
    broken = v2.replace('"default": false}', '"default": false},\n    {"name": "hazmat_class", "type": "string"}')
    assert broken != v2
    (subject_dir / "v3.avsc").write_text(broken, encoding="utf-8")

    done = run_cli("contracts", "check", "--no-ref", cwd=package_copy, pythonpath=package_copy)
    assert done.returncode == 1, done.stdout + done.stderr
    assert _row("shipment.created", "BACKWARD_TRANSITIVE", 3, "FAIL").search(done.stdout), done.stdout
    assert _row("shipment.in_transit", "BACKWARD_TRANSITIVE", 1, "ok").search(done.stdout)
    errors = " ".join(done.stderr.split())
    assert "hazmat_class" in errors and "rule: added_field_without_default" in errors


def test_cli_check_exits_2_on_an_inconsistent_tmp_registry(package_copy: Path) -> None:
    orphan = package_copy / "contracts" / "schemas" / "shipment.returned"
    shutil.copytree(package_copy / "contracts" / "schemas" / "shipment.exception", orphan)
    done = run_cli("contracts", "check", "--no-ref", cwd=package_copy, pythonpath=package_copy)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "registry error" in done.stderr and "shipment.returned" in done.stderr


def test_cli_check_against_a_git_ref_reports_an_edited_version(package_copy: Path) -> None:
    init_repo(package_copy)
    commit_all(package_copy, "publish")
    path = package_copy / "contracts" / "schemas" / "driver.created" / "v1.avsc"
    path.write_text(
        path.read_text(encoding="utf-8").replace('"name": "name", "type": "string"', '"name": "name", "type": "bytes"'),
        encoding="utf-8",
    )

    done = run_cli("contracts", "check", "--against", "HEAD", cwd=package_copy, pythonpath=package_copy)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "against HEAD" in done.stdout
    assert _row("driver.created", "BACKWARD_TRANSITIVE", 1, "FAIL").search(done.stdout), done.stdout
    assert "published_version_edited" in " ".join(done.stderr.split())


# --------------------------------------------------------------- malformed schemas, warnings


MALFORMED_FIELDS = [
    pytest.param({"name": "seal", "type": {"type": "fixed", "name": "Seal"}}, "no 'size'", id="fixed-without-size"),
    pytest.param({"name": "hold", "type": [], "default": None}, "at least one branch", id="empty-union"),
    pytest.param({"name": "hold", "type": {"type": "record", "name": "Hold"}}, "missing 'fields'", id="no-fields"),
    pytest.param({"name": "count", "type": "int", "default": "zero"}, "has default 'zero'", id="default-wrong-type"),
    pytest.param({"name": "note", "type": ["null", "string"], "default": ""}, "first branch", id="union-default"),
    pytest.param({"name": "hold", "type": "logistics.common.Nowhere"}, "unknown type", id="unknown-type"),
    pytest.param({"name": "my-field", "type": "int"}, "valid Avro name", id="bad-field-name"),
]


@pytest.mark.parametrize(("field", "reason"), MALFORMED_FIELDS)
@pytest.mark.parametrize("command", [("contracts", "check", "--no-ref"), ("codegen", "--check")])
def test_cli_exits_2_naming_the_file_on_a_malformed_schema(
    package_copy: Path, command: tuple[str, ...], field: dict, reason: str
) -> None:
    subject_dir = package_copy / "contracts" / "schemas" / "shipment.in_transit"
    v1 = json.loads((subject_dir / "v1.avsc").read_text(encoding="utf-8"))
    (subject_dir / "v2.avsc").write_text(json.dumps(add_field(v1, field)), encoding="utf-8")

    done = run_cli(*command, cwd=package_copy, pythonpath=package_copy)
    assert done.returncode == 2, done.stdout + done.stderr
    errors = " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr
    assert "registry error" in errors and "shipment.in_transit/v2.avsc" in errors and reason in errors, errors


def test_a_malformed_shared_type_is_a_registry_error_even_unused(registry_copy) -> None:
    path = registry_copy.root / "common" / "logistics.common.Seal.avsc"
    path.write_text(json.dumps({"type": "fixed", "name": "Seal", "namespace": "logistics.common"}), encoding="utf-8")
    with pytest.raises(RegistryError, match=r"logistics\.common\.Seal\.avsc: not a valid Avro schema: .*no 'size'"):
        load_registry(registry_copy.root)


def test_a_malformed_schema_at_the_published_ref_is_a_git_ref_error(published) -> None:
    path = published.schema_path("shipment.in_transit", 1)
    schema = add_field(published.schema("shipment.in_transit", 1), {"name": "n", "type": "int", "default": "zero"})
    path.write_text(json.dumps(schema), encoding="utf-8")
    commit_all(published.root.parent, "a bad default")
    with pytest.raises(GitRefError, match="has default 'zero'"):
        load_registry_at("HEAD", root=published.root)


def _with_v2(registry_copy, subject: str, edit: Callable[[dict], dict]) -> None:
    v1 = registry_copy.schema(subject, 1)
    registry_copy.write_schema(subject, 2, {**v1, "fields": [edit(f) for f in v1["fields"]]})


def test_adding_a_logical_type_is_a_warning_that_passes(registry_copy) -> None:
    _with_v2(
        registry_copy,
        "shipment.in_transit",
        lambda f: {**f, "type": {"type": "string", "logicalType": "uuid"}} if f["name"] == "shipment_id" else f,
    )
    [warning] = check_registry(load_registry(registry_copy.root))
    assert warning.warning and warning.rule == "logical_type_added"
    assert warning.message == (
        "shipment.in_transit v2 is BACKWARD_TRANSITIVE compatible with v1, but field 'shipment_id' gained "
        "logical type uuid (string in v1, string (uuid) in v2): Avro reads the same physical value either way, "
        "yet consumers on v1 and v2 interpret it differently (rule: logical_type_added)."
    )


def test_changing_millis_to_micros_still_fails(registry_copy) -> None:
    def to_millis(f: dict) -> dict:
        kind = f["type"]
        if isinstance(kind, dict) and kind.get("logicalType") == "timestamp-micros":
            return {**f, "type": {**kind, "logicalType": "timestamp-millis"}}
        return f

    _with_v2(registry_copy, "delivery.rescheduled", to_millis)
    failures = check_registry(load_registry(registry_copy.root))
    assert failures and not any(f.warning for f in failures)
    assert {f.rule for f in failures} == {"logical_type_mismatch"}


def test_cli_prints_warnings_and_exits_0(package_copy: Path) -> None:
    subject_dir = package_copy / "contracts" / "schemas" / "shipment.in_transit"
    v1 = json.loads((subject_dir / "v1.avsc").read_text(encoding="utf-8"))
    v1["fields"][0]["type"] = {"type": "string", "logicalType": "uuid"}
    (subject_dir / "v2.avsc").write_text(json.dumps(v1), encoding="utf-8")

    done = run_cli("contracts", "check", "--no-ref", cwd=package_copy, pythonpath=package_copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _row("shipment.in_transit", "BACKWARD_TRANSITIVE", 2, "warn").search(done.stdout), done.stdout
    assert "gained logical type uuid" in " ".join(done.stderr.split())
