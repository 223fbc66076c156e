"""Checks of template.yaml that cfn-lint and `sam validate --lint` do not make.

Neither linter catches a misspelt IAM action, an invalid runtime name, a `Resource: "*"` where the
action could be scoped, a schedule that runs less often than the threshold, or a public URL that
lets anyone call the Invoke API. This module does.

Run it with cfn-lint installed (it reads the template with cfn-lint's YAML loader, which knows the
short intrinsic forms such as `!Ref` and `!Sub`, and cross-checks the table below against the
Service Authorization Reference data that cfn-lint ships):

    .venv-deploy/bin/python -m unittest tests/deploy/test_template.py -v

`scripts/check-deploy` creates that venv and runs it. Every check is a function that raises
AssertionError; `ChecksCanFail` feeds each one a broken copy of the template, so a check that
could never fail is itself a failure.
"""

from __future__ import annotations

import copy
import fnmatch
import importlib.resources
import itertools
import json
import re
import tomllib
import unittest
from pathlib import Path

try:
    from cfnlint.decode import cfn_yaml
except ImportError as err:  # a missing tool is a failure, never a skip
    raise ImportError(
        "cfn-lint is not installed for this Python: run scripts/check-deploy, or "
        "python3 -m venv .venv-deploy && .venv-deploy/bin/pip install -r "
        "devstack/requirements-deploy.txt, then use .venv-deploy/bin/python"
    ) from err

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"

# The function's environment, exactly as the alert pipeline's contract names it.
# (The log level is not among them: Lambda's LoggingConfig passes it as AWS_LAMBDA_LOG_LEVEL.)
CONTRACT_ENV = {
    "SECRET_ID",
    "THRESHOLD_MINUTES",
    "TIMEZONE",
    # The same names src/settings/layer.rs reads.
    "QUERY_SOURCE",
    "ALERT_MODE",
    "SCHEDULE_MINUTES",
    "MESSAGE_LANGUAGE",
    # Thread mode's DynamoDB table (src/run/mod.rs); see CONDITIONAL_ENV.
    "STATE_TABLE",
}
# Variables that exist only in one ALERT_MODE: the template writes them as
# `!If [Condition, value, !Ref AWS::NoValue]`, and the condition must hold in that mode only.
CONDITIONAL_ENV = {"STATE_TABLE": "thread"}
# The ALERT_MODE that follows queries in a DynamoDB table, and what the table looks like
# (src/state/store.rs: items keyed pk/sk, both strings, expiring through `expires_at`).
THREAD_MODE = "thread"
STATE_KEYS = (("pk", "HASH", "S"), ("sk", "RANGE", "S"))
STATE_TTL_ATTRIBUTE = "expires_at"
# Exactly the calls the function makes on the table: one consistent Query per run, conditional
# writes. No Scan, GetItem, BatchWriteItem or DescribeTable, and no index.
STATE_TABLE_ACTIONS = {
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
}
# What KmsKeyArn-like parameters are given when conditions are evaluated below.
SAMPLE_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VALID_RUNTIMES = {"provided.al2023", "provided.al2"}
SAMPLE_EVENTS = {
    "scheduled.json",
    "scheduler.json",
    "dry-run.json",
    "timezone.json",
    "bad-threshold.json",
}

# Every IAM action this stack may name, with the resource types the Service Authorization
# Reference lists for it. An empty tuple means the action supports no resource-level scoping, so
# `Resource: "*"` is the only possible value and a condition must narrow it instead (see
# STAR_ONLY_CONDITIONS). `test_action_table_matches_the_service_authorization_reference` checks
# this table against the reference data that cfn-lint ships.
ACTIONS: dict[str, tuple[str, ...]] = {
    # the function's role
    "secretsmanager:GetSecretValue": ("Secret",),
    "redshift-data:ExecuteStatement": ("cluster", "workgroup"),
    "redshift-data:DescribeStatement": (),
    "redshift-data:GetStatementResult": (),
    "redshift-data:CancelStatement": (),
    "redshift:GetClusterCredentials": ("dbname", "dbuser"),
    "kms:Decrypt": ("key",),
    "kms:Encrypt": ("key",),
    "kms:GenerateDataKey": ("key",),
    # Query also takes the `index` type (queries on a secondary index); the table has no index
    # and the statement names the table alone.
    "dynamodb:Query": ("index", "table"),
    "dynamodb:PutItem": ("table",),
    "dynamodb:UpdateItem": ("table",),
    "dynamodb:DeleteItem": ("table",),
    "logs:CreateLogStream": ("log-stream",),
    "logs:PutLogEvents": ("log-stream",),
    "sqs:SendMessage": ("queue",),
    # trust policy, resource policies and the schedule's invoke permission
    "sts:AssumeRole": ("role",),
    "lambda:InvokeFunction": ("function",),
    # the Cancel button's public Function URL (a resource policy, never the role's)
    "lambda:InvokeFunctionUrl": ("function",),
}

# Everything the function's own role may call. The Cancel button adds no action: it cancels with
# ExecuteStatement and the own-statement actions, signing in as another database user with
# GetClusterCredentials or GetSecretValue. Never lambda:InvokeFunction: the function does its work
# inside the invocation (no self-invocation, no queue).
ROLE_ACTIONS = {
    "secretsmanager:GetSecretValue",
    "redshift-data:ExecuteStatement",
    "redshift-data:DescribeStatement",
    "redshift-data:GetStatementResult",
    "redshift-data:CancelStatement",
    "redshift:GetClusterCredentials",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "sqs:SendMessage",
} | STATE_TABLE_ACTIONS
# Actions that would let the role invoke a Lambda function, itself included.
LAMBDA_INVOKE_ACTIONS = ("lambda:InvokeFunction", "lambda:InvokeAsync", "lambda:InvokeFunctionUrl")

# The Cancel button: CANCEL_BUTTON=CANCEL_ON adds the public Function URL Slack's interactivity
# posts clicks to, and a database identity of its own that may only cancel (sys:operator):
# temporary credentials for CANCEL_DB_USER, or the stored credentials in CANCEL_SECRET. The
# monitor signs in as MONITOR_DB_USER or MONITOR_SECRET, and the two must differ.
CANCEL_BUTTON = "CancelButton"
CANCEL_ON, CANCEL_OFF = "enabled", "disabled"
CANCEL_DB_USER = "CancelDbUser"
CANCEL_SECRET = "CancelDatabaseSecretArn"
CANCEL_CONCURRENCY = "CancelConcurrency"
MONITOR_DB_USER = "DbUser"
MONITOR_SECRET = "DatabaseSecretArn"
# The secret keys the function reads them from (src/secret/contract.rs).
SECRET_KEY_OF = {
    MONITOR_DB_USER: "db_user",
    MONITOR_SECRET: "redshift_secret_arn",
    CANCEL_DB_USER: "cancel_db_user",
    CANCEL_SECRET: "cancel_redshift_secret_arn",
}
CANCEL_KEYS = {"slack_signing_secret", "cancel_allowed_users"}
# Values the identity parameters are given when grants and rules are evaluated below.
SAMPLE_SECRET_ARNS = (
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:monitor-AbCdEf",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:canceller-GhIjKl",
)
SAMPLE_ALERT_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:alert-MnOpQr"
SAMPLE_DB_USERS = ("monitor", "canceller")
# The two public permissions a Function URL with AuthType NONE needs (Lambda, "Control access to
# Lambda function URLs": since October 2025 a new URL needs both actions), and what each must be
# limited by: InvokeFunctionUrl to URLs with AuthType NONE, InvokeFunction to invocations made
# through a function URL, so that "*" may call the URL but never the Invoke API.
PUBLIC_URL_PERMISSIONS = {
    "lambda:InvokeFunctionUrl": ("FunctionUrlAuthType", "NONE"),
    "lambda:InvokeFunction": ("InvokedViaFunctionUrl", True),
}

# For the actions that only take "*": the Data API's statement-owner condition key limits them to
# the statements the same IAM identity submitted (Redshift Data API, "Authorizing access").
STATEMENT_OWNER = {"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}}
STAR_ONLY_CONDITIONS = {
    "redshift-data:DescribeStatement": STATEMENT_OWNER,
    "redshift-data:GetStatementResult": STATEMENT_OWNER,
    "redshift-data:CancelStatement": STATEMENT_OWNER,
}

NO_VALUE = {"Ref": "AWS::NoValue"}
FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}


def load_template(path: Path = TEMPLATE) -> dict:
    """The template as plain JSON-like data (`!Ref X` becomes `{"Ref": "X"}`)."""
    return json.loads(json.dumps(cfn_yaml.load(str(path))))


def fail(message: str) -> None:
    raise AssertionError(message)


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def resources(template: dict, types: set[str] | str) -> dict[str, dict]:
    types = {types} if isinstance(types, str) else types
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") in types}


def the_function(template: dict) -> tuple[str, dict]:
    functions = resources(template, FUNCTION_TYPES)
    if len(functions) != 1:
        fail(f"expected exactly one Lambda function, found {sorted(functions)}")
    return next(iter(functions.items()))


def function_property(template: dict, name: str):
    """A property of the function, falling back to SAM's Globals."""
    _, function = the_function(template)
    props = function.get("Properties", {})
    if name in props:
        return props[name]
    return template.get("Globals", {}).get("Function", {}).get(name)


def is_ref(value, name: str) -> bool:
    return value == {"Ref": name} or value == {"Fn::GetAtt": [name, "Arn"]}


# ---------------------------------------------------------------------------------------------
# IAM


def branches(item, conditions: tuple[str, ...] = ()):
    """Both sides of an `Fn::If` (minus AWS::NoValue), each with the conditions it needs: a tuple
    of condition names, "!Name" for the false side, empty (falsy) when unconditional."""
    if isinstance(item, dict) and set(item) == {"Fn::If"}:
        name, yes, no = item["Fn::If"]
        for side, condition in ((yes, name), (no, "!" + name)):
            if side != NO_VALUE:
                yield from branches(side, conditions + (condition,))
    else:
        yield item, conditions


# ---------------------------------------------------------------------------------------------
# Conditions, evaluated for given parameter values


def parameter_values(template: dict, **given: str) -> dict[str, str]:
    """Every parameter at its default (empty when it has none), with `given` overriding."""
    values = {
        name: "" if "Default" not in p else str(p["Default"])
        for name, p in template.get("Parameters", {}).items()
    }
    values.update(given)
    return values


def condition_holds(template: dict, expr, params: dict[str, str]) -> bool:
    """A Conditions entry (by name, or its expression) as CloudFormation evaluates it."""
    if isinstance(expr, str):
        if expr not in template.get("Conditions", {}):
            fail(f"condition {expr} is not defined")
        return condition_holds(template, template["Conditions"][expr], params)

    def value(x):
        if isinstance(x, dict) and set(x) == {"Ref"}:
            return params[x["Ref"]]
        if isinstance(x, dict):
            fail(f"cannot evaluate {x} in a condition")
        return str(x)

    if not (isinstance(expr, dict) and len(expr) == 1):
        fail(f"not a condition function: {expr}")
    ((fn, args),) = expr.items()
    if fn == "Condition":
        return condition_holds(template, args, params)
    if fn == "Fn::Equals":
        return value(args[0]) == value(args[1])
    if fn == "Fn::Not":
        return not condition_holds(template, args[0], params)
    if fn == "Fn::And":
        return all(condition_holds(template, x, params) for x in args)
    if fn == "Fn::Or":
        return any(condition_holds(template, x, params) for x in args)
    fail(f"condition function {fn} is not evaluated here")


def deployed(template: dict, conditions, params: dict[str, str]) -> bool:
    """Whether something behind `conditions` (a name, a branches() tuple, or None) exists."""
    if not conditions:
        return True
    for condition in (conditions,) if isinstance(conditions, str) else conditions:
        negated = condition.startswith("!")
        if condition_holds(template, condition.lstrip("!"), params) == negated:
            return False
    return True


def alert_mode_parameter(template: dict) -> str:
    mode = (function_property(template, "Environment") or {}).get("Variables", {}).get("ALERT_MODE")
    if not (isinstance(mode, dict) and set(mode) == {"Ref"}):
        fail("ALERT_MODE must come from a parameter")
    return mode["Ref"]


