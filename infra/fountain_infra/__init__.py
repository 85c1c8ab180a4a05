"""The CDK app that deploys Fountain: small constructs composed by ``stack.FountainStack``."""
