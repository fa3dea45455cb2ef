"""Port checks of ``modelbus up``: a taken port is refused by name before anything starts."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelbus.embedded import PortInUse, pick_free_port, port_is_free
from modelbus.stack import StackSettings, port_conflicts, run_up


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port with a live listener on it, as another program would have."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def external_infra_settings(tmp_path: Path, **ports: int) -> StackSettings:
    """Settings that embed nothing, with every service on a free port unless given."""
    settings = StackSettings(
        home=tmp_path,
        database_url="postgresql://postgres@127.0.0.1:1/modelbus",
        kafka_bootstrap="127.0.0.1:1",
        deployer_port=pick_free_port(),
        registry_port=pick_free_port(),
        governance_port=pick_free_port(),
        monitor_port=pick_free_port(),
        trainer_port=pick_free_port(),
        console_port=pick_free_port(),
    )
    return settings.model_copy(update=ports)


def test_port_is_free_sees_a_listener(taken_port: int) -> None:
    assert not port_is_free("127.0.0.1", taken_port)


def test_port_is_free_once_the_listener_is_gone() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
    assert port_is_free("127.0.0.1", port)


def test_port_is_free_sees_a_wildcard_listener() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        assert not port_is_free("127.0.0.1", listener.getsockname()[1])


def test_port_in_use_names_the_port_and_who_wanted_it() -> None:
    message = str(PortInUse(8081, "the registry service", hint="set MODELBUS_REGISTRY_PORT"))
    assert "8081" in message
    assert "the registry service" in message
    assert "MODELBUS_REGISTRY_PORT" in message


def test_taken_service_port_is_reported(tmp_path: Path, taken_port: int) -> None:
    problems = port_conflicts(external_infra_settings(tmp_path, registry_port=taken_port))
    assert len(problems) == 1
    assert str(taken_port) in problems[0]
    assert "registry" in problems[0]
    assert "MODELBUS_REGISTRY_PORT" in problems[0]


def test_embedded_ports_are_checked_only_when_embedding(tmp_path: Path, taken_port: int) -> None:
    external = external_infra_settings(tmp_path).model_copy(
        update={"postgres_port": taken_port, "kafka_port": taken_port}
    )
    assert port_conflicts(external) == []
    embedded = external.model_copy(update={"database_url": None, "kafka_bootstrap": None})
    problems = port_conflicts(embedded)
    assert any("Postgres" in p and str(taken_port) in p for p in problems)
    assert any("Kafka" in p for p in problems)


def test_port_assigned_twice_is_reported(tmp_path: Path) -> None:
    port = pick_free_port()
    problems = port_conflicts(
        external_infra_settings(tmp_path, registry_port=port, trainer_port=port)
    )
    assert problems == [
        f"port {port} is assigned to both the registry service and the trainer service"
    ]


def test_up_refuses_a_taken_port_with_exit_code_2(
    tmp_path: Path, taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = external_infra_settings(tmp_path, governance_port=taken_port)
    assert run_up(settings) == 2
    err = capsys.readouterr().err
    assert f"port {taken_port}" in err
    assert "governance" in err
    assert "Traceback" not in err
    assert not (tmp_path / "logs").exists(), "nothing may start when a port is refused"


def test_up_refuses_when_embedded_postgres_port_is_taken(
    tmp_path: Path, taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = external_infra_settings(tmp_path).model_copy(
        update={"database_url": None, "postgres_port": taken_port}
    )
    assert run_up(settings) == 2
    err = capsys.readouterr().err
    assert f"port {taken_port}" in err and "Postgres" in err
    assert not (tmp_path / "postgres").exists()


def test_each_replica_takes_its_services_port_plus_the_step(tmp_path: Path) -> None:
    settings = external_infra_settings(tmp_path).model_copy(
        update={"replicas": 2, "replica_port_step": 100}
    )
    ports = {i.name: (i.service, i.port) for i in settings.instances()}
    assert len(ports) == 11  # five services twice, and one console
    assert ports["console"] == ("console", settings.console_port)
    assert ports["deployer"] == ("deployer", settings.deployer_port)
    assert ports["deployer-2"] == ("deployer", settings.deployer_port + 100)
    assert ports["trainer-2"] == ("trainer", settings.trainer_port + 100)


def test_a_taken_port_of_the_second_replica_is_reported(tmp_path: Path, taken_port: int) -> None:
    settings = external_infra_settings(tmp_path, monitor_port=taken_port - 100).model_copy(
        update={"replicas": 2, "replica_port_step": 100}
    )
    problems = port_conflicts(settings)
    assert any("the monitor-2 service" in p and str(taken_port) in p for p in problems), problems


def test_the_deployers_grpc_port_is_checked_and_stepped_per_replica(
    tmp_path: Path, taken_port: int
) -> None:
    settings = external_infra_settings(tmp_path, deployer_grpc_port=taken_port)
    problems = port_conflicts(settings)
    assert any(
        "the deployer service's gRPC" in p
        and str(taken_port) in p
        and "MODELBUS_DEPLOYER_GRPC_PORT" in p
        for p in problems
    ), problems
    two = settings.model_copy(update={"replicas": 2, "replica_port_step": 100})
    grpc = {i.name: i.grpc_port for i in two.instances() if i.service == "deployer"}
    assert grpc == {"deployer": taken_port, "deployer-2": taken_port + 100}
    assert all(i.grpc_port is None for i in two.instances() if i.service != "deployer")
    anywhere = settings.model_copy(update={"deployer_grpc_port": 0, "replicas": 2})
    assert {i.grpc_port for i in anywhere.instances() if i.service == "deployer"} == {0}
    # Only the gRPC port is asserted: a replica's stepped HTTP port is a random free port
    # plus the step, which another program may hold by chance.
    assert not [p for p in port_conflicts(anywhere) if "gRPC" in p]
