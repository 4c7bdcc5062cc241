"""Offline checks of the Terraform module (terraform/) with python-hcl2 8.x.

Parses every .tf file and asserts the rules of the deployment issue that no provider download
is needed to see: variables typed, described and validated; the required resources present
and shaped as promised (no expiration of current objects, internal NLB with a metrics-port
health check, stable controller addresses, both Lambda trigger modes); IAM data actions never
on a "*" resource and S3 object actions only under the prefix; no hard-coded region or
credentials; Kafka and controller ports open only to what should reach them.

    python check_module.py terraform/             # the module and its examples
    python check_module.py --expect-failures tests/terraform/fixtures/unsafe
        # the checker itself: every rule must fire on the fixture written to break it

Prints one line per check and a closing "N passed, N failed" line; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import hcl2

# Actions that read or write data (not configuration): these must never be allowed on "*".
DATA_ACTION = re.compile(
    r"^(s3:(Get|Put|Delete|List|Abort|Restore|Replicate)\w*|s3:\*|"
    r"lambda:Invoke\w*|lambda:\*|kms:(Decrypt|Encrypt|GenerateDataKey\w*|ReEncrypt\w*)|kms:\*|"
    r"logs:(PutLogEvents|CreateLogStream|GetLogEvents|FilterLogEvents)|logs:\*|"
    r"ecr:(BatchGetImage|GetDownloadUrlForLayer|BatchCheckLayerAvailability|PutImage)|"
    r"dynamodb:\w+|sqs:\w+|sns:Publish|secretsmanager:GetSecretValue|\*)$"
)
S3_OBJECT_ACTION = re.compile(r"^s3:(GetObject|PutObject|DeleteObject)\w*$")
REGION = re.compile(
    r"\b(us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov)-(north|south|east|west|central|"
    r"northeast|southeast|northwest|southwest)-[0-9]\b"
)
ACCESS_KEY = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")
CREDENTIAL_ATTRS = {"access_key", "secret_key", "token", "shared_credentials_files", "profile"}
ACTION_TOKEN = re.compile(r"[a-z0-9-]+:[A-Za-z*]+|(?<![\w:])\*(?![\w:])")

REQUIRED_OUTPUTS = {
    "bootstrap_servers",
    "bucket_name",
    "controller_addresses",
    "controller_metrics_endpoints",
    "broker_metrics_port",
}
MUST_VALIDATE = {
    "vpc_id",
    "subnet_ids",
    "allowed_client_cidrs",
    "image",
    "controller_count",
    "log_retention_days",
    "lambda_trigger",
    "lambda_batch_size",
    "lambda_batching_window_ms",
}
TRIGGER_FLAGS = [
    "--bootstrap",
    "--topic",
    "--group",
    "--function-name",
    "--batch-size",
    "--batching-window-ms",
]


def unquote(value: Any) -> Any:
    """python-hcl2 8.x keeps the quotes of string literals and block labels."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def strings(value: Any) -> Iterator[str]:
    """Every string inside a parsed value, comments left out."""
    if isinstance(value, str):
        yield unquote(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in ("__comments__", "__is_block__"):
                continue
            yield unquote(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def blocks(body: dict, name: str) -> list[dict]:
    """Nested blocks called `name`, plus the `content` of `dynamic "name"` blocks."""
    found = list(body.get(name, []))
    for dynamic in body.get("dynamic", []):
        for label, inner in dynamic.items():
            if unquote(label) == name:
                found.extend(inner.get("content", []))
    return found


@dataclass
class Config:
    """One directory's .tf files (a module root or an example)."""

    root: Path
    resources: dict[tuple[str, str], dict] = field(default_factory=dict)
    data: dict[tuple[str, str], dict] = field(default_factory=dict)
    variables: dict[str, dict] = field(default_factory=dict)
    outputs: dict[str, dict] = field(default_factory=dict)
    modules: dict[str, dict] = field(default_factory=dict)
    providers: list[tuple[str, dict]] = field(default_factory=list)
    terraform: list[dict] = field(default_factory=list)
    files: dict[str, dict] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path) -> "Config":
        config = cls(root)
        for path in sorted(root.glob("*.tf")):
            with path.open() as f:
                parsed = hcl2.load(f)
            config.files[path.name] = parsed
            for kind in ("resource", "data"):
                for entry in parsed.get(kind, []):
                    for rtype, named in entry.items():
                        for rname, body in named.items():
                            getattr(config, "resources" if kind == "resource" else "data")[
                                (unquote(rtype), unquote(rname))
                            ] = body
            for entry in parsed.get("variable", []):
                for vname, body in entry.items():
                    config.variables[unquote(vname)] = body
            for entry in parsed.get("output", []):
                for oname, body in entry.items():
                    config.outputs[unquote(oname)] = body
            for entry in parsed.get("module", []):
                for mname, body in entry.items():
                    config.modules[unquote(mname)] = body
            for entry in parsed.get("provider", []):
                for pname, body in entry.items():
                    config.providers.append((unquote(pname), body))
            config.terraform.extend(parsed.get("terraform", []))
        for path in sorted((root / "templates").glob("*")) if (root / "templates").is_dir() else []:
            config.templates[path.name] = path.read_text()
        return config

    def of_type(self, rtype: str) -> dict[str, dict]:
        return {name: body for (t, name), body in self.resources.items() if t == rtype}


Check = Callable[[Config], list[str]]


# ---- rules for every configuration (module and examples) ----


def variables_typed_and_described(config: Config) -> list[str]:
    problems = []
    for name, body in config.variables.items():
        if "type" not in body:
            problems.append(f"variable {name} has no type")
        if not unquote(body.get("description", "")).strip():
            problems.append(f"variable {name} has no description")
    return problems


def outputs_described(config: Config) -> list[str]:
    return [
        f"output {name} has no description"
        for name, body in config.outputs.items()
        if not unquote(body.get("description", "")).strip()
    ]


def no_hard_coded_region_or_credentials(config: Config) -> list[str]:
    problems = []
    for file_name, parsed in config.files.items():
        for text in strings(parsed):
            if REGION.search(text):
                problems.append(f"{file_name}: hard-coded region in {text[:80]!r}")
            if ACCESS_KEY.search(text):
                problems.append(f"{file_name}: an access key id in {text[:40]!r}")
            if re.search(r"SECRET_ACCESS_KEY|ACCESS_KEY_ID|SESSION_TOKEN", text):
                problems.append(f"{file_name}: credentials passed as settings ({text[:60]!r})")
    for name, body in config.providers:
        for attr in sorted(CREDENTIAL_ATTRS | {"region"}):
            if attr in body:
                problems.append(f"provider {name} sets {attr} (take it from the environment)")
    return problems


def iam_data_actions_scoped(config: Config) -> list[str]:
    problems = []
    # In a KMS key policy, "*" is the key the policy is attached to.
    key_policies = {
        match
        for body in config.of_type("aws_kms_key").values()
        for match in re.findall(r"data\.aws_iam_policy_document\.(\w+)\.json", unquote(body.get("policy", "")))
    }
    for (dtype, name), body in config.data.items():
        if dtype != "aws_iam_policy_document" or name in key_policies:
            continue
        for statement in blocks(body, "statement"):
            if unquote(statement.get("effect", "Allow")) == "Deny":
                continue
            actions = [a for text in strings(statement.get("actions", [])) for a in ACTION_TOKEN.findall(text)]
            resources = [unquote(r) for r in statement.get("resources", [])]
            sid = unquote(statement.get("sid", "?"))
            data_actions = [a for a in actions if DATA_ACTION.match(a)]
            wildcard = [r for r in resources if r == "*" or r.endswith(":::*") or r.endswith(":*:*")]
            if data_actions and wildcard:
                problems.append(f"policy {name} statement {sid}: {data_actions} on {wildcard}")
            if any(S3_OBJECT_ACTION.match(a) for a in actions) and not all("prefix" in r for r in resources):
                problems.append(f"policy {name} statement {sid}: S3 object actions outside the prefix: {resources}")
            if "s3:ListBucket" in actions:
                conditions = blocks(statement, "condition")
                if not any(unquote(c.get("variable")) == "s3:prefix" for c in conditions):
                    problems.append(f"policy {name} statement {sid}: s3:ListBucket without an s3:prefix condition")
    return problems


def ingress_never_open_to_the_world(config: Config) -> list[str]:
    problems = []
    for name, body in config.of_type("aws_vpc_security_group_ingress_rule").items():
        cidr = unquote(body.get("cidr_ipv4", ""))
        if cidr and not cidr.startswith("${"):
            problems.append(f"ingress rule {name} has a literal CIDR {cidr}")
    for name, body in config.of_type("aws_security_group").items():
        if "ingress" in body:
            problems.append(f"security group {name} has inline ingress (use rule resources)")
    return problems


COMMON_CHECKS: list[Check] = [
    variables_typed_and_described,
    outputs_described,
    no_hard_coded_region_or_credentials,
    iam_data_actions_scoped,
    ingress_never_open_to_the_world,
]


# ---- rules for the module itself ----


def provider_pinned(config: Config) -> list[str]:
    for block in config.terraform:
        if "required_version" not in block:
            continue
        for providers in block.get("required_providers", []):
            aws = providers.get("aws")
            if aws and "<" in unquote(aws.get("version", "")) and "hashicorp/aws" in unquote(aws.get("source", "")):
                return []
    return ["terraform block must pin hashicorp/aws with an upper bound and set required_version"]


def variables_validated(config: Config) -> list[str]:
    problems = []
    for name, body in config.variables.items():
        needs = name in MUST_VALIDATE or unquote(body.get("type")) == "${number}" or body.get("type") == "number"
        if needs and not body.get("validation"):
            problems.append(f"variable {name} has no validation block")
        for validation in body.get("validation", []):
            if not unquote(validation.get("error_message", "")).strip():
                problems.append(f"variable {name} has a validation without an error message")
    return problems


def bucket_rules(config: Config) -> list[str]:
    problems = []
    if not config.of_type("aws_s3_bucket"):
        return ["no aws_s3_bucket"]
    blocks_public = config.of_type("aws_s3_bucket_public_access_block")
    if not blocks_public:
        problems.append("no aws_s3_bucket_public_access_block")
    for name, body in blocks_public.items():
        for attr in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
            if body.get(attr) is not True:
                problems.append(f"public access block {name}: {attr} is not true")
    if not config.of_type("aws_s3_bucket_server_side_encryption_configuration"):
        problems.append("no default encryption (aws_s3_bucket_server_side_encryption_configuration)")
    lifecycles = config.of_type("aws_s3_bucket_lifecycle_configuration")
    if not lifecycles:
        problems.append("no aws_s3_bucket_lifecycle_configuration")
    aborts = False
    for name, body in lifecycles.items():
        for rule in blocks(body, "rule"):
            rule_id = unquote(rule.get("id", "?"))
            if rule.get("abort_incomplete_multipart_upload"):
                aborts = True
            for expiration in rule.get("expiration", []):
                kept = {k for k in expiration if not k.startswith("__")} - {"expired_object_delete_marker"}
                if kept or expiration.get("expired_object_delete_marker") is not True:
                    problems.append(
                        f"lifecycle {name} rule {rule_id} expires current objects ({sorted(kept)}): "
                        "that deletes acknowledged records"
                    )
            for transition in rule.get("transition", []):
                problems.append(f"lifecycle {name} rule {rule_id} transitions objects ({transition}); Skiff reads them at any time")
    if lifecycles and not aborts:
        problems.append("no abort_incomplete_multipart_upload rule")
    return problems


def controllers_stable(config: Config) -> list[str]:
    problems = []
    instances = config.of_type("aws_instance")
    if "controller" not in instances:
        return ["no aws_instance.controller"]
    controller = instances["controller"]
    if not any("aws_network_interface.controller" in s for s in strings(controller.get("primary_network_interface", []))):
        problems.append("controllers do not use their own network interface (stable address)")
    if "controller" not in config.of_type("aws_ebs_volume") or "controller" not in config.of_type("aws_volume_attachment"):
        problems.append("controllers have no separate EBS data volume and attachment")
    if not any("var.subnet_ids" in s for s in strings(config.files.get("main.tf", {}))):
        problems.append("controllers are not placed over the given subnets")
    count_var = config.variables.get("controller_count", {})
    conditions = " ".join(strings(count_var.get("validation", [])))
    if "3" not in conditions:
        problems.append("controller_count does not refuse fewer than 3")
    return problems


def brokers_autoscaled_behind_nlb(config: Config) -> list[str]:
    problems = []
    if not config.of_type("aws_autoscaling_group").get("broker"):
        problems.append("no aws_autoscaling_group.broker")
    metrics = {unquote(m) for body in config.of_type("aws_autoscaling_policy").values() for m in strings(body)}
    for metric in ("ASGAverageCPUUtilization", "ASGAverageNetworkIn"):
        if metric not in metrics:
            problems.append(f"brokers do not scale on {metric}")
    lbs = config.of_type("aws_lb")
    if not any(unquote(b.get("load_balancer_type")) == "network" and b.get("internal") is True for b in lbs.values()):
        problems.append("no internal network load balancer (brokers advertise private addresses)")
    groups = config.of_type("aws_lb_target_group")
    healthy = False
    for body in groups.values():
        for check in body.get("health_check", []):
            if "var.metrics_port" in unquote(check.get("port", "")) and unquote(check.get("protocol")) == "HTTP":
                healthy = True
    if not healthy:
        problems.append("the target group's health check does not ask the metrics port over HTTP")
    listeners = config.of_type("aws_lb_listener")
    if not any("var.kafka_port" in unquote(b.get("port", "")) for b in listeners.values()):
        problems.append("no load balancer listener on the Kafka port")
    template = " ".join(config.templates.values())
    if "SKIFF_ADVERTISED_ADDR" not in template:
        problems.append("brokers do not set their advertised address")
    return problems


def lambda_consumer_both_ways(config: Config) -> list[str]:
    problems = []
    if not config.of_type("aws_lambda_function"):
        problems.append("no aws_lambda_function")
    mappings = config.of_type("aws_lambda_event_source_mapping")
    if not any(b.get("self_managed_event_source") for b in mappings.values()):
        problems.append("no event source mapping with self_managed_event_source")
    trigger = " ".join(strings(config.of_type("aws_launch_template").get("trigger", {})))
    for flag in TRIGGER_FLAGS:
        if f'"{flag}"' not in trigger and flag not in trigger.split():
            problems.append(f"the skiff trigger service does not pass {flag}")
    choice = " ".join(strings(config.variables.get("lambda_trigger", {}).get("validation", [])))
    if "skiff" not in choice or "aws_esm" not in choice:
        problems.append("lambda_trigger does not offer both skiff and aws_esm")
    invoke_ok = False
    for (dtype, _), body in config.data.items():
        if dtype != "aws_iam_policy_document":
            continue
        for statement in blocks(body, "statement"):
            if "lambda:InvokeFunction" in " ".join(strings(statement.get("actions", []))):
                resources = [unquote(r) for r in statement.get("resources", [])]
                invoke_ok = resources == ["${aws_lambda_function.consumer[0].arn}"]
    if not invoke_ok:
        problems.append("the trigger may invoke something other than its function")
    return problems


def ports_closed_to_others(config: Config) -> list[str]:
    problems = []
    for name, body in config.of_type("aws_vpc_security_group_ingress_rule").items():
        port = unquote(body.get("from_port", ""))
        source = unquote(body.get("referenced_security_group_id", "")) or unquote(body.get("cidr_ipv4", ""))
        if "var.controller_port" in port and not re.fullmatch(
            r"\$\{aws_security_group\.(controllers|brokers)\.id\}", source
        ):
            problems.append(f"controller port open to {source} ({name})")
        if "var.kafka_port" in port and not (
            source in ("${each.value}",) or re.fullmatch(r"\$\{aws_security_group\.bootstrap\.id\}", source)
        ):
            problems.append(f"Kafka port open to {source} ({name})")
        if "var.kafka_port" in port and "cidr_ipv4" in body and "kafka_client_cidrs" not in unquote(body.get("for_each", "")):
            problems.append(f"Kafka port open to CIDRs other than allowed_client_cidrs ({name})")
    return problems


def log_groups_retained(config: Config) -> list[str]:
    groups = config.of_type("aws_cloudwatch_log_group")
    if not groups:
        return ["no CloudWatch log groups"]
    return [f"log group {name} has no retention" for name, body in groups.items() if "retention_in_days" not in body]


def outputs_present(config: Config) -> list[str]:
    return [f"output {name} is missing" for name in sorted(REQUIRED_OUTPUTS - set(config.outputs))]


def readme_documents_inputs_and_outputs(config: Config) -> list[str]:
    readme = config.root / "README.md"
    if not readme.is_file():
        return ["no README.md"]
    text = readme.read_text()
    missing = [f"variable {name}" for name in config.variables if f"| `{name}` |" not in text]
    missing += [f"output {name}" for name in config.outputs if f"| `{name}` |" not in text]
    return [f"README.md has no table row for {item}" for item in missing]


MODULE_CHECKS: list[Check] = [
    provider_pinned,
    variables_validated,
    bucket_rules,
    controllers_stable,
    brokers_autoscaled_behind_nlb,
    lambda_consumer_both_ways,
    ports_closed_to_others,
    log_groups_retained,
    outputs_present,
    readme_documents_inputs_and_outputs,
]


def example_uses_module(config: Config) -> list[str]:
    problems = []
    if not any(unquote(m.get("source")) == "../.." for m in config.modules.values()):
        problems.append("does not call the module (source = \"../..\")")
    if not provider_pinned(config) == []:
        problems.append("has no pinned versions.tf")
    return problems


def run(checks: list[tuple[str, Check, Config]]) -> tuple[int, int, set[str]]:
    passed = failed = 0
    failing: set[str] = set()
    for label, check, config in checks:
        problems = check(config)
        if problems:
            failed += 1
            failing.add(check.__name__)
            print(f"FAIL {label}: {check.__name__}")
            for problem in problems:
                print(f"    {problem}")
        else:
            passed += 1
            print(f"ok   {label}: {check.__name__}")
    return passed, failed, failing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="the module directory (terraform/) or a fixture")
    parser.add_argument(
        "--expect-failures",
        action="store_true",
        help="check the checker: every module rule must fail on ROOT (a fixture that breaks them all)",
    )
    args = parser.parse_args()

    module = Config.load(args.root)
    checks = [("module", check, module) for check in COMMON_CHECKS + MODULE_CHECKS]
    if args.expect_failures:
        _, _, failing = run(checks)
        missed = [c.__name__ for _, c, _ in checks if c.__name__ not in failing]
        for name in missed:
            print(f"FAIL checker: {name} did not fire on {args.root}")
        print(f"{len(checks) - len(missed)} passed, {len(missed)} failed")
        return 1 if missed else 0

    for example in sorted((args.root / "examples").glob("*/")):
        config = Config.load(example)
        label = f"examples/{example.name}"
        checks.extend((label, check, config) for check in COMMON_CHECKS + [example_uses_module])
    passed, failed, _ = run(checks)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