def exists_in_modes(template: dict, conditions, **given: str) -> set[str]:
    """The alert modes in which something behind `conditions` is deployed, with the `given`
    parameter values and the others at their defaults."""
    param = alert_mode_parameter(template)
    modes = template["Parameters"][param].get("AllowedValues", [])
    return {
        mode
        for mode in modes
        if deployed(template, conditions, parameter_values(template, **{param: mode, **given}))
    }


def iam_statements(template: dict) -> list[tuple[str, dict, tuple[str, ...]]]:
    """Every policy statement anywhere in Resources: (resource, statement, the conditions it is
    behind, as `branches` gives them: empty when unconditional)."""
    found = []

    def walk(node, owner):
        if isinstance(node, dict):
            statements = node.get("Statement")
            if isinstance(statements, (list, dict)):
                for raw in as_list(statements):
                    for statement, conditional in branches(raw):
                        if isinstance(statement, dict) and "Effect" in statement:
                            found.append((owner, statement, conditional))
            for value in node.values():
                walk(value, owner)
        elif isinstance(node, list):
            for value in node:
                walk(value, owner)

    for name, resource in template.get("Resources", {}).items():
        walk(resource.get("Properties", {}), name)
    return found


def check_iam_actions_are_known(template: dict) -> None:
    for owner, statement, _ in iam_statements(template):
        if "NotAction" in statement or "NotResource" in statement:
            fail(f"{owner}: NotAction/NotResource grant more than they seem; name actions and resources")
        for action in as_list(statement.get("Action", [])):
            if not isinstance(action, str) or action not in ACTIONS:
                fail(
                    f"{owner}: IAM action {action!r} is not one this function uses (typo, or a "
                    f"wildcard?): known actions are {sorted(ACTIONS)}"
                )
    for name, permission in resources(template, "AWS::Lambda::Permission").items():
        action = permission["Properties"].get("Action")
        if action not in ACTIONS:
            fail(f"{name}: unknown action {action!r}")


def resource_strings(value) -> list[str]:
    """The literal text of a Resource entry (the template of a `!Sub`), for wildcard checks."""
    out = []
    for item in as_list(value):
        for entry, _ in branches(item):
            if isinstance(entry, str):
                out.append(entry)
            elif isinstance(entry, dict) and "Fn::Sub" in entry:
                sub = entry["Fn::Sub"]
                out.append(sub if isinstance(sub, str) else sub[0])
    return out


def check_no_star_where_scoping_exists(template: dict) -> None:
    for owner, statement, _ in iam_statements(template):
        if statement.get("Effect") != "Allow" or "Resource" not in statement:
            continue
        texts = resource_strings(statement["Resource"])
        actions = as_list(statement.get("Action", []))
        if "*" in texts:
            scoped = [a for a in actions if ACTIONS.get(a)]
            if scoped:
                fail(f"{owner}: Resource \"*\" for {scoped}, which support resource-level scoping")
            for action in actions:
                wanted = STAR_ONLY_CONDITIONS.get(action)
                if wanted is None:
                    fail(f"{owner}: {action} has Resource \"*\" and no known narrowing condition")
                if statement.get("Condition") != wanted:
                    fail(f"{owner}: {action} on \"*\" must carry the condition {wanted}")
        for text in texts:
            if text == "*":
                continue
            # One wildcard is allowed: the log streams of the function's own log group.
            stripped = text[:-2] if text.endswith(":log-group:${AlertLogGroup}:*") else text
            if "*" in stripped or "?" in stripped:
                fail(f"{owner}: wildcard in resource {text!r}; name the one resource")


def check_function_role_is_written_out(template: dict) -> None:
    """SAM's default role adds AWSLambdaBasicExecutionRole (logs:* on "*"): use our own."""
    name, function = the_function(template)
    props = function.get("Properties", {})
    if function["Type"] == "AWS::Serverless::Function" and "Role" not in props:
        fail(f"{name}: no Role, so SAM would attach its managed policies; write the role out")
    for role_name, role in resources(template, "AWS::IAM::Role").items():
        if role["Properties"].get("ManagedPolicyArns"):
            fail(f"{role_name}: managed policies are not written out; use inline statements")
    for policy in as_list(props.get("Policies", [])):
        if not (isinstance(policy, dict) and "Statement" in policy):
            fail(f"{name}: SAM policy {policy!r} is not written out")


def statements_with(template: dict, action: str) -> list[tuple[str, dict, tuple[str, ...]]]:
    return [s for s in iam_statements(template) if action in as_list(s[1].get("Action", []))]


def check_scoped_resources(template: dict) -> None:
    """The resources the contract asks for, one each."""
    arn = "arn:${AWS::Partition}:redshift:${AWS::Region}:${AWS::AccountId}:"
    for _, statement, _ in statements_with(template, "redshift-data:ExecuteStatement"):
        if resource_strings(statement["Resource"]) != [arn + "cluster:${ClusterIdentifier}"]:
            fail(f"ExecuteStatement must name the one cluster, not {statement['Resource']}")
    creds = statements_with(template, "redshift:GetClusterCredentials")
    if not creds:
        fail("redshift:GetClusterCredentials is missing (DbUser authentication)")
    # One statement per database user: the monitor's, or the Cancel button's (which statement
    # exists with which parameters is check_database_identities' business).
    for _, statement, _ in creds:
        if not any(
            sorted(resource_strings(statement["Resource"])) == sorted(
                [
                    arn + "dbuser:${ClusterIdentifier}/${" + user + "}",
                    arn + "dbname:${ClusterIdentifier}/${DatabaseName}",
                ]
            )
            for user in (MONITOR_DB_USER, CANCEL_DB_USER)
        ):
            fail(f"GetClusterCredentials must name one dbuser and one dbname: {statement['Resource']}")
    # The state table: its own ARN, never a pattern, an index or another table.
    table = state_table_name(template)
    for _, statement, _ in dynamodb_statements(template):
        resource = statement.get("Resource")
        if resource != {"Fn::GetAtt": [table, "Arn"]}:
            fail(f"DynamoDB actions must name the one state table ({table}.Arn), not {resource}")
    check_kms_statements(template)


