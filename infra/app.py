"""CDK entry point (cdk.json runs it): `cdk synth|deploy -c stage=dev|prod [-c faultInjection=true]`."""

import sys

import aws_cdk as cdk

from fountain_infra.settings import SettingsError
from fountain_infra.stack import build

app = cdk.App()
try:
    build(app)
except SettingsError as error:
    sys.exit(f"fountain: {error}")  # a refused option is the user's to fix: one line, no traceback
app.synth()
