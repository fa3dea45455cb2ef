"""docker-compose.yml and the Kubernetes manifests run every service with the right settings.

Docker does not run on the machines that test modelbus, so these files are checked by parsing.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from modelbus.commands.platform import SERVICES
from shared.bus.acls import KAFKA_USERS
from shared.settings import DEFAULT_PORTS, DEPLOYER_GRPC_PORT

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_apache_kafka_in_kraft_mode_with_users_and_postgres() -> None:
    services = compose()["services"]
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    # deploy/kafka/start.sh: KRaft broker+controller, no auto-created topics, SCRAM + ACLs.
    script = " ".join(kafka["command"])
    assert "/modelbus/kafka/start.sh" in script and "--scram-file" in script
    start_sh = (ROOT / "deploy/kafka/start.sh").read_text()
    for line in (
        "process.roles=broker,controller",
        "auto.create.topics.enable=false",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        "super.users=User:admin",
    ):
        assert line in start_sh
    for user in KAFKA_USERS:
        assert f'{user} "$$KAFKA_PASSWORD_{user.upper()}"' in script
    assert services["postgres"]["image"].startswith("postgres:")
    assert "scram-sha-256" in services["postgres"]["environment"]["POSTGRES_INITDB_ARGS"]


def _interpolated(value: str) -> bool:
    """A compose value taken from the env file, refusing to start when it is unset."""
    return bool(re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", value))


def test_compose_takes_every_secret_from_the_env_file() -> None:
    example = (ROOT / "deploy/modelbus.env.example").read_text()
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key or key.endswith("AUDIT_KEY"):
                assert _interpolated(str(value)), f"{name}: {key} is a literal"
                assert f"{value[2:].split(':')[0]}=" in example, f"{key} not in the example"
            if key == "MODELBUS_DATABASE_URL":
                password = str(value).split("//", 1)[1].split("@", 1)[0].split(":", 1)[1]
                assert _interpolated(password), f"{name}: database password is a literal"


def test_compose_gives_each_service_its_own_database_role_and_kafka_user() -> None:
    services = compose()["services"]
    for name in SERVICES:
        env = services[name]["environment"]
        assert env["MODELBUS_DATABASE_URL"].startswith(f"postgresql://modelbus_{name}:")
        assert env["MODELBUS_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["MODELBUS_KAFKA_SASL_USERNAME"] == name
        assert services[name]["depends_on"]["provision"]["condition"] == (
            "service_completed_successfully"
        )
    provision = services["provision"]
    assert provision["environment"]["MODELBUS_KAFKA_SASL_USERNAME"] == "admin"
    assert "modelbus provision database && modelbus provision kafka" in provision["command"]


def test_strimzi_kafka_users_are_generated_from_the_topic_table() -> None:
    from modelbus.commands.provision import strimzi_yaml

    assert (ROOT / "deploy/k8s/kafka-users.yaml").read_text() == strimzi_yaml(), (
        "regenerate: modelbus provision kafka --strimzi > deploy/k8s/kafka-users.yaml"
    )


def test_compose_runs_every_service_from_the_project_image_with_its_port_and_settings() -> None:
    services = compose()["services"]
    for name in SERVICES:
        service = services[name]
        port = DEFAULT_PORTS[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["command"] == ["service", name]
        grpc = [f"{DEPLOYER_GRPC_PORT}:{DEPLOYER_GRPC_PORT}"] if name == "deployer" else []
        assert service["ports"] == [f"{port}:{port}", *grpc]
        env = service["environment"]
        assert env["MODELBUS_HTTP_PORT"] == str(port)
        assert env["MODELBUS_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["MODELBUS_DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["MODELBUS_DATABASE_URL"]
        assert {"kafka", "postgres"} <= set(service["depends_on"])


def test_dockerfile_installs_the_project_and_runs_the_cli() -> None:
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    for folder in ("shared", "services", "modelbus"):
        assert f"COPY {folder} ./{folder}" in dockerfile
    assert 'ENTRYPOINT ["modelbus"]' in dockerfile
    assert "USER modelbus" in dockerfile


def test_kubernetes_manifests_have_a_probed_deployment_and_service_per_service() -> None:
    docs = list(yaml.safe_load_all((ROOT / "deploy/k8s/modelbus.yaml").read_text()))
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    for name in SERVICES:
        container = deployments[f"modelbus-{name}"]["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["service", name]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        env = {e["name"]: e for e in container["env"]}
        assert env["MODELBUS_HTTP_PORT"]["value"] == str(DEFAULT_PORTS[name])
        assert env["MODELBUS_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == (
            f"database-url-{name}"
        )
        assert env["MODELBUS_KAFKA_SASL_USERNAME"]["value"] == name
        assert env["MODELBUS_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == name
        assert services[f"modelbus-{name}"]["spec"]["ports"][0]["port"] == DEFAULT_PORTS[name]
    deployer = deployments["modelbus-deployer"]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "grpc", "containerPort": DEPLOYER_GRPC_PORT} in deployer["ports"]
    env = {e["name"]: e for e in deployer["env"]}
    assert env["MODELBUS_DEPLOYER_GRPC_PORT"]["value"] == str(DEPLOYER_GRPC_PORT)
    ports = services["modelbus-deployer"]["spec"]["ports"]
    assert {
        "name": "grpc",
        "port": DEPLOYER_GRPC_PORT,
        "targetPort": "grpc",
        "appProtocol": "grpc",
    } in ports
    assert compose()["services"]["deployer"]["environment"]["MODELBUS_DEPLOYER_GRPC_PORT"] == str(
        DEPLOYER_GRPC_PORT
    )


def test_the_console_runs_in_compose_and_kubernetes_pointed_at_every_service() -> None:
    console = compose()["services"]["console"]
    assert console["command"] == ["service", "console"]
    assert console["ports"] == ["8085:8085"]
    for name in SERVICES:
        assert console["environment"][f"MODELBUS_CONSOLE_{name.upper()}_URL"] == (
            f"http://{name}:{DEFAULT_PORTS[name]}"
        )
    assert "MODELBUS_DATABASE_URL" not in console["environment"]  # HTTP only, never a database
    docs = list(yaml.safe_load_all((ROOT / "deploy/k8s/modelbus.yaml").read_text()))
    deployment = next(d for d in docs if d["metadata"]["name"] == "modelbus-console")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["service", "console"]
    env = {e["name"]: e["value"] for e in container["env"]}
    for name in SERVICES:
        assert env[f"MODELBUS_CONSOLE_{name.upper()}_URL"] == (
            f"http://modelbus-{name}:{DEFAULT_PORTS[name]}"
        )
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "COPY console ./console" in (ROOT / "deploy/Dockerfile").read_text()


def test_kubernetes_manifests_validate_against_the_kubernetes_schema() -> None:
    """Every document is checked against Kubernetes' own OpenAPI schema (strict: unknown
    fields are errors), since no cluster runs here to refuse them."""
    import kubernetes_validate

    docs = list(yaml.safe_load_all((ROOT / "deploy/k8s/modelbus.yaml").read_text()))
    version = kubernetes_validate.latest_version()
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_kubernetes_manifests_bound_every_container_and_protect_the_deployer() -> None:
    docs = list(yaml.safe_load_all((ROOT / "deploy/k8s/modelbus.yaml").read_text()))
    by_kind: dict[str, dict[str, dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    for name in SERVICES:
        container = by_kind["Deployment"][f"modelbus-{name}"]["spec"]["template"]["spec"][
            "containers"
        ][0]
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) & set(resources["limits"])
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    selector = {"app.kubernetes.io/name": "deployer"}
    pdb = by_kind["PodDisruptionBudget"]["modelbus-deployer"]["spec"]
    assert pdb["selector"]["matchLabels"] == selector and pdb["minAvailable"] >= 1
    hpa = by_kind["HorizontalPodAutoscaler"]["modelbus-deployer"]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "modelbus-deployer",
    }
    assert hpa["minReplicas"] > pdb["minAvailable"]  # a disruption never takes the last pod
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    # The autoscaler owns the deployer's count; a fixed one would fight it on every apply.
    assert "replicas" not in by_kind["Deployment"]["modelbus-deployer"]["spec"]


def test_lag_alert_rules_name_metrics_the_services_export() -> None:
    from prometheus_client import REGISTRY

    import services.monitor.ingest_metrics  # noqa: F401  (registers the per-model gauges)

    rules = yaml.safe_load((ROOT / "deploy/prometheus/monitor-alerts.yml").read_text())
    exported = {m.name for m in REGISTRY.collect()}
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    assert any("modelbus_monitor_lag_records" in e for e in exprs)
    for expr in exprs:
        for name in re.findall(r"modelbus_[a-z_]+", expr):
            assert name in exported, f"{name} is exported by no service"


def _mebibytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "Gi" else 1)


def test_kubernetes_memory_limits_hold_the_worker_processes_the_settings_allow() -> None:
    """The registry's sandboxes and the trainer's training processes are capped one by one
    (RLIMIT_AS); the container's limit must hold all that may run at once plus the service
    (1 GiB), or the kernel kills the service itself instead of the worker over its cap."""
    from services.registry.settings import RegistrySettings
    from services.trainer.settings import TrainerSettings

    docs = list(yaml.safe_load_all((ROOT / "deploy/k8s/modelbus.yaml").read_text()))
    workers = {
        "registry": (RegistrySettings, "sandbox_concurrency", "sandbox_memory_mb"),
        "trainer": (TrainerSettings, "max_workers", "job_memory_mb"),
    }
    for name, (settings_class, count_field, memory_field) in workers.items():
        deployment = next(d for d in docs if d["metadata"]["name"] == f"modelbus-{name}")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        # The manifest's own settings for the service, else the defaults it runs with.
        settings = settings_class(
            **{
                field: env[f"{settings_class.model_config['env_prefix']}{field.upper()}"]
                for field in (count_field, memory_field)
                if f"{settings_class.model_config['env_prefix']}{field.upper()}" in env
            }
        )
        needed = getattr(settings, count_field) * getattr(settings, memory_field) + 1024
        limit = _mebibytes(container["resources"]["limits"]["memory"])
        assert limit >= needed, f"{name}: limit {limit} MiB, its workers may take {needed} MiB"