# What each kms:ViaService may be, and the KMS actions the role may call through that service.
KMS_THROUGH = {
    "secretsmanager": {"kms:Decrypt"},
    "dynamodb": {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"},
}


def check_kms_statements(template: dict) -> None:
    """The customer managed key, only when it is given, only through the services that hold data
    encrypted with it: Secrets Manager (the secret) and, in thread mode, DynamoDB (the table)."""
    kms = [
        s
        for s in iam_statements(template)
        if any(str(a).lower().startswith("kms:") for a in as_list(s[1].get("Action", [])))
    ]
    if not statements_with(template, "kms:Decrypt"):
        fail("kms:Decrypt is missing for a customer managed key")
    services = {}
    for _, statement, conditions in kms:
        actions = set(as_list(statement.get("Action", [])))
        if not conditions:
            fail(f"{sorted(actions)} must exist only when a key is given (inside Fn::If)")
        via = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
        services_via = {s: {"Fn::Sub": s + ".${AWS::Region}.amazonaws.com"} for s in KMS_THROUGH}
        service = next((s for s, v in services_via.items() if via == v), None)
        if service is None:
            fail(f"{sorted(actions)} must be limited with kms:ViaService to one of "
                 f"{sorted(KMS_THROUGH)}, not {via}")
        if actions != KMS_THROUGH[service]:
            fail(f"through {service} the role may call {sorted(KMS_THROUGH[service])}, "
                 f"not {sorted(actions)}")
        resource = statement.get("Resource")
        if not (
            isinstance(resource, dict)
            and set(resource) == {"Ref"}
            and resource["Ref"] in template.get("Parameters", {})
        ):
            fail(f"KMS permissions must name the key parameter, not {resource}")
        key = resource["Ref"]
        if exists_in_modes(template, conditions, **{key: ""}):
            fail(f"the KMS statement through {service} exists without a key")
        if service == "dynamodb" and exists_in_modes(
            template, conditions, **{key: SAMPLE_KEY_ARN}
        ) != {THREAD_MODE}:
            fail("the KMS statement through DynamoDB must exist in thread mode with a key, "
                 "only then")
        services[service] = key
    # A table encrypted with the customer managed key is unusable without that statement.
    table = template["Resources"][state_table_name(template)]
    key_id = table["Properties"].get("SSESpecification", {}).get("KMSMasterKeyId")
    keys = {b.get("Ref") for b, _ in branches(key_id) if isinstance(b, dict)} - {None}
    if keys and services.get("dynamodb") not in keys:
        fail(f"the state table may use the key {sorted(keys)}, but the role cannot use it "
             "through DynamoDB")


# ---------------------------------------------------------------------------------------------
# The function


def cargo_binary() -> str:
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    bins = [b["name"] for b in cargo.get("bin", [])] or [cargo["package"]["name"]]
    if len(bins) != 1:
        fail(f"Cargo.toml has {len(bins)} binaries; the template must name which one")
    return bins[0]


def check_runtime_and_build(template: dict) -> None:
    name, function = the_function(template)
    runtime = function_property(template, "Runtime")
    if runtime not in VALID_RUNTIMES:
        fail(f"{name}: Runtime {runtime!r} is not one of {sorted(VALID_RUNTIMES)}")
    if function_property(template, "Architectures") != ["arm64"]:
        fail(f"{name}: Architectures must be [arm64]")
    if function_property(template, "Handler") != "bootstrap":
        fail(f"{name}: Handler must be bootstrap for a provided runtime")
    metadata = function.get("Metadata", {})
    if metadata.get("BuildMethod") != "rust-cargolambda":
        fail(f"{name}: Metadata.BuildMethod must be rust-cargolambda")
    binary = metadata.get("BuildProperties", {}).get("Binary")
    if binary != cargo_binary():
        fail(f"{name}: BuildProperties.Binary {binary!r} is not the crate's binary {cargo_binary()!r}")
    for prop, low, high in (("MemorySize", 128, 1024), ("Timeout", 10, 900)):
        value = function_property(template, prop)
        if not isinstance(value, int) or not low <= value <= high:
            fail(f"{name}: {prop} {value!r} outside {low}..{high}")


def check_environment_is_the_contract(template: dict) -> None:
    variables = (function_property(template, "Environment") or {}).get("Variables", {})
    if set(variables) != CONTRACT_ENV:
        fail(f"environment variables {sorted(variables)} are not the contract's {sorted(CONTRACT_ENV)}")
    for name, value in variables.items():
        sides = list(branches(value))
        absent = (
            isinstance(value, dict) and set(value) == {"Fn::If"} and NO_VALUE in value["Fn::If"][1:]
        )
        if name not in CONDITIONAL_ENV:
            if absent:
                fail(f"{name} must be set in every mode, not behind {value['Fn::If'][0]}")
            continue
        if not absent or len(sides) != 1:
            fail(f"{name} must be `!If [Condition, value, !Ref AWS::NoValue]`, not {value}")
        _, conditions = sides[0]
        modes = exists_in_modes(template, conditions)
        if modes != {CONDITIONAL_ENV[name]}:
            fail(f"{name} is set in the modes {sorted(modes)}, "
                 f"not in {CONDITIONAL_ENV[name]!r} only")


# ---------------------------------------------------------------------------------------------
# Thread mode's state table


def state_table_name(template: dict) -> str:
    """The table STATE_TABLE names: `!If [Condition, !Ref Table, !Ref AWS::NoValue]`."""
    variables = (function_property(template, "Environment") or {}).get("Variables", {})
    value = variables.get("STATE_TABLE")
    refs_ = [b["Ref"] for b, _ in branches(value) if isinstance(b, dict) and set(b) == {"Ref"}]
    tables = resources(template, "AWS::DynamoDB::Table")
    if len(refs_) != 1 or refs_[0] not in tables:
        fail(f"STATE_TABLE must name the stack's DynamoDB table, not {value}")
    if len(tables) != 1:
        fail(f"expected one DynamoDB table, found {sorted(tables)}")
    return refs_[0]


def check_state_table(template: dict) -> None:
    """On demand, keyed pk/sk (strings), expiring by TTL, encrypted, created in thread mode only."""
    name = state_table_name(template)
    table = template["Resources"][name]
    props = table.get("Properties", {})
    # In thread mode only, with or without a customer managed key.
    key_id = props.get("SSESpecification", {}).get("KMSMasterKeyId")
    keys = {b.get("Ref") for b, _ in branches(key_id) if isinstance(b, dict)} - {None}
    for given in [{}] + [{k: v} for k in sorted(keys) for v in ("", SAMPLE_KEY_ARN)]:
        modes = exists_in_modes(template, table.get("Condition"), **given)
        if modes != {THREAD_MODE}:
            fail(f"{name} is created in the modes {sorted(modes)} ({given}), "
                 f"not in {THREAD_MODE!r} only")
    # Provisioned capacity is the default when BillingMode is absent.
    if props.get("BillingMode") != "PAY_PER_REQUEST" or "ProvisionedThroughput" in props:
        fail(f"{name} must be on demand (BillingMode PAY_PER_REQUEST): a few writes per query")
    schema = [(k.get("AttributeName"), k.get("KeyType")) for k in props.get("KeySchema", [])]
    if schema != [(attr, kind) for attr, kind, _ in STATE_KEYS]:
        fail(f"{name} must be keyed {[(a, k) for a, k, _ in STATE_KEYS]}, not {schema}")
    definitions = sorted(
        (d.get("AttributeName"), d.get("AttributeType"))
        for d in props.get("AttributeDefinitions", [])
    )
    if definitions != sorted((attr, kind) for attr, _, kind in STATE_KEYS):
        fail(f"{name}'s attributes must be {[(a, t) for a, _, t in STATE_KEYS]}, not {definitions}")
    for index in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(index):
            fail(f"{name} has {index}: the function queries the table only (and the role no index)")
    ttl = props.get("TimeToLiveSpecification", {})
    if ttl.get("AttributeName") != STATE_TTL_ATTRIBUTE or ttl.get("Enabled") not in (True, "true"):
        fail(f"{name} needs TTL on {STATE_TTL_ATTRIBUTE!r}, enabled, or ended queries pile up: "
             f"{ttl}")
    sse = props.get("SSESpecification", {})
    if sse.get("SSEEnabled") not in (True, "true"):
        fail(f"{name} must be encrypted with a KMS key (SSESpecification.SSEEnabled true): {sse}")
    if "KMSMasterKeyId" in sse and sse.get("SSEType") != "KMS":
        fail(f"{name}: a KMSMasterKeyId needs SSEType KMS")


def dynamodb_statements(template: dict) -> list[tuple[str, dict, tuple]]:
    """Every statement that grants any DynamoDB action, wildcards included."""

    def grants_dynamodb(action) -> bool:
        text = str(action).lower()
        return text.startswith("dynamodb:") or fnmatch.fnmatchcase("dynamodb:anyaction", text)

    return [
        s for s in iam_statements(template)
        if any(grants_dynamodb(a) for a in as_list(s[1].get("Action", [])))
    ]


def check_state_table_access(template: dict) -> None:
    """One statement, in thread mode only: exactly the four calls, on exactly the state table."""
    table = state_table_name(template)
    found = dynamodb_statements(template)
    if len(found) != 1:
        fail(f"expected one statement granting DynamoDB actions, found {[o for o, _, _ in found]}")
    owner, statement, conditions = found[0]
    _, function = the_function(template)
    role = function.get("Properties", {}).get("Role")
    if not is_ref(role, owner):
        fail(f"the DynamoDB statement belongs to {owner}, not the function's role")
    actions = as_list(statement.get("Action", []))
    if (
        statement.get("Effect") != "Allow"
        or set(actions) != STATE_TABLE_ACTIONS
        or len(actions) != len(STATE_TABLE_ACTIONS)
    ):
        fail(f"the state table allows {actions}, not exactly {sorted(STATE_TABLE_ACTIONS)}")
    if statement.get("Resource") != {"Fn::GetAtt": [table, "Arn"]}:
        fail(f"the DynamoDB statement must name {table}.Arn alone, not {statement.get('Resource')}")
    modes = exists_in_modes(template, conditions)
    if modes != {THREAD_MODE}:
        fail(f"the DynamoDB statement exists in the modes {sorted(modes)}, "
             f"not in {THREAD_MODE!r} only")


def event_invoke_config(template: dict) -> dict:
    name, function = the_function(template)
    configs = [function.get("Properties", {}).get("EventInvokeConfig")]
    for resource in resources(template, "AWS::Lambda::EventInvokeConfig").values():
        if is_ref(resource["Properties"].get("FunctionName"), name):
            configs.append(resource["Properties"])
    configs = [c for c in configs if c]
    if len(configs) != 1:
        fail(f"{name}: expected one EventInvokeConfig, found {len(configs)}")
    return configs[0]


def check_retries_are_deliberate(template: dict) -> None:
    config = event_invoke_config(template)
    if "MaximumRetryAttempts" not in config:
        fail("EventInvokeConfig.MaximumRetryAttempts is not set (Lambda would retry twice)")
    if config["MaximumRetryAttempts"] != 0:
        fail("MaximumRetryAttempts must be 0: a retry can post the same alert twice")
    if "MaximumEventAgeInSeconds" not in config:
        fail("EventInvokeConfig.MaximumEventAgeInSeconds is not set")
    if not config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"):
        fail("no on-failure destination: a broken monitor would go unnoticed")


def check_watchers(template: dict) -> None:
    name, _ = the_function(template)
    metrics = {
        a["Properties"].get("MetricName")
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if {"Name": "FunctionName", "Value": {"Ref": name}} in a["Properties"].get("Dimensions", [])
    }
    for metric in ("Errors", "Throttles"):
        if metric not in metrics:
            fail(f"no CloudWatch alarm on the function's {metric}")
    logging = function_property(template, "LoggingConfig") or {}
    groups = resources(template, "AWS::Logs::LogGroup")
    target = logging.get("LogGroup")
    if not (isinstance(target, dict) and target.get("Ref") in groups):
        fail("LoggingConfig.LogGroup must point at the stack's own AWS::Logs::LogGroup")
    if "RetentionInDays" not in groups[target["Ref"]]["Properties"]:
        fail("the log group has no RetentionInDays")
    # JSON lines let Lambda filter by level and Logs Insights query top-level keys; the level is
    # Lambda's own setting, not an environment variable of ours.
    if logging.get("LogFormat") != "JSON":
        fail("LoggingConfig.LogFormat must be JSON (the function follows AWS_LAMBDA_LOG_FORMAT)")
    level = logging.get("ApplicationLogLevel")
    if not (isinstance(level, dict) and "Ref" in level):
        fail("LoggingConfig.ApplicationLogLevel must come from a parameter")


def check_parameters_are_described(template: dict) -> None:
    for name, parameter in template.get("Parameters", {}).items():
        if len(parameter.get("Description", "")) < 20:
            fail(f"parameter {name} has no real Description")
        if parameter.get("Type") == "String" and not (
            "AllowedValues" in parameter or "AllowedPattern" in parameter
        ):
            fail(f"parameter {name} is unconstrained")


def check_outputs(template: dict) -> None:
    outputs = template.get("Outputs", {})
    for key in ("FunctionName", "FunctionArn", "SecretArn", "LogGroupName", "InvokeCommand"):
        if key not in outputs:
            fail(f"output {key} is missing")
    command = outputs["InvokeCommand"]["Value"]["Fn::Sub"]
    for part in ("aws lambda invoke", "--cli-binary-format raw-in-base64-out", "--payload file://events/"):
        if part not in command:
            fail(f"InvokeCommand lacks {part!r}")
    payload = re.search(r"file://(\S+)", command).group(1)
    if not (ROOT / payload).is_file():
        fail(f"InvokeCommand's payload {payload} does not exist")


# ---------------------------------------------------------------------------------------------
# The schedule against the threshold


def evaluate(expr, params: dict[str, str]):
    """The CloudFormation rule functions, as CloudFormation evaluates them."""
    if isinstance(expr, list):
        return [evaluate(x, params) for x in expr]
    if isinstance(expr, dict):
        if len(expr) != 1:
            fail(f"not a rule function: {expr}")
        ((fn, args),) = expr.items()
        if fn == "Ref":
            return params[args]
        if fn == "Fn::Equals":
            a, b = (evaluate(x, params) for x in args)
            return a == b
        if fn == "Fn::Not":
            return not evaluate(args[0], params)
        if fn == "Fn::And":
            return all(evaluate(x, params) for x in args)
        if fn == "Fn::Or":
            return any(evaluate(x, params) for x in args)
        if fn == "Fn::Contains":
            return evaluate(args[1], params) in evaluate(args[0], params)
        fail(f"rule function {fn} is not evaluated here")
    return str(expr)


def refs(node) -> set[str]:
    if isinstance(node, dict):
        own = {node["Ref"]} if isinstance(node.get("Ref"), str) else set()
        return own.union(*(refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


def schedules(template: dict) -> list[tuple[str, dict, str | None]]:
    """Every schedule invoking the function: (kind, properties, condition)."""
    name, function = the_function(template)
    found = []
    for rule in resources(template, "AWS::Events::Rule").values():
        props = rule["Properties"]
        if any(is_ref(t.get("Arn"), name) for t in props.get("Targets", [])):
            found.append(("rule", props, rule.get("Condition")))
    for schedule in resources(template, "AWS::Scheduler::Schedule").values():
        if is_ref(schedule["Properties"].get("Target", {}).get("Arn"), name):
            found.append(("scheduler", schedule["Properties"], schedule.get("Condition")))
    for event in function.get("Properties", {}).get("Events", {}).values():
        if event.get("Type") in ("Schedule", "ScheduleV2"):
            props = dict(event.get("Properties", {}))
            props.setdefault("ScheduleExpression", props.get("Schedule"))
            found.append((event["Type"], props, None))
    return found


def check_one_schedule_runs(template: dict) -> None:
    """Several schedules are allowed only as alternatives: each behind its own condition, the
    conditions telling apart the values of one parameter, so exactly one is ever deployed."""
    found = schedules(template)
    if not found:
        fail("no schedule invokes the function")
    if len(found) == 1:
        return
    conditions = template.get("Conditions", {})
    choices = []
    for kind, _, condition in found:
        equals = conditions.get(condition, {}).get("Fn::Equals") if condition else None
        if not (isinstance(equals, list) and isinstance(equals[0], dict) and "Ref" in equals[0]):
            fail(f"the {kind} schedule is not behind a condition choosing one schedule kind")
        choices.append((equals[0]["Ref"], equals[1]))
    if len({param for param, _ in choices}) != 1 or len(set(choices)) != len(choices):
        fail(f"the schedules' conditions {choices} do not exclude each other")


def check_scheduler_target(template: dict) -> None:
    """The Scheduler schedule: on time, no retries, dead letters kept, the scheduled time passed."""
    for kind, props, _ in schedules(template):
        if kind != "scheduler":
            continue
        if props.get("FlexibleTimeWindow", {}).get("Mode") != "OFF":
            fail("the Scheduler schedule needs FlexibleTimeWindow OFF: a late run can miss a window")
        target = props.get("Target", {})
        if target.get("RetryPolicy", {}).get("MaximumRetryAttempts") != 0:
            fail("the Scheduler target must not retry (a retry can post the same alert twice)")
        if not target.get("DeadLetterConfig", {}).get("Arn"):
            fail("the Scheduler target has no dead-letter queue")
        if not target.get("RoleArn"):
            fail("the Scheduler target has no execution role")
        try:
            given = json.loads(target.get("Input", ""))
        except ValueError:
            fail("the Scheduler target's Input is not JSON")
        if given.get("scheduled_time") != "<aws.scheduler.scheduled-time>":
            fail("the Scheduler target must pass <aws.scheduler.scheduled-time> as scheduled_time")


def check_schedule_is_shorter_than_threshold(template: dict) -> None:
    found = schedules(template)
    if not found:
        fail("no schedule invokes the function")
    for _, props, _ in found:
        check_schedule_expression(template, props.get("ScheduleExpression"))


def check_schedule_expression(template: dict, expression) -> None:
    if not (isinstance(expression, dict) and "Fn::FindInMap" in expression):
        fail(f"the schedule {expression!r} is fixed: derive it from the rate parameter the Rules check")
    mapping, key, attribute = expression["Fn::FindInMap"]
    if not (isinstance(key, dict) and "Ref" in key):
        fail("the schedule's mapping key must be the rate parameter")
    rate_param = key["Ref"]
    threshold = (function_property(template, "Environment") or {}).get("Variables", {}).get(
        "THRESHOLD_MINUTES"
    )
    if not (isinstance(threshold, dict) and "Ref" in threshold):
        fail("THRESHOLD_MINUTES must come from a parameter")
    threshold_param = threshold["Ref"]
    parameters = template["Parameters"]
    rates = parameters[rate_param].get("AllowedValues")
    if not rates:
        fail(f"{rate_param} needs AllowedValues so that each rate has a rule")
    pattern = parameters[threshold_param].get("AllowedPattern")
    if parameters[threshold_param].get("Type") != "String" or not pattern:
        fail(f"{threshold_param} must be a String with a strict AllowedPattern to be compared")
    thresholds = [str(t) for t in range(1, 10081)]
    for text in thresholds:
        if not re.fullmatch(pattern, text):
            fail(f"{threshold_param}'s pattern refuses the valid threshold {text}")
    for bad in ("0", "01", "007", "10081", "99999", "1.5", "-3", "thirty", ""):
        if re.fullmatch(pattern, bad):
            fail(f"{threshold_param}'s pattern accepts {bad!r}")

    # Only the rules about these two parameters; the others need other parameters.
    rules = [
        r for r in template.get("Rules", {}).values() if refs(r) & {rate_param, threshold_param}
    ]
    if not rules:
        fail("no CloudFormation Rules constrain the schedule's rate against the threshold")

    def accepted(params):
        for rule in rules:
            if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], params):
                continue
            if not all(evaluate(a["Assert"], params) for a in rule.get("Assertions", [])):
                return False
        return True

    for rate in rates:
        minutes = int(rate)
        want = f"rate({minutes} minute)" if minutes == 1 else f"rate({minutes} minutes)"
        got = template["Mappings"][mapping][str(rate)][attribute]
        if got != want:
            fail(f"rate {rate} maps to the schedule {got!r}, not {want!r}")
        for text in thresholds:
            if accepted({rate_param: str(rate), threshold_param: text}) != (minutes < int(text)):
                fail(
                    f"the Rules {'accept' if minutes >= int(text) else 'refuse'} rate {rate} with "
                    f"threshold {text}: a rate must be accepted exactly when it is below the threshold"
                )


def check_schedule_state_is_a_parameter(template: dict) -> None:
    for _, props, _ in schedules(template):
        state = props.get("State")
        if not (isinstance(state, dict) and "Ref" in state):
            fail("the schedule's State must be a parameter")
        if set(template["Parameters"][state["Ref"]].get("AllowedValues", [])) != {"ENABLED", "DISABLED"}:
            fail("the schedule state parameter must allow exactly ENABLED and DISABLED")


# ---------------------------------------------------------------------------------------------
# The Cancel button: a public Function URL, a capped concurrency, a database identity of its own

ALERT_SECRET_PARAMETER = "ExistingSecretArn"
INTERACTIVITY_OUTPUT = "InteractivityRequestUrl"
# Stand-ins for pseudo parameters when an output is rendered.
PSEUDO_PARAMETERS = {
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "long-query-alert",
}


def resolve(template: dict, node, params: dict[str, str]):
    """`node` with every Fn::If decided for `params`; None where only AWS::NoValue is left."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, yes, no = node["Fn::If"]
            side = yes if condition_holds(template, name, params) else no
            return resolve(template, side, params)
        if node == NO_VALUE:
            return None
        return {k: resolve(template, v, params) for k, v in node.items()}
    if isinstance(node, list):
        return [x for x in (resolve(template, v, params) for v in node) if x is not None]
    return node


def resource_text(resource) -> str:
    """A resolved Resource entry as text: `!Ref X` reads ${X}, `!GetAtt X.Arn` ${X.Arn}."""
    if isinstance(resource, str):
        return resource
    if isinstance(resource, dict) and set(resource) == {"Ref"}:
        return "${" + resource["Ref"] + "}"
    if isinstance(resource, dict) and set(resource) == {"Fn::GetAtt"}:
        return "${" + ".".join(resource["Fn::GetAtt"]) + "}"
    if isinstance(resource, dict) and set(resource) == {"Fn::Sub"}:
        sub = resource["Fn::Sub"]
        if isinstance(sub, str):
            return sub
    fail(f"cannot read the resource {resource}")


def function_role(template: dict) -> str:
    name, function = the_function(template)
    role = function.get("Properties", {}).get("Role")
    if not (isinstance(role, dict) and set(role) == {"Fn::GetAtt"} and role["Fn::GetAtt"][1] == "Arn"):
        fail(f"{name}: Role must be the stack's own role (!GetAtt Role.Arn), not {role}")
    return role["Fn::GetAtt"][0]


def role_grants(template: dict, params: dict[str, str]) -> set[tuple[str, str]]:
    """(action, resource) pairs the function's role allows with these parameter values."""
    role = function_role(template)
    grants = set()
    for owner, statement, conditions in iam_statements(template):
        # The trust policy's statements name a Principal, not a Resource.
        if owner != role or "Principal" in statement or statement.get("Effect") != "Allow":
            continue
        if not deployed(template, conditions, params):
            continue
        for action in as_list(statement.get("Action", [])):
            for resource in as_list(resolve(template, statement.get("Resource"), params)):
                grants.add((action, resource_text(resource)))
    return grants


def shown(params: dict[str, str], names=None) -> dict[str, str]:
    names = names or (CANCEL_BUTTON, MONITOR_DB_USER, MONITOR_SECRET, CANCEL_DB_USER, CANCEL_SECRET)
    return {n: params[n] for n in names if n in params}


def cancel_button_values(template: dict) -> list[str]:
    parameter = template.get("Parameters", {}).get(CANCEL_BUTTON)
    if parameter is None:
        fail(f"the {CANCEL_BUTTON} parameter is missing")
    values = parameter.get("AllowedValues", [])
    if sorted(values) != sorted([CANCEL_ON, CANCEL_OFF]):
        fail(f"{CANCEL_BUTTON} must allow exactly {CANCEL_OFF} and {CANCEL_ON}, not {values}")
    # The URL is public: nobody gets one without asking for it.
    if parameter.get("Default") != CANCEL_OFF:
        fail(f"{CANCEL_BUTTON} must default to {CANCEL_OFF}: the URL it adds is public")
    return values


def identity_matrix(template: dict):
    """Every combination of the button (on, off), the monitor's identity and the canceller's (each
    empty or given) and the alert secret (created or given): all parameters, the rest defaults."""
    choices = {
        CANCEL_BUTTON: cancel_button_values(template),
        MONITOR_DB_USER: ("", SAMPLE_DB_USERS[0]),
        MONITOR_SECRET: ("", SAMPLE_SECRET_ARNS[0]),
        CANCEL_DB_USER: ("", SAMPLE_DB_USERS[1]),
        CANCEL_SECRET: ("", SAMPLE_SECRET_ARNS[1]),
        ALERT_SECRET_PARAMETER: ("", SAMPLE_ALERT_SECRET_ARN),
    }
    for values in itertools.product(*choices.values()):
        yield parameter_values(template, **dict(zip(choices, values)))


def button_matrix(template: dict):
    """The button on and off, in every alert mode, with either cancel identity or none."""
    mode = alert_mode_parameter(template)
    choices = {
        CANCEL_BUTTON: cancel_button_values(template),
        CANCEL_DB_USER: ("", SAMPLE_DB_USERS[1]),
        CANCEL_SECRET: ("", SAMPLE_SECRET_ARNS[1]),
        mode: template["Parameters"][mode].get("AllowedValues", []),
    }
    for values in itertools.product(*choices.values()):
        yield parameter_values(template, **dict(zip(choices, values)))


def require_with_the_button(template: dict, what: str, conditions) -> None:
    """`what`, behind `conditions`, exists exactly when the button is on, whatever else is set."""
    for params in button_matrix(template):
        on = params[CANCEL_BUTTON] == CANCEL_ON
        if deployed(template, conditions, params) != on:
            fail(f"{what} must exist exactly when {CANCEL_BUTTON}={CANCEL_ON}, but with "
                 f"{shown(params, None)} and the other parameters at their defaults it "
                 f"{'does not' if on else 'does'}")


def check_database_identities(template: dict) -> None:
    """The role may sign in to Redshift as exactly the identities the parameters name: the
    monitor's (DbUser or DatabaseSecretArn) and, only with the Cancel button on, the canceller's
    (CancelDbUser or CancelDatabaseSecretArn), each only when it is given, each scoped to that one
    user (and the one database) or that one secret."""
    arn = "arn:${AWS::Partition}:redshift:${AWS::Region}:${AWS::AccountId}:"
    dbname = arn + "dbname:${ClusterIdentifier}/${DatabaseName}"
    variables = (function_property(template, "Environment") or {}).get("Variables", {})
    sign_in = ("redshift:GetClusterCredentials", "secretsmanager:GetSecretValue")
    for params in identity_matrix(template):
        on = params[CANCEL_BUTTON] == CANCEL_ON
        users = [u for u, used in ((MONITOR_DB_USER, True), (CANCEL_DB_USER, on)) if used and params[u]]
        secrets = [s for s, used in ((MONITOR_SECRET, True), (CANCEL_SECRET, on)) if used and params[s]]
        # The alert secret itself, as SECRET_ID names it.
        want = {("secretsmanager:GetSecretValue", resource_text(resolve(template, variables.get("SECRET_ID"), params)))}
        want |= {("secretsmanager:GetSecretValue", "${" + s + "}") for s in secrets}
        for user in users:
            want.add(("redshift:GetClusterCredentials", arn + "dbuser:${ClusterIdentifier}/${" + user + "}"))
            want.add(("redshift:GetClusterCredentials", dbname))
        got = {g for g in role_grants(template, params) if g[0] in sign_in}
        if got != want:
            fail(f"with {shown(params)} the role's sign-in grants are wrong: more than asked "
                 f"{sorted(got - want)}, missing {sorted(want - got)}")


def check_function_role_actions(template: dict) -> None:
    """The role calls only what the function uses, and never invokes a Lambda function: the
    Cancel button works inside the invocation Slack's request started (no self-invocation)."""
    role = function_role(template)
    for owner, statement, _ in iam_statements(template):
        if owner != role or "Principal" in statement:
            continue
        for action in as_list(statement.get("Action", [])):
            text = str(action).lower()
            invoke = [a for a in LAMBDA_INVOKE_ACTIONS if fnmatch.fnmatchcase(a.lower(), text)]
            if invoke:
                fail(f"{role} may call {action} (that is {invoke}): the function never invokes a "
                     "function, itself included")
            if action not in ROLE_ACTIONS:
                fail(f"{role} may call {action}, which the function does not use; its actions are "
                     f"{sorted(ROLE_ACTIONS)}")


def check_function_url(template: dict) -> None:
    """With the button on, and only then: one Function URL on the function, AuthType NONE (Slack
    cannot sign AWS requests; the function checks Slack's signature), buffered, no CORS; the
    public permissions are exactly the two a NONE URL needs, each limited to the URL; the output
    Slack's app is configured with."""
    name, function = the_function(template)
    if "FunctionUrlConfig" in function.get("Properties", {}):
        fail(f"{name}: write the URL and its permissions out instead of SAM's FunctionUrlConfig")
    urls = resources(template, "AWS::Lambda::Url")
    if len(urls) != 1:
        fail(f"expected one AWS::Lambda::Url (the Cancel button's), found {sorted(urls)}")
    url_name, url = next(iter(urls.items()))
    props = url.get("Properties", {})
    if not is_ref(props.get("TargetFunctionArn"), name):
        fail(f"{url_name} must target {name}, not {props.get('TargetFunctionArn')}")
    if props.get("AuthType") != "NONE":
        fail(f"{url_name}: AuthType must be NONE (Slack cannot sign AWS requests; the function "
             f"verifies Slack's signature), not {props.get('AuthType')}")
    if props.get("InvokeMode") != "BUFFERED":
        fail(f"{url_name}: InvokeMode must be BUFFERED (one answer to Slack), not {props.get('InvokeMode')}")
    if "Cors" in props or "Qualifier" in props:
        fail(f"{url_name}: no Cors (only Slack's servers call it) and no Qualifier")
    require_with_the_button(template, url_name, url.get("Condition"))

    # Every grant to "*" on the function: only the URL's two, each limited to it.
    public: dict[str, str] = {}
    for perm_name, permission in resources(template, "AWS::Lambda::Permission").items():
        perm = permission.get("Properties", {})
        if perm.get("Principal") != "*":
            continue
        action = perm.get("Action")
        if action not in PUBLIC_URL_PERMISSIONS:
            fail(f"{perm_name} allows anyone {action}: only {sorted(PUBLIC_URL_PERMISSIONS)}, "
                 "limited to the URL, may be public")
        key, value = PUBLIC_URL_PERMISSIONS[action]
        # A boolean may be written as the string "true"; the auth type only as NONE.
        accepted = (value, "true") if value is True else (value,)
        if not any(perm.get(key) == a and type(perm.get(key)) is type(a) for a in accepted):
            fail(f"{perm_name} allows anyone {action} without {key}: {value}; that lets anyone "
                 "call the function " + ("through the Invoke API" if action == "lambda:InvokeFunction"
                                          else "through a URL of any auth type"))
        if not is_ref(perm.get("FunctionName"), name):
            fail(f"{perm_name} must name {name}, not {perm.get('FunctionName')}")
        if action in public.values():
            fail(f"{perm_name} repeats the public {action} permission")
        require_with_the_button(template, perm_name, permission.get("Condition"))
        public[perm_name] = action
    missing = set(PUBLIC_URL_PERMISSIONS) - set(public.values())
    if missing:
        fail(f"the URL lacks the public {sorted(missing)} permission: since October 2025 a URL "
             "with AuthType NONE needs both lambda:InvokeFunctionUrl and lambda:InvokeFunction")

    output = template.get("Outputs", {}).get(INTERACTIVITY_OUTPUT)
    if output is None:
        fail(f"output {INTERACTIVITY_OUTPUT} (the Slack app's Request URL) is missing")
    if output.get("Value") != {"Fn::GetAtt": [url_name, "FunctionUrl"]}:
        fail(f"{INTERACTIVITY_OUTPUT} must be {url_name}.FunctionUrl, not {output.get('Value')}")
    require_with_the_button(template, f"output {INTERACTIVITY_OUTPUT}", output.get("Condition"))


def check_reserved_concurrency(template: dict) -> None:
    """With the button on, a reserved concurrency from CancelConcurrency caps what requests to a
    public URL can run; without it, none is reserved. It also caps the schedule, which needs 1."""
    name, _ = the_function(template)
    value = function_property(template, "ReservedConcurrentExecutions")
    for params in button_matrix(template):
        on = params[CANCEL_BUTTON] == CANCEL_ON
        got = resolve(template, value, params)
        want = {"Ref": CANCEL_CONCURRENCY} if on else None
        if got != want:
            fail(f"{name}: with {shown(params, None)} ReservedConcurrentExecutions must be "
                 f"{want if on else 'unset (AWS::NoValue)'}, not {got}")
    parameter = template.get("Parameters", {}).get(CANCEL_CONCURRENCY, {})
    if parameter.get("Type") != "Number":
        fail(f"{CANCEL_CONCURRENCY} must be a Number")
    try:
        low, high = int(parameter["MinValue"]), int(parameter["MaxValue"])
        default = int(parameter["Default"])
    except (KeyError, ValueError):
        fail(f"{CANCEL_CONCURRENCY} needs a MinValue, a MaxValue and a Default")
    if low < 1:
        fail(f"{CANCEL_CONCURRENCY} must be at least 1: 0 would stop every run, the schedule's too")
    if not low <= default <= high:
        fail(f"{CANCEL_CONCURRENCY}'s default {default} is outside {low}..{high}")


def rules_about(template: dict, names: set[str]) -> list[dict]:
    return [r for r in template.get("Rules", {}).values() if refs(r) & names]


def rules_accept(rules: list[dict], params: dict[str, str]) -> bool:
    for rule in rules:
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], params):
            continue
        if not all(evaluate(a["Assert"], params) for a in rule.get("Assertions", [])):
            return False
    return True


