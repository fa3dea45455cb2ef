"""docker-compose.yml and the Kubernetes manifests run every service with the right settings.

Docker does not run on the machines that test modelbus, so these files are checked by parsing.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from modelbus.commands.platform import SERVICES
from shared.settings import DEFAULT_PORTS

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_apache_kafka_in_kraft_mode_and_postgres() -> None:
    services = compose()["services"]
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
    assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert services["postgres"]["image"].startswith("postgres:")


def test_compose_runs_every_service_from_the_project_image_with_its_port_and_settings() -> None:
    services = compose()["services"]
    for name in SERVICES:
        service = services[name]
        port = DEFAULT_PORTS[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["command"] == ["service", name]
        assert service["ports"] == [f"{port}:{port}"]
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
        assert "secretKeyRef" in env["MODELBUS_DATABASE_URL"]["valueFrom"]
        assert services[f"modelbus-{name}"]["spec"]["ports"][0]["port"] == DEFAULT_PORTS[name]


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
