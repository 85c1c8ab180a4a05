"""Where the system keeps state: the entity tables and the saga ledger (from the topology),
the staging bucket for claim checks, and the event bus for the saga's domain events."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_s3 as s3
from constructs import Construct

from fountain_infra import naming
from fountain_infra.compliance import acknowledge
from fountain_infra.settings import Settings
from fountain_saga import topology

STAGED_PLAYS_PREFIX = topology.STAGING_PREFIX
# A saga reads its staged play within minutes; a week leaves room to investigate a failure.
STAGED_PLAY_EXPIRY = cdk.Duration.days(7)

_ATTRIBUTE_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}


def _attribute(key: topology.KeySpec) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_ATTRIBUTE_TYPES[key.type])


class Data(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.Table] = {
            spec.key: self._table(spec, settings) for spec in topology.TABLES
        }
        self.staging_bucket = s3.Bucket(
            self,
            "StagingBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireStagedPlays",
                    prefix=STAGED_PLAYS_PREFIX,
                    expiration=STAGED_PLAY_EXPIRY,
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=settings.removal_policy,
            # A dev stack must be destroyable, and CloudFormation deletes only an empty bucket.
            auto_delete_objects=not settings.is_prod,
        )
        acknowledge(
            self.staging_bucket,
            "AwsSolutions-S1",
            "The bucket only holds claim checks that the stack's own functions write and read "
            "under their IAM roles and that expire within days; each access is traced (X-Ray) and "
            "logged by those functions, and access logs would need a second bucket of their own.",
        )
        # CloudFormation requires a bus to be named; a prod bus outlives its stack, so the name is
        # one the next deployment cannot ask for again.
        self.event_bus = events.EventBus(
            self, "EventBus", event_bus_name=naming.unique_name(self, cdk.Stack.of(self).stack_name, "events")
        )
        self.event_bus.apply_removal_policy(settings.removal_policy)

    def _table(self, spec: topology.TableSpec, settings: Settings) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            f"{spec.key.capitalize()}Table",
            partition_key=_attribute(spec.partition_key),
            sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=settings.is_prod,
            removal_policy=settings.removal_policy,
            time_to_live_attribute=spec.ttl_attribute,
        )
        for index in spec.indexes:
            # The local runtime projects the same (runtime.table_definition): same reads either way.
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key),
                projection_type=dynamodb.ProjectionType.INCLUDE,
                non_key_attributes=list(index.include),
            )
        return table

    @property
    def table_names(self) -> dict[str, str]:
        return {key: table.table_name for key, table in self.tables.items()}