def check_cancel_identity_rule(template: dict) -> None:
    """The Rules accept the button exactly with one cancel identity that is not the monitor's:
    one of CancelDbUser and CancelDatabaseSecretArn, CancelDbUser not DbUser, the secret not
    DatabaseSecretArn. With the button off, the cancel parameters are ignored."""
    parameters = template.get("Parameters", {})
    # The comparison with the monitor's is exact only if both allow the same spellings.
    for cancel, monitor in ((CANCEL_DB_USER, MONITOR_DB_USER), (CANCEL_SECRET, MONITOR_SECRET)):
        got = parameters.get(cancel, {}).get("AllowedPattern")
        if got != parameters.get(monitor, {}).get("AllowedPattern"):
            fail(f"{cancel}'s AllowedPattern {got!r} must be {monitor}'s, so that comparing the two "
                 "is exact")
    rules = rules_about(template, {CANCEL_BUTTON, CANCEL_DB_USER, CANCEL_SECRET})
    if not rules:
        fail("no CloudFormation Rule constrains the Cancel button's identity")
    users, arns = ("",) + SAMPLE_DB_USERS, ("",) + SAMPLE_SECRET_ARNS
    for values in itertools.product(cancel_button_values(template), users, arns, users, arns):
        given = dict(zip((CANCEL_BUTTON, MONITOR_DB_USER, MONITOR_SECRET, CANCEL_DB_USER, CANCEL_SECRET), values))
        params = parameter_values(template, **given)
        user, secret = given[CANCEL_DB_USER], given[CANCEL_SECRET]
        want = given[CANCEL_BUTTON] != CANCEL_ON or (
            bool(user) != bool(secret)
            and (not user or user != given[MONITOR_DB_USER])
            and (not secret or secret != given[MONITOR_SECRET])
        )
        if rules_accept(rules, params) != want:
            fail(f"the Rules {'refuse' if want else 'accept'} {given}: with the button on they must "
                 "accept exactly one cancel identity, and not the monitor's")


