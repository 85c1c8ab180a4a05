"""The ASL files are generated (infra/fountain_infra/saga_definitions.py): the checked-in ones are
the generator's output, Step Functions' own parser (moto's copy of it) accepts them, and the
generator writes only what is stale and reports it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fountain_infra import saga_definitions
from fountain_saga import topology


@pytest.mark.parametrize("operation", topology.OPERATIONS)
def test_the_checked_in_file_is_what_the_generator_writes(operation: topology.Operation) -> None:
    machine = topology.MACHINES[operation]
    expected = saga_definitions.render(saga_definitions.documents()[operation])
    assert machine.file.read_text(encoding="utf-8") == expected, (
        f"statemachine/{machine.file.name} is stale: run `make asl`"
    )


def test_the_generator_writes_one_file_per_machine_of_the_topology() -> None:
    documents = saga_definitions.documents()
    assert set(documents) == set(topology.MACHINES)
    assert sorted(p.name for p in topology.STATE_MACHINE_DIR.glob("*.asl.json")) == sorted(
        m.file.name for m in topology.MACHINES.values()
    )


@pytest.mark.parametrize("operation", topology.OPERATIONS)
def test_step_functions_parser_accepts_the_definition(operation: topology.Operation) -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    substitutions = topology.state_machine_substitutions(
        {f.name: f"arn:aws:lambda:us-east-1:123456789012:function:{f.name}" for f in topology.SAGA_FUNCTIONS},
        {t.key: f"fountain-{t.key}" for t in topology.TABLES},
        "fountain-bus",
    )
    definition = topology.substitute(topology.MACHINES[operation].file.read_text(), substitutions)
    assert "${" not in definition
    program, _ = AmazonStateLanguageParser.parse(definition)
    assert program is not None
    assert json.loads(definition)["StartAt"] == saga_definitions.START


def test_each_state_runs_the_function_the_topology_names_for_it() -> None:
    """A revision's clean-up runs its service's Delete function under another state name."""
    for operation, document in saga_definitions.documents().items():
        for name, state in document["States"].items():
            if state.get("Resource") != saga_definitions.LAMBDA:
                continue
            function = topology.CLEANUP_STEPS.get(name, name) if operation == "revise" else name
            assert state["Parameters"]["FunctionName"] == "${" + topology.function(function).placeholder + "}"


def test_check_names_the_stale_files_and_writing_makes_them_current(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert saga_definitions.main(["--check", "--dir", str(tmp_path)]) == 1
    missing = capsys.readouterr().err
    for machine in topology.MACHINES.values():
        assert f"{tmp_path / machine.file.name}: stale; run `make asl`" in missing

    assert saga_definitions.main(["--dir", str(tmp_path)]) == 0
    assert saga_definitions.main(["--check", "--dir", str(tmp_path)]) == 0
    for machine in topology.MACHINES.values():
        assert (tmp_path / machine.file.name).read_text(encoding="utf-8") == machine.file.read_text(
            encoding="utf-8"
        )

    revise = tmp_path / topology.MACHINES["revise"].file.name
    revise.write_text(revise.read_text().replace("PlayRevised", "PlayChanged"))
    capsys.readouterr()
    assert saga_definitions.main(["--check", "--dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"{revise}: stale; run `make asl`\n"
    assert saga_definitions.write(tmp_path) == [revise]
    assert saga_definitions.stale_files(tmp_path) == []


def test_a_state_name_used_twice_is_refused() -> None:
    machine = saga_definitions.Machine("create", "x")
    machine.add("A", {"Type": "Succeed"})
    with pytest.raises(ValueError, match="two states named A"):
        machine.add("A", {"Type": "Succeed"})
