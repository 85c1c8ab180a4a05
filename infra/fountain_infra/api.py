"""The HTTP API: API Gateway REST, IAM-authorized, proxying every route to the API function."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from fountain_infra.compliance import acknowledge
from fountain_infra.settings import Settings
from fountain_saga import topology
from fountain_saga.api import cors as cors_lists

# What POST /plays and PUT /plays/{playId} accept (the function answers 415 for anything else).
BODY_MEDIA_TYPES = ("application/json", "text/plain")
# Errors API Gateway answers itself take the API's own error shape, compact like every body the
# function writes, so a client parses one format whoever answered. The code is a stable one of the
# API's (lower case, like the function's); $context.error.messageString is a quoted JSON string.
# A gateway response template only substitutes variables (no VTL), hence a template per type.
GATEWAY_ERROR_CODES: dict[str, str] = {
    "REQUEST_TOO_LARGE": "body_too_large",  # over API Gateway's 10 MB
    "MISSING_AUTHENTICATION_TOKEN": "missing_authentication",  # no SigV4 signature
    "INVALID_SIGNATURE": "invalid_signature",
    "EXPIRED_TOKEN": "expired_token",
    "ACCESS_DENIED": "access_denied",  # signed, but the principal may not invoke the API
    "UNAUTHORIZED": "unauthorized",
    "THROTTLED": "throttled",  # over the stage's rate or burst
    "QUOTA_EXCEEDED": "quota_exceeded",
    "BAD_REQUEST_PARAMETERS": "invalid_parameters",
    "BAD_REQUEST_BODY": "invalid_body",
    "UNSUPPORTED_MEDIA_TYPE": "unsupported_media_type",
    "RESOURCE_NOT_FOUND": "not_found",
    "INTEGRATION_TIMEOUT": "integration_timeout",  # the function ran past 29 s
    "INTEGRATION_FAILURE": "integration_failure",
    "API_CONFIGURATION_ERROR": "internal_error",
    # Any other type API Gateway may add: its name, as it calls it.
    "DEFAULT_4XX": "$context.error.responseType",
    "DEFAULT_5XX": "$context.error.responseType",
}


def error_template(code: str) -> str:
    return '{"error":{"code":"' + code + '","message":$context.error.messageString}}'


class Api(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, handler: lambda_.IFunction, settings: Settings
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=settings.log_retention, removal_policy=settings.removal_policy
        )
        cors = (
            apigw.CorsOptions(
                allow_origins=list(settings.cors_origins),
                allow_methods=list(cors_lists.METHODS),
                allow_headers=list(cors_lists.REQUEST_HEADERS),
                expose_headers=list(cors_lists.EXPOSED_HEADERS),
            )
            if settings.cors_origins
            else None
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"fountain-{settings.stage}",
            description="Fountain: start the sagas that create, revise and delete plays, and follow them",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # The accepted bodies reach the function as the client's bytes (base64), so the
            # function, not API Gateway, judges their encoding: invalid UTF-8 is a 400 there, as
            # locally. Responses are text (isBase64Encoded false) and pass through unchanged.
            binary_media_types=list(BODY_MEDIA_TYPES),
            deploy_options=apigw.StageOptions(
                stage_name=settings.stage,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                # Request and response bodies are plays: keep them out of execution logs.
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=topology.THROTTLE_RATE_PER_SECOND,
                throttling_burst_limit=topology.THROTTLE_BURST,
            ),
            # Execution logging needs the account's API Gateway CloudWatch role; RETAIN because it
            # is one per account and region, shared with every other API there.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
            default_cors_preflight_options=cors,
        )
        # Left to itself, API Gateway creates its execution log group on first use: outside the
        # stack, never expiring, outliving `cdk destroy`. Created here, under the exact name API
        # Gateway writes to and before the stage exists, it has the stage's retention and removal
        # policy. Its name holds the API's id, which is new with every deployment.
        self.execution_logs = logs.LogGroup(
            self,
            "ExecutionLogs",
            # The stage's name as set above, not its Ref: the stage waits for this group.
            log_group_name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{settings.stage}",
            retention=settings.log_retention,
            removal_policy=settings.removal_policy,
        )
        self.rest_api.deployment_stage.node.add_dependency(self.execution_logs)
        # The function's answers carry CORS headers of their own; the gateway's must too, or a
        # browser script sees a 429 or a 403 as a network error.
        cors_headers = {
            name: f"'{value}'" for name, value in cors_lists.gateway_headers(settings.cors_origins).items()
        }
        for response_type, code in GATEWAY_ERROR_CODES.items():
            # API Gateway sends no Retry-After of its own; a token is back within a second at the
            # stage's rate, and the local server says the same.
            retry = {"Retry-After": "'1'"} if response_type == "THROTTLED" else {}
            self.rest_api.add_gateway_response(
                f"Gateway{response_type}",
                type=apigw.ResponseType.of(response_type),
                templates={"application/json": error_template(code)},
                response_headers={**retry, **cors_headers} or None,
            )
        # Parameters only: the function validates bodies (see the APIG2 acknowledgement below).
        validator = self.rest_api.add_request_validator(
            "ParameterValidator", validate_request_parameters=True, validate_request_body=False
        )
        integration = apigw.LambdaIntegration(handler, proxy=True, allow_test_invoke=False)

        def route(resource: apigw.IResource, method: str, parameters: dict[str, bool]) -> None:
            resource.add_method(
                method, integration, request_validator=validator, request_parameters=parameters
            )

        plays = self.rest_api.root.add_resource("plays")
        play = plays.add_resource("{playId}")
        play_id = {"method.request.path.playId": True}
        route(plays, "POST", {"method.request.header.Idempotency-Key": False})
        route(
            plays,
            "GET",
            {f"method.request.querystring.{name}": False for name in ("status", "limit", "nextToken")},
        )
        route(play, "GET", play_id)
        changes = {f"method.request.header.{name}": False for name in ("If-Match", "Idempotency-Key")}
        route(play, "PUT", {**play_id, **changes})
        route(play, "DELETE", {**play_id, **changes})
        fountain = play.add_resource("fountain")
        route(fountain, "GET", play_id)
        sagas = play.add_resource("sagas")
        route(
            sagas,
            "GET",
            {**play_id, **{f"method.request.querystring.{n}": False for n in ("limit", "nextToken")}},
        )
        # Any other method on a route's path reaches the function too, which answers 405 with Allow
        # (and HEAD as GET); without it API Gateway would answer 403 "Missing Authentication Token".
        route(plays, "ANY", {})
        route(play, "ANY", play_id)
        route(fountain, "ANY", play_id)
        route(sagas, "ANY", play_id)
        # Any other path reaches the function too, which answers the API's JSON 404; without it
        # API Gateway would answer 403 "Missing Authentication Token" for an unknown path.
        route(self.rest_api.root.add_resource("{proxy+}"), "ANY", {"method.request.path.proxy": True})

        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG2",
            "Request parameters are validated at the gateway; request bodies are validated by the "
            "function, so every rejection carries the API's documented status and error code "
            "(malformed_json, invalid_body, 413, 415...). A gateway body model would answer some of "
            "those requests first with its own 400 and break the contract the e2e suite checks.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG3",
            "Every method requires SigV4 (IAM) authorization, so anonymous traffic is refused "
            "before it reaches the function, and the stage throttles per second; a WAF web ACL "
            "(a paid, separately managed resource) is for APIs open to the public.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-COG4",
            "The API is authorized with IAM (SigV4) on every method, as the design asks: callers "
            "are AWS principals of the account, not users of a Cognito user pool.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "This is API Gateway's account-level role for execution logging; AWS documents this "
            "managed policy for it, and it grants only CloudWatch Logs writes to API Gateway.",
        )