def check_parameter_groups(template: dict) -> None:
    """Every parameter in exactly one group of the console's form, and no group names a stranger."""
    groups = (
        template.get("Metadata", {}).get("AWS::CloudFormation::Interface", {}).get("ParameterGroups", [])
    )
    grouped = [name for group in groups for name in group.get("Parameters", [])]
    parameters = set(template.get("Parameters", {}))
    if sorted(grouped) != sorted(parameters):
        repeated = sorted({n for n in grouped if grouped.count(n) > 1})
        fail(f"parameter groups: ungrouped {sorted(parameters - set(grouped))}, unknown "
             f"{sorted(set(grouped) - parameters)}, repeated {repeated}")


def render(template: dict, node, params: dict[str, str]) -> str:
    """A string-valued property as CloudFormation would produce it (resources read <Name>)."""
    node = resolve(template, node, params)
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and set(node) == {"Ref"}:
        name = node["Ref"]
        if name in params:
            return params[name]
        return PSEUDO_PARAMETERS.get(name, f"<{name}>")
    if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
        sub = node["Fn::Sub"]
        text, variables = (sub, {}) if isinstance(sub, str) else sub
        values = {k: render(template, v, params) for k, v in variables.items()}

        def one(match):
            name = match.group(1)
            if name in values:
                return values[name]
            return render(template, {"Ref": name}, params)

        return re.sub(r"\$\{([^!}][^}]*)\}", one, text)
    fail(f"cannot render {node}")


def check_put_secret_command(template: dict) -> None:
    """PutSecretCommand writes the whole secret as valid JSON, with the sign-in the parameters
    name and, with the button on (and only then), the Cancel button's keys and identity."""
    output = template.get("Outputs", {}).get("PutSecretCommand")
    if output is None:
        fail("output PutSecretCommand is missing")
    cancel_keys = CANCEL_KEYS | {SECRET_KEY_OF[CANCEL_DB_USER], SECRET_KEY_OF[CANCEL_SECRET]}
    all_rules = list(template.get("Rules", {}).values())
    for params in identity_matrix(template):
        if not rules_accept(all_rules, params):
            continue  # CloudFormation would refuse these values
        command = render(template, output.get("Value"), params)
        found = re.search(r"--secret-string '([^']*)'", command)
        if not found:
            fail(f"PutSecretCommand has no --secret-string '...': {command}")
        try:
            secret = json.loads(found.group(1))
        except ValueError as err:
            fail(f"with {shown(params)} PutSecretCommand writes invalid JSON ({err}): {found.group(1)}")
        want = {}
        for parameter in (MONITOR_DB_USER, MONITOR_SECRET):
            if params[parameter]:
                want[SECRET_KEY_OF[parameter]] = params[parameter]
        on = params[CANCEL_BUTTON] == CANCEL_ON
        if on:
            for parameter in (CANCEL_DB_USER, CANCEL_SECRET):
                if params[parameter]:
                    want[SECRET_KEY_OF[parameter]] = params[parameter]
        got = {k: secret.get(k) for k in set(SECRET_KEY_OF.values()) if k in secret}
        if got != want:
            fail(f"with {shown(params)} PutSecretCommand writes the identities {got}, not {want}")
        extra = set(secret) & cancel_keys
        if on and not CANCEL_KEYS <= extra:
            fail(f"with the button on PutSecretCommand must write {sorted(CANCEL_KEYS)}")
        if not on and extra:
            fail(f"with the button off PutSecretCommand writes {sorted(extra)}")



# ---------------------------------------------------------------------------------------------
# Sample events


def check_events(directory: Path = EVENTS) -> None:
    names = {p.name for p in directory.glob("*.json")}
    if not SAMPLE_EVENTS <= names:
        fail(f"sample events missing: {sorted(SAMPLE_EVENTS - names)}")
    for path in sorted(directory.glob("*.json")):
        try:
            event = json.loads(path.read_text())
        except ValueError as err:
            fail(f"{path.name} is not valid JSON: {err}")
        if not isinstance(event, dict):
            fail(f"{path.name} must hold a JSON object")


TEMPLATE_CHECKS = [
    check_iam_actions_are_known,
    check_no_star_where_scoping_exists,
    check_function_role_is_written_out,
    check_scoped_resources,
    check_runtime_and_build,
    check_environment_is_the_contract,
    check_state_table,
    check_state_table_access,
    check_retries_are_deliberate,
    check_watchers,
    check_parameters_are_described,
    check_outputs,
    check_schedule_is_shorter_than_threshold,
    check_one_schedule_runs,
    check_scheduler_target,
    check_schedule_state_is_a_parameter,
    check_database_identities,
    check_function_role_actions,
    check_function_url,
    check_reserved_concurrency,
    check_cancel_identity_rule,
    check_parameter_groups,
    check_put_secret_command,
]


class TemplateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.template = load_template()

    def test_iam_actions_are_known(self):
        check_iam_actions_are_known(self.template)

    def test_no_star_resource_where_the_action_supports_scoping(self):
        check_no_star_where_scoping_exists(self.template)

    def test_the_role_is_written_out(self):
        check_function_role_is_written_out(self.template)

    def test_resources_are_the_one_secret_cluster_user_key_and_table(self):
        check_scoped_resources(self.template)

    def test_runtime_architecture_and_build(self):
        check_runtime_and_build(self.template)

    def test_environment_is_exactly_the_contract(self):
        check_environment_is_the_contract(self.template)

    def test_state_table_is_on_demand_keyed_expiring_encrypted_and_for_threads_only(self):
        check_state_table(self.template)

    def test_state_table_access_is_the_four_calls_on_that_table(self):
        check_state_table_access(self.template)

    def test_retries_are_deliberate(self):
        check_retries_are_deliberate(self.template)

    def test_someone_watches_the_watcher(self):
        check_watchers(self.template)

    def test_parameters_are_described_and_constrained(self):
        check_parameters_are_described(self.template)

    def test_outputs(self):
        check_outputs(self.template)

    def test_schedule_is_constrained_to_run_more_often_than_the_threshold(self):
        check_schedule_is_shorter_than_threshold(self.template)

    def test_schedule_state_is_a_parameter(self):
        check_schedule_state_is_a_parameter(self.template)

    def test_exactly_one_schedule_is_deployed(self):
        check_one_schedule_runs(self.template)

    def test_the_scheduler_runs_on_time_once_and_passes_its_time(self):
        check_scheduler_target(self.template)

    def test_every_sample_event_is_valid_json(self):
        check_events()

    def test_the_role_signs_in_as_exactly_the_identities_given(self):
        check_database_identities(self.template)

    def test_the_role_calls_only_what_the_function_uses_and_never_invokes(self):
        check_function_role_actions(self.template)

    def test_the_cancel_url_is_public_only_through_the_url_and_only_with_the_button(self):
        check_function_url(self.template)

    def test_reserved_concurrency_exactly_with_the_button(self):
        check_reserved_concurrency(self.template)

    def test_the_rules_want_one_cancel_identity_not_the_monitors(self):
        check_cancel_identity_rule(self.template)

    def test_every_parameter_is_in_one_group(self):
        check_parameter_groups(self.template)

    def test_put_secret_command_writes_the_whole_secret(self):
        check_put_secret_command(self.template)

    def test_action_table_matches_the_service_authorization_reference(self):
        spec = importlib.resources.files("cfnlint.data.AdditionalSpecs") / "Policies.json"
        reference = json.loads(spec.read_text())
        for action, types in ACTIONS.items():
            service, name = action.split(":")
            entry = reference[service]["Actions"].get(name.lower())
            self.assertIsNotNone(entry, f"{action} is not in the Service Authorization Reference")
            self.assertEqual(
                sorted(t.lower() for t in entry.get("Resources", [])),
                sorted(t.lower() for t in types),
                f"{action}: resource types differ from the reference",
            )


