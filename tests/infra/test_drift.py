"""The local runtime and the deployed stack are built from one topology: what the local runtime
creates (read back from moto) matches the template, table by table and function by function."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from fountain_infra.functions import DEPLOYED_ONLY_ENV
from fountain_saga import topology
from tests.infra.conftest import Synthesized
from tests.infra.intrinsics import render


def _sorted_keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema]


def _indexes(indexes: list[dict[str, Any]]) -> dict[str, tuple[list[tuple[str, str]], str, list[str]]]:
    return {
        i["IndexName"]: (
            _sorted_keys(i["KeySchema"]),
            i["Projection"]["ProjectionType"],
            sorted(i["Projection"].get("NonKeyAttributes", [])),
        )
        for i in indexes
    }


@pytest.mark.parametrize("spec", topology.TABLES, ids=lambda t: t.key)
def test_tables_have_the_same_keys_attributes_and_indexes(
    synth: Synthesized, local_aws: Any, spec: topology.TableSpec
) -> None:
    local = local_aws.client("dynamodb").describe_table(TableName=local_aws.resources.table_names[spec.key])[
        "Table"
    ]
    deployed = synth.templates["dev"]["Resources"][
        synth.logical_id(synth.stacks["dev"].data.tables[spec.key])
    ]["Properties"]
    assert _sorted_keys(deployed["KeySchema"]) == _sorted_keys(local["KeySchema"])
    attributes = {(a["AttributeName"], a["AttributeType"]) for a in deployed["AttributeDefinitions"]}
    assert attributes == {(a["AttributeName"], a["AttributeType"]) for a in local["AttributeDefinitions"]}
    assert _indexes(deployed.get("GlobalSecondaryIndexes", [])) == _indexes(
        local.get("GlobalSecondaryIndexes", [])
    )
    assert deployed["BillingMode"] == local["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = local_aws.client("dynamodb").describe_time_to_live(
        TableName=local_aws.resources.table_names[spec.key]
    )["TimeToLiveDescription"]
    deployed_ttl = deployed.get("TimeToLiveSpecification", {})
    assert (deployed_ttl.get("AttributeName"), deployed_ttl.get("Enabled", False)) == (
        ttl.get("AttributeName"),
        ttl["TimeToLiveStatus"] == "ENABLED",
    )


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda f: f.name)
def test_functions_have_the_same_handler_size_and_environment_names(
    synth: Synthesized, local_aws: Any, spec: topology.FunctionSpec
) -> None:
    local = local_aws.client("lambda").get_function_configuration(FunctionName=spec.name)
    deployed = synth.templates["dev"]["Resources"][
        synth.logical_id(synth.stacks["dev"].functions.by_name[spec.name])
    ]["Properties"]
    assert deployed["Handler"] == local["Handler"] == spec.handler
    assert deployed["Runtime"] == local["Runtime"]
    assert (deployed["Timeout"], deployed["MemorySize"]) == (local["Timeout"], local["MemorySize"])
    local_env = local["Environment"]["Variables"]
    deployed_env = deployed["Environment"]["Variables"]
    assert set(deployed_env) == set(local_env) | set(DEPLOYED_ONLY_ENV)
    # Values that are not resource names are the same too (fault injection is a setting of each
    # deployment: on locally, off in this stack).
    for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"):
        assert deployed_env[name] == local_env[name]


@pytest.mark.parametrize("operation", topology.OPERATIONS)
def test_each_state_machine_is_the_same_definition_bound_to_the_same_resources(
    synth: Synthesized, local_aws: Any, operation: topology.Operation
) -> None:
    stack = synth.stacks["dev"]
    resources = local_aws.resources
    # Found as the code finds it: from the create machine's ARN.
    local = local_aws.client("stepfunctions").describe_state_machine(
        stateMachineArn=topology.machine_arn(resources.state_machine_arn, operation)
    )
    deployed = synth.state_machine(operation)
    assert deployed["StateMachineType"] == local["type"] == "STANDARD"
    assert deployed["StateMachineName"] == f"{local['name']}-{stack.settings.stage}"

    # Name each bound resource by its role in the topology, on both sides, then compare.
    local_roles = {arn: f"function:{name}" for name, arn in resources.function_arns.items()}
    local_roles |= {name: f"table:{key}" for key, name in resources.table_names.items()}
    local_roles[resources.event_bus] = "bus"
    deployed_roles = {
        f"<{synth.logical_id(fn)}.Arn>": f"function:{n}" for n, fn in stack.functions.by_name.items()
    }
    deployed_roles |= {f"<{synth.logical_id(t)}>": f"table:{key}" for key, t in stack.data.tables.items()}
    deployed_roles[f"<{synth.logical_id(stack.data.event_bus)}>"] = "bus"

    local_definition = _by_role(local["definition"], local_roles)
    substitutions = {k: deployed_roles[render(v)] for k, v in deployed["DefinitionSubstitutions"].items()}
    deployed_definition = json.loads(topology.substitute(deployed["DefinitionString"], substitutions))
    assert deployed_definition == local_definition


def _by_role(definition: str, roles: dict[str, str]) -> Any:
    # Longest first, so no name is replaced inside a longer one that contains it.
    pattern = re.compile("|".join(re.escape(v) for v in sorted(roles, key=len, reverse=True)))
    return json.loads(pattern.sub(lambda m: roles[m.group()], definition))