class ChecksCanFail(unittest.TestCase):
    """Each check, given a template broken in the way it guards against, must fail."""

    @classmethod
    def setUpClass(cls):
        cls.template = load_template()

    def broken(self, change):
        template = copy.deepcopy(self.template)
        change(template)
        return template

    def assertFails(self, check, change, because: str | None = None):
        """`check` fails on the broken template; with `because`, for that reason (a fragment of
        its message), not another one the change happened to trip."""
        with self.assertRaises(AssertionError) as caught:
            check(self.broken(change))
        if because is not None:
            self.assertIn(because, str(caught.exception))

    def role_statements(self, template):
        return template["Resources"]["AlertFunctionRole"]["Properties"]["Policies"][0][
            "PolicyDocument"
        ]["Statement"]

    def statement(self, template, sid):
        for item in self.role_statements(template):
            for statement, _ in branches(item):
                if statement.get("Sid") == sid:
                    return statement
        raise KeyError(sid)

    def function(self, template):
        return template["Resources"]["AlertFunction"]["Properties"]

    def table(self, template):
        return template["Resources"]["StateTable"]

    def unwrap(self, template, sid):
        """Takes the statement `sid` out of its Fn::If: it then exists in every mode."""
        statements = self.role_statements(template)
        for i, item in enumerate(statements):
            for statement, _ in branches(item):
                if statement.get("Sid") == sid:
                    statements[i] = statement

    def test_typo_in_an_action(self):
        def change(t):
            self.statement(t, "RunStatementsOnTheCluster")["Action"] = "redshift-data:ExecuteStatment"

        self.assertFails(check_iam_actions_are_known, change)

    def test_wildcard_action(self):
        def change(t):
            self.statement(t, "OnlyItsOwnStatements")["Action"] = "redshift-data:*"

        self.assertFails(check_iam_actions_are_known, change)

    def test_star_for_a_scopable_action(self):
        def change(t):
            self.statement(t, "RunStatementsOnTheCluster")["Resource"] = "*"

        self.assertFails(check_no_star_where_scoping_exists, change)

    def test_star_only_actions_without_the_owner_condition(self):
        def change(t):
            del self.statement(t, "OnlyItsOwnStatements")["Condition"]

        self.assertFails(check_no_star_where_scoping_exists, change)

    def test_wildcard_inside_an_arn(self):
        def change(t):
            self.statement(t, "RunStatementsOnTheCluster")["Resource"] = {
                "Fn::Sub": "arn:${AWS::Partition}:redshift:${AWS::Region}:${AWS::AccountId}:cluster:*"
            }

        self.assertFails(check_no_star_where_scoping_exists, change)

    def test_sam_default_role(self):
        self.assertFails(check_function_role_is_written_out, lambda t: self.function(t).pop("Role"))

    def test_unconditional_kms(self):
        def change(t):
            statements = self.role_statements(t)
            for i, item in enumerate(statements):
                for statement, _ in branches(item):
                    if statement.get("Sid") == "DecryptSecretsThroughSecretsManagerOnly":
                        statements[i] = statement

        self.assertFails(check_scoped_resources, change)

    def test_kms_without_via_service(self):
        def change(t):
            self.statement(t, "DecryptSecretsThroughSecretsManagerOnly").pop("Condition")

        self.assertFails(check_scoped_resources, change)

    def test_invalid_runtime(self):
        for runtime in ("provided.al2024", "provided", "rust1.x"):
            with self.subTest(runtime=runtime):
                self.assertFails(
                    check_runtime_and_build, lambda t: self.function(t).update(Runtime=runtime)
                )

    def test_x86(self):
        self.assertFails(
            check_runtime_and_build, lambda t: self.function(t).update(Architectures=["x86_64"])
        )

    def test_wrong_binary(self):
        def change(t):
            t["Resources"]["AlertFunction"]["Metadata"]["BuildProperties"]["Binary"] = "bootstrap"

        self.assertFails(check_runtime_and_build, change)

    def test_environment_renamed_or_extra(self):
        def rename(t):
            env = self.function(t)["Environment"]["Variables"]
            env["TZ"] = env.pop("TIMEZONE")

        self.assertFails(check_environment_is_the_contract, rename)
        self.assertFails(
            check_environment_is_the_contract,
            lambda t: self.function(t)["Environment"]["Variables"].update(WEBHOOK="x"),
        )

    def test_state_table_variable_in_the_wrong_modes(self):
        env = lambda t: self.function(t)["Environment"]["Variables"]  # noqa: E731
        # Always set: the other modes would get a table name (and no table).
        self.assertFails(
            check_environment_is_the_contract,
            lambda t: env(t).update(STATE_TABLE={"Ref": "StateTable"}),
            because="must be `!If",
        )
        # Behind a condition that is not thread mode.
        for condition in ("HasKmsKey", "UseThreadsAndHasKmsKey", "UseScheduler"):
            self.assertFails(
                check_environment_is_the_contract,
                lambda t, c=condition: env(t)["STATE_TABLE"]["Fn::If"].__setitem__(0, c),
                because="is set in the modes",
            )
        # Inverted: set in every mode but thread.
        self.assertFails(
            check_environment_is_the_contract,
            lambda t: env(t).update(
                STATE_TABLE={"Fn::If": ["UseThreads", NO_VALUE, {"Ref": "StateTable"}]}
            ),
            because="is set in the modes",
        )
        # Another variable made conditional.
        self.assertFails(
            check_environment_is_the_contract,
            lambda t: env(t).update(
                SCHEDULE_MINUTES={
                    "Fn::If": ["UseScheduler", {"Ref": "ScheduleRateMinutes"}, NO_VALUE]
                }
            ),
            because="must be set in every mode",
        )

    def test_state_table_provisioned(self):
        props = lambda t: self.table(t)["Properties"]  # noqa: E731
        self.assertFails(
            check_state_table, lambda t: props(t).pop("BillingMode"), because="on demand"
        )
        self.assertFails(
            check_state_table,
            lambda t: props(t).update(
                BillingMode="PROVISIONED",
                ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
            ),
            because="on demand",
        )

    def test_state_table_keyed_otherwise(self):
        props = lambda t: self.table(t)["Properties"]  # noqa: E731

        def numeric_sort_key(t):
            props(t)["AttributeDefinitions"][1]["AttributeType"] = "N"

        def renamed_partition_key(t):
            props(t)["KeySchema"][0]["AttributeName"] = "id"
            props(t)["AttributeDefinitions"][0]["AttributeName"] = "id"

        def no_sort_key(t):
            props(t)["KeySchema"].pop(1)
            props(t)["AttributeDefinitions"].pop(1)

        def swapped(t):
            schema = props(t)["KeySchema"]
            schema[0]["KeyType"], schema[1]["KeyType"] = "RANGE", "HASH"

        def with_an_index(t):
            props(t)["AttributeDefinitions"].append(
                {"AttributeName": "phase", "AttributeType": "S"}
            )
            props(t)["GlobalSecondaryIndexes"] = [{
                "IndexName": "by-phase",
                "KeySchema": [{"AttributeName": "phase", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }]

        for change, because in (
            (numeric_sort_key, "attributes must be"),
            (renamed_partition_key, "must be keyed"),
            (no_sort_key, "must be keyed"),
            (swapped, "must be keyed"),
            (with_an_index, "attributes must be"),
        ):
            with self.subTest(change=change.__name__):
                self.assertFails(check_state_table, change, because=because)
        # The index alone, its attribute already defined, is refused for being an index.
        def only_an_index(t):
            props(t)["LocalSecondaryIndexes"] = [{"IndexName": "x"}]

        self.assertFails(check_state_table, only_an_index, because="LocalSecondaryIndexes")

    def test_state_table_without_ttl(self):
        props = lambda t: self.table(t)["Properties"]  # noqa: E731
        self.assertFails(
            check_state_table, lambda t: props(t).pop("TimeToLiveSpecification"), because="TTL"
        )
        self.assertFails(
            check_state_table,
            lambda t: props(t)["TimeToLiveSpecification"].update(Enabled=False),
            because="TTL",
        )
        self.assertFails(
            check_state_table,
            lambda t: props(t)["TimeToLiveSpecification"].update(AttributeName="ttl"),
            because="TTL",
        )

    def test_state_table_unencrypted(self):
        props = lambda t: self.table(t)["Properties"]  # noqa: E731
        self.assertFails(
            check_state_table, lambda t: props(t).pop("SSESpecification"), because="encrypted"
        )
        self.assertFails(
            check_state_table,
            lambda t: props(t)["SSESpecification"].update(SSEEnabled=False),
            because="encrypted",
        )
        self.assertFails(
            check_state_table,
            lambda t: props(t)["SSESpecification"].pop("SSEType"),
            because="SSEType KMS",
        )

    def test_state_table_in_other_modes(self):
        self.assertFails(
            check_state_table,
            lambda t: self.table(t).pop("Condition"),
            because="is created in the modes",
        )
        for condition in ("HasKmsKey", "UseThreadsAndHasKmsKey", "UseScheduler"):
            self.assertFails(
                check_state_table,
                lambda t, c=condition: self.table(t).update(Condition=c),
                because="is created in the modes",
            )

        def thread_or_key(t):
            t["Conditions"]["UseThreads"] = {
                "Fn::Or": [
                    {"Fn::Equals": [{"Ref": "AlertMode"}, "thread"]},
                    {"Condition": "HasKmsKey"},
                ]
            }

        self.assertFails(check_state_table, thread_or_key, because="is created in the modes")

    def test_state_table_access_too_broad(self):
        statement = lambda t: self.statement(t, "FollowQueriesInTheStateTable")  # noqa: E731
        extras = ("dynamodb:Scan", "dynamodb:GetItem", "dynamodb:BatchWriteItem", "dynamodb:*", "*")
        for extra in extras:
            with self.subTest(extra=extra):
                self.assertFails(
                    check_state_table_access,
                    lambda t, e=extra: statement(t)["Action"].append(e),
                    because="not exactly",
                )
                self.assertFails(
                    check_state_table_access,
                    lambda t, e=extra: statement(t).update(Action=e),
                    because="not exactly",
                )
        # One missing: the function would fail at its first delete.
        self.assertFails(
            check_state_table_access,
            lambda t: statement(t)["Action"].remove("dynamodb:DeleteItem"),
            because="not exactly",
        )
        # DynamoDB granted by another statement, the state table's own left as it is.
        self.assertFails(
            check_state_table_access,
            lambda t: self.statement(t, "WriteItsOwnLogs")["Action"].append("dynamodb:Scan"),
            because="expected one statement",
        )
        self.assertFails(
            check_state_table_access,
            lambda t: self.statement(t, "ReportFailedRuns").update(Action="*"),
            because="expected one statement",
        )

    def test_state_table_access_beyond_the_table(self):
        statement = lambda t: self.statement(t, "FollowQueriesInTheStateTable")  # noqa: E731
        table_arn = {"Fn::GetAtt": ["StateTable", "Arn"]}
        indexes = {"Fn::Sub": "${StateTable.Arn}/index/*"}
        every_table = {
            "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*"
        }
        for resource in ("*", [table_arn, indexes], every_table, [table_arn],
                         {"Fn::GetAtt": ["FailedRunQueue", "Arn"]}):
            with self.subTest(resource=resource):
                change = lambda t, r=resource: statement(t).update(Resource=r)  # noqa: E731
                self.assertFails(
                    check_state_table_access, change, because="must name StateTable.Arn alone"
                )
                self.assertFails(
                    check_scoped_resources, change, because="must name the one state table"
                )

    def test_state_table_access_in_other_modes(self):
        self.assertFails(
            check_state_table_access,
            lambda t: self.unwrap(t, "FollowQueriesInTheStateTable"),
            because="exists in the modes",
        )

        def behind_the_key(t):
            for item in self.role_statements(t):
                for statement, _ in branches(item):
                    if statement.get("Sid") == "FollowQueriesInTheStateTable":
                        item["Fn::If"][0] = "UseThreadsAndHasKmsKey"

        self.assertFails(check_state_table_access, behind_the_key, because="exists in the modes")

    def test_dynamodb_key_use_too_broad_or_unconditional(self):
        sid = "UseTheKeyThroughDynamoDBOnly"
        # In every mode, or whenever a key is given (also in window and once modes).
        self.assertFails(
            check_scoped_resources, lambda t: self.unwrap(t, sid), because="must exist only"
        )

        def key_only(t):
            for item in self.role_statements(t):
                for statement, _ in branches(item):
                    if statement.get("Sid") == sid:
                        item["Fn::If"][0] = "HasKmsKey"

        self.assertFails(
            check_scoped_resources, key_only, because="in thread mode with a key, only then"
        )
        # Through any service, or through Secrets Manager with DynamoDB's actions.
        self.assertFails(
            check_scoped_resources,
            lambda t: self.statement(t, sid).pop("Condition"),
            because="kms:ViaService",
        )
        self.assertFails(
            check_scoped_resources,
            lambda t: self.statement(t, sid)["Condition"]["StringEquals"].update(
                {"kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}}
            ),
            because="through secretsmanager the role may call",
        )
        # More than DynamoDB needs, or another key.
        self.assertFails(
            check_scoped_resources,
            lambda t: self.statement(t, sid)["Action"].append("kms:ReEncryptFrom"),
            because="through dynamodb the role may call",
        )
        self.assertFails(
            check_scoped_resources,
            lambda t: self.statement(t, sid).update(Resource="*"),
            because="must name the key parameter",
        )

    def test_table_key_without_permission_to_use_it(self):
        def drop(t):
            statements = self.role_statements(t)
            sid = "UseTheKeyThroughDynamoDBOnly"
            statements[:] = [
                item
                for item in statements
                if not any(s.get("Sid") == sid for s, _ in branches(item))
            ]

        self.assertFails(check_scoped_resources, drop, because="cannot use it through DynamoDB")

    def test_retries_not_set(self):
        self.assertFails(
            check_retries_are_deliberate,
            lambda t: self.function(t)["EventInvokeConfig"].pop("MaximumRetryAttempts"),
        )
        self.assertFails(
            check_retries_are_deliberate,
            lambda t: self.function(t)["EventInvokeConfig"].update(MaximumRetryAttempts=2),
        )
        self.assertFails(
            check_retries_are_deliberate,
            lambda t: self.function(t)["EventInvokeConfig"].pop("DestinationConfig"),
        )

    def test_no_errors_alarm(self):
        self.assertFails(check_watchers, lambda t: t["Resources"].pop("ErrorsAlarm"))

    def test_log_group_without_retention(self):
        self.assertFails(
            check_watchers,
            lambda t: t["Resources"]["AlertLogGroup"]["Properties"].pop("RetentionInDays"),
        )

    def test_undescribed_parameter(self):
        self.assertFails(
            check_parameters_are_described,
            lambda t: t["Parameters"]["TimeZone"].pop("Description"),
        )

    def test_invoke_command_without_payload(self):
        def change(t):
            t["Outputs"]["InvokeCommand"]["Value"] = {"Fn::Sub": "aws lambda invoke out.json"}

        self.assertFails(check_outputs, change)

    def test_a_missing_rule(self):
        self.assertFails(
            check_schedule_is_shorter_than_threshold,
            lambda t: t["Rules"].pop("ScheduleRate10ShorterThanThreshold"),
        )

    def test_a_rule_off_by_one(self):
        def change(t):
            rule = t["Rules"]["ScheduleRate5ShorterThanThreshold"]
            rule["Assertions"][0]["Assert"]["Fn::Not"][0]["Fn::Contains"][0].remove("5")

        self.assertFails(check_schedule_is_shorter_than_threshold, change)

    def test_a_new_rate_without_a_rule(self):
        def change(t):
            t["Parameters"]["ScheduleRateMinutes"]["AllowedValues"].append("90")
            t["Mappings"]["Schedule"]["90"] = {"Expression": "rate(90 minutes)", "Seconds": 5400}

        self.assertFails(check_schedule_is_shorter_than_threshold, change)

    def test_a_fixed_schedule(self):
        for name in ("AlertSchedule", "AlertScheduler"):

            def change(t, name=name):
                t["Resources"][name]["Properties"]["ScheduleExpression"] = "rate(2 hours)"

            self.assertFails(check_schedule_is_shorter_than_threshold, change)

    def test_a_mapping_that_lies(self):
        def change(t):
            t["Mappings"]["Schedule"]["10"]["Expression"] = "rate(100 minutes)"

        self.assertFails(check_schedule_is_shorter_than_threshold, change)

    def test_a_loose_threshold_pattern(self):
        def change(t):
            t["Parameters"]["ThresholdMinutes"]["AllowedPattern"] = "^[0-9]+$"

        self.assertFails(check_schedule_is_shorter_than_threshold, change)

    def test_two_schedules_at_once(self):
        self.assertFails(
            check_one_schedule_runs, lambda t: t["Resources"]["AlertSchedule"].pop("Condition")
        )

    def test_a_sloppy_scheduler(self):
        target = lambda t: t["Resources"]["AlertScheduler"]["Properties"]["Target"]  # noqa: E731
        self.assertFails(
            check_scheduler_target,
            lambda t: t["Resources"]["AlertScheduler"]["Properties"].update(
                FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5}
            ),
        )
        self.assertFails(
            check_scheduler_target,
            lambda t: target(t)["RetryPolicy"].update(MaximumRetryAttempts=185),
        )
        self.assertFails(check_scheduler_target, lambda t: target(t).update(Input="{}"))
        self.assertFails(check_scheduler_target, lambda t: target(t).pop("DeadLetterConfig"))

    def test_text_logs_or_a_fixed_level(self):
        logging = lambda t: self.function(t)["LoggingConfig"]  # noqa: E731
        self.assertFails(check_watchers, lambda t: logging(t).update(LogFormat="Text"))
        self.assertFails(check_watchers, lambda t: logging(t).update(ApplicationLogLevel="INFO"))

    def test_a_fixed_schedule_state(self):
        self.assertFails(
            check_schedule_state_is_a_parameter,
            lambda t: t["Resources"]["AlertSchedule"]["Properties"].update(State="ENABLED"),
        )

    def test_a_broken_event_file(self):
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            for name in SAMPLE_EVENTS:
                (Path(tmp) / name).write_text((EVENTS / name).read_text())
            check_events(Path(tmp))  # the copies pass
            (Path(tmp) / "dry-run.json").write_text('{"threshold_minutes": 15,}')
            with self.assertRaises(AssertionError):
                check_events(Path(tmp))
            (Path(tmp) / "dry-run.json").unlink()
            with self.assertRaises(AssertionError):
                check_events(Path(tmp))

    # --- The Cancel button ---

    def resource(self, template, name):
        return template["Resources"][name]

    def wrap(self, template, sid, condition):
        """Puts the statement `sid` behind `condition` instead of its own."""
        for item in self.role_statements(template):
            for statement, _ in branches(item):
                if statement.get("Sid") == sid:
                    item["Fn::If"][0] = condition

    def test_public_invoke_api(self):
        """`Principal: "*"` with lambda:InvokeFunction and no condition: anyone may call the
        Invoke API, not just the URL."""
        invoke = lambda t: self.resource(t, "AlertFunctionUrlInvokePermission")  # noqa: E731
        self.assertFails(
            check_function_url,
            lambda t: invoke(t)["Properties"].pop("InvokedViaFunctionUrl"),
            because="through the Invoke API",
        )
        self.assertFails(
            check_function_url,
            lambda t: invoke(t)["Properties"].update(InvokedViaFunctionUrl=False),
            because="through the Invoke API",
        )
        # The URL's own permission turned into a plain invoke one.
        self.assertFails(
            check_function_url,
            lambda t: self.resource(t, "AlertFunctionUrlPermission")["Properties"].update(
                Action="lambda:InvokeFunction"
            ),
            because="without InvokedViaFunctionUrl",
        )

        # One more resource, in every stack.
        def another(t):
            t["Resources"]["PublicInvoke"] = {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": {"Ref": "AlertFunction"},
                    "Principal": "*",
                },
            }

        self.assertFails(check_function_url, another, because="through the Invoke API")
        # Anything else public.
        self.assertFails(
            check_function_url,
            lambda t: invoke(t)["Properties"].update(Action="lambda:*"),
            because="only",
        )

    def test_url_permission_for_any_auth_type(self):
        url_permission = lambda t: self.resource(t, "AlertFunctionUrlPermission")  # noqa: E731
        self.assertFails(
            check_function_url,
            lambda t: url_permission(t)["Properties"].pop("FunctionUrlAuthType"),
            because="a URL of any auth type",
        )
        self.assertFails(
            check_function_url,
            lambda t: url_permission(t)["Properties"].update(FunctionUrlAuthType="AWS_IAM"),
            because="without FunctionUrlAuthType",
        )

    def test_url_without_both_permissions(self):
        for name in ("AlertFunctionUrlInvokePermission", "AlertFunctionUrlPermission"):
            with self.subTest(name=name):
                self.assertFails(
                    check_function_url,
                    lambda t, n=name: t["Resources"].pop(n),
                    because="October 2025",
                )

        def twice(t):
            t["Resources"]["AgainPermission"] = copy.deepcopy(
                self.resource(t, "AlertFunctionUrlPermission")
            )

        self.assertFails(check_function_url, twice, because="repeats")

    def test_url_authenticated_streamed_or_browsable(self):
        props = lambda t: self.resource(t, "AlertFunctionUrl")["Properties"]  # noqa: E731
        self.assertFails(
            check_function_url, lambda t: props(t).update(AuthType="AWS_IAM"), because="AuthType"
        )
        self.assertFails(
            check_function_url,
            lambda t: props(t).update(InvokeMode="RESPONSE_STREAM"),
            because="BUFFERED",
        )
        self.assertFails(
            check_function_url, lambda t: props(t).pop("InvokeMode"), because="BUFFERED"
        )
        self.assertFails(
            check_function_url,
            lambda t: props(t).update(Cors={"AllowOrigins": ["*"]}),
            because="no Cors",
        )
        self.assertFails(
            check_function_url,
            lambda t: props(t).update(TargetFunctionArn={"Fn::GetAtt": ["AlarmTopic", "Arn"]}),
            because="must target",
        )
        self.assertFails(
            check_function_url, lambda t: t["Resources"].pop("AlertFunctionUrl"), because="one"
        )
        self.assertFails(
            check_function_url,
            lambda t: self.function(t).update(FunctionUrlConfig={"AuthType": "NONE"}),
            because="FunctionUrlConfig",
        )

    def test_url_in_the_wrong_stacks(self):
        for name in (
            "AlertFunctionUrl",
            "AlertFunctionUrlPermission",
            "AlertFunctionUrlInvokePermission",
        ):
            with self.subTest(name=name):
                # In every stack, the button off included.
                self.assertFails(
                    check_function_url,
                    lambda t, n=name: self.resource(t, n).pop("Condition"),
                    because="must exist exactly when",
                )
                # Only with one of the two cancel identities.
                self.assertFails(
                    check_function_url,
                    lambda t, n=name: self.resource(t, n).update(Condition="CancelWithDbUser"),
                    because="must exist exactly when",
                )
        # The button's condition inverted.
        self.assertFails(
            check_function_url,
            lambda t: t["Conditions"].update(
                UseCancelButton={"Fn::Equals": [{"Ref": "CancelButton"}, "disabled"]}
            ),
            because="must exist exactly when",
        )
        # The output: missing, another value, or in every stack (a GetAtt of nothing).
        outputs = lambda t: t["Outputs"]  # noqa: E731
        self.assertFails(
            check_function_url,
            lambda t: outputs(t).pop("InteractivityRequestUrl"),
            because="is missing",
        )
        self.assertFails(
            check_function_url,
            lambda t: outputs(t)["InteractivityRequestUrl"].update(
                Value={"Fn::GetAtt": ["AlertFunction", "Arn"]}
            ),
            because="FunctionUrl",
        )
        self.assertFails(
            check_function_url,
            lambda t: outputs(t)["InteractivityRequestUrl"].pop("Condition"),
            because="must exist exactly when",
        )

    def test_the_button_public_by_default(self):
        self.assertFails(
            check_function_url,
            lambda t: t["Parameters"]["CancelButton"].update(Default="enabled"),
            because="default to disabled",
        )

    def test_reserved_concurrency_missing_or_always(self):
        reserved = lambda t: self.function(t)  # noqa: E731
        self.assertFails(
            check_reserved_concurrency,
            lambda t: reserved(t).pop("ReservedConcurrentExecutions"),
            because="ReservedConcurrentExecutions must be",
        )
        self.assertFails(
            check_reserved_concurrency,
            lambda t: reserved(t).update(ReservedConcurrentExecutions={"Ref": "CancelConcurrency"}),
            because="unset",
        )
        self.assertFails(
            check_reserved_concurrency,
            lambda t: reserved(t).update(
                ReservedConcurrentExecutions={
                    "Fn::If": ["UseCancelButton", NO_VALUE, {"Ref": "CancelConcurrency"}]
                }
            ),
            because="ReservedConcurrentExecutions must be",
        )
        self.assertFails(
            check_reserved_concurrency,
            lambda t: reserved(t)["ReservedConcurrentExecutions"]["Fn::If"].__setitem__(
                0, "CancelWithDbUser"
            ),
            because="ReservedConcurrentExecutions must be",
        )
        # A fixed number instead of the parameter.
        self.assertFails(
            check_reserved_concurrency,
            lambda t: reserved(t)["ReservedConcurrentExecutions"]["Fn::If"].__setitem__(1, 100),
            because="ReservedConcurrentExecutions must be",
        )

    def test_reserved_concurrency_of_zero(self):
        parameter = lambda t: t["Parameters"]["CancelConcurrency"]  # noqa: E731
        self.assertFails(
            check_reserved_concurrency,
            lambda t: parameter(t).update(MinValue=0),
            because="at least 1",
        )
        self.assertFails(
            check_reserved_concurrency,
            lambda t: parameter(t).pop("MaxValue"),
            because="needs a MinValue, a MaxValue",
        )
        self.assertFails(
            check_reserved_concurrency,
            lambda t: parameter(t).update(Default=500),
            because="outside",
        )

    def test_the_role_may_invoke(self):
        def add(statement, condition=None):
            def change(t):
                item = statement if condition is None else {"Fn::If": [condition, statement, NO_VALUE]}
                self.role_statements(t).append(item)

            return change

        invoke_itself = {
            "Sid": "InvokeItself",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": {"Fn::GetAtt": ["AlertFunction", "Arn"]},
        }
        self.assertFails(check_function_role_actions, add(invoke_itself), because="never invokes")
        self.assertFails(
            check_function_role_actions,
            add(invoke_itself, "UseCancelButton"),
            because="never invokes",
        )
        for action in ("lambda:Invoke*", "lambda:*", "*", "lambda:InvokeAsync"):
            with self.subTest(action=action):
                self.assertFails(
                    check_function_role_actions,
                    lambda t, a=action: self.statement(t, "WriteItsOwnLogs")["Action"].append(a),
                    because="never invokes",
                )
        # Another action the function does not use.
        self.assertFails(
            check_function_role_actions,
            lambda t: self.statement(t, "CancelAsItsOwnDbUser").update(
                Action=["redshift:GetClusterCredentials", "redshift:CreateClusterUser"]
            ),
            because="does not use",
        )

    def test_cancel_user_everywhere_or_too_broad(self):
        sid = "CancelAsItsOwnDbUser"
        arn = "arn:${AWS::Partition}:redshift:${AWS::Region}:${AWS::AccountId}:"
        # Without the button (and with it but the secret chosen).
        self.assertFails(
            check_database_identities, lambda t: self.unwrap(t, sid), because="more than asked"
        )
        self.assertFails(
            check_database_identities,
            lambda t: self.wrap(t, sid, "UseCancelButton"),
            because="more than asked",
        )
        # With the monitor's user instead of its own: the canceller would be the monitor.
        self.assertFails(
            check_database_identities,
            lambda t: self.statement(t, sid)["Resource"].__setitem__(
                0, {"Fn::Sub": arn + "dbuser:${ClusterIdentifier}/${DbUser}"}
            ),
            because="missing",
        )
        # Any user of the cluster, or every database.
        self.assertFails(
            check_database_identities,
            lambda t: self.statement(t, sid)["Resource"].__setitem__(
                0, {"Fn::Sub": arn + "dbuser:${ClusterIdentifier}/*"}
            ),
            because="more than asked",
        )
        self.assertFails(
            check_scoped_resources,
            lambda t: self.statement(t, sid)["Resource"].__setitem__(
                1, {"Fn::Sub": arn + "dbname:${ClusterIdentifier}/*"}
            ),
            because="one dbuser and one dbname",
        )
        # Gone: the button cannot sign in.
        def drop(t):
            statements = self.role_statements(t)
            statements[:] = [i for i in statements if not any(s.get("Sid") == sid for s, _ in branches(i))]

        self.assertFails(check_database_identities, drop, because="missing")

    def test_cancel_secret_everywhere_or_another(self):
        sid = "CancelWithStoredCredentials"
        self.assertFails(
            check_database_identities, lambda t: self.unwrap(t, sid), because="more than asked"
        )
        self.assertFails(
            check_database_identities,
            lambda t: self.wrap(t, sid, "UseDatabaseSecret"),
            because="more than asked",
        )
        self.assertFails(
            check_database_identities,
            lambda t: self.statement(t, sid).update(Resource={"Ref": "DatabaseSecretArn"}),
            because="missing",
        )
        self.assertFails(
            check_database_identities,
            lambda t: self.statement(t, sid).update(Resource="*"),
            because="more than asked",
        )
        # The condition forgets the button.
        self.assertFails(
            check_database_identities,
            lambda t: t["Conditions"].update(
                CancelWithSecret={"Fn::Not": [{"Fn::Equals": [{"Ref": "CancelDatabaseSecretArn"}, ""]}]}
            ),
            because="more than asked",
        )

    def test_cancel_rule_missing_or_loose(self):
        rule = lambda t: t["Rules"]["OneSeparateIdentityToCancel"]  # noqa: E731
        self.assertFails(
            check_cancel_identity_rule,
            lambda t: t["Rules"].pop("OneSeparateIdentityToCancel"),
            because="no CloudFormation Rule",
        )
        # Each assertion is needed: both/neither identities, the monitor's user, its secret.
        for index in range(3):
            with self.subTest(assertion=index):
                self.assertFails(
                    check_cancel_identity_rule,
                    lambda t, i=index: rule(t)["Assertions"].pop(i),
                    because="the Rules accept",
                )
        # "At least one" instead of "exactly one".
        self.assertFails(
            check_cancel_identity_rule,
            lambda t: rule(t)["Assertions"][0].update(
                Assert={
                    "Fn::Not": [{"Fn::And": [
                        {"Fn::Equals": [{"Ref": "CancelDbUser"}, ""]},
                        {"Fn::Equals": [{"Ref": "CancelDatabaseSecretArn"}, ""]},
                    ]}]
                }
            ),
            because="the Rules accept",
        )
        # Always asserted: a stack without the button would need a cancel identity.
        self.assertFails(
            check_cancel_identity_rule,
            lambda t: rule(t).pop("RuleCondition"),
            because="the Rules refuse",
        )
        # The monitor's name in another spelling would slip past the comparison.
        self.assertFails(
            check_cancel_identity_rule,
            lambda t: t["Parameters"]["CancelDbUser"].update(AllowedPattern="^$|^[A-Za-z_][A-Za-z0-9_$]{0,126}$"),
            because="AllowedPattern",
        )

    def test_parameter_out_of_the_groups(self):
        groups = lambda t: t["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]  # noqa: E731
        self.assertFails(
            check_parameter_groups,
            lambda t: groups(t)[-1]["Parameters"].remove("CancelConcurrency"),
            because="ungrouped ['CancelConcurrency']",
        )
        self.assertFails(
            check_parameter_groups,
            lambda t: groups(t)[0]["Parameters"].append("CancelButton"),
            because="repeated ['CancelButton']",
        )
        self.assertFails(
            check_parameter_groups,
            lambda t: groups(t)[0]["Parameters"].append("CancelTimeout"),
            because="unknown ['CancelTimeout']",
        )

    def test_put_secret_command_without_the_cancel_keys(self):
        value = lambda t: t["Outputs"]["PutSecretCommand"]["Value"]["Fn::Sub"]  # noqa: E731
        self.assertFails(
            check_put_secret_command,
            lambda t: value(t).__setitem__(0, value(t)[0].replace("${Cancel}", "")),
            because="writes the identities",
        )
        # Behind the button alone: the user's key with the secret chosen.
        self.assertFails(
            check_put_secret_command,
            lambda t: value(t)[1]["Cancel"]["Fn::If"].__setitem__(0, "UseCancelButton"),
            because="writes the identities",
        )
        # Invalid JSON once the button is on.
        self.assertFails(
            check_put_secret_command,
            lambda t: value(t)[1]["Cancel"]["Fn::If"][1].update(
                {"Fn::Sub": value(t)[1]["Cancel"]["Fn::If"][1]["Fn::Sub"].lstrip(",")}
            ),
            because="invalid JSON",
        )
        # The signing secret forgotten.
        self.assertFails(
            check_put_secret_command,
            lambda t: value(t)[1]["Cancel"]["Fn::If"][1].update(
                {"Fn::Sub": ',"cancel_db_user":"${CancelDbUser}"'}
            ),
            because="must write",
        )

    def test_every_template_check_is_exercised_here(self):
        source = Path(__file__).read_text()
        body = source[source.index("class ChecksCanFail") :]
        for check in TEMPLATE_CHECKS:
            # A whole name: check_state_table is not exercised by check_state_table_access.
            name = check.__name__
            self.assertRegex(body, rf"\b{name}\b", f"{name} has no failing case")

if __name__ == "__main__":
    unittest.main()
