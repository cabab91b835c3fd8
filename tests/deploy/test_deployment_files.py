"""docker-compose.yml, its production override, the Dockerfile and nginx.conf agree with the
code: real commands, real settings, every source wired, health checks on served paths, every
port used. Each check is shown to fail on a planted mismatch."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from connectors.registry import load_sources
from tests.deploy.wiring import (
    COMPOSE,
    PRODUCTION,
    ROOT,
    dockerfile_cmd,
    dockerfile_problems,
    load,
    problems,
    resolve_command,
)

Plant = Callable[[dict[str, Any]], None]


def test_the_deployment_files_agree_with_the_code() -> None:
    assert problems(load(COMPOSE), load(PRODUCTION)) == []


def gateway(compose: dict[str, Any]) -> dict[str, Any]:
    service: dict[str, Any] = compose["services"]["gateway-1"]
    return service


def rename_command(compose: dict[str, Any]) -> None:
    compose["services"]["migrate"]["command"] = ["lendgate", "db", "migrate"]


def unknown_option(compose: dict[str, Any]) -> None:
    gateway(compose)["command"] = ["lendgate", "serve", "--threads", "4"]


def unknown_setting(compose: dict[str, Any]) -> None:
    gateway(compose)["environment"] = {
        **gateway(compose)["environment"],
        "LENDGATE_DATABASE_URI": "x",
    }


def invalid_value(compose: dict[str, Any]) -> None:
    gateway(compose)["environment"] = {**gateway(compose)["environment"], "LENDGATE_PORT": "http"}


def drop_a_simulator(compose: dict[str, Any]) -> None:
    del compose["services"]["sim-utility"]


def wrong_source_url(compose: dict[str, Any]) -> None:
    env = dict(gateway(compose)["environment"])
    env["LENDGATE_SOURCE_URLS"] = env["LENDGATE_SOURCE_URLS"].replace("sim-utility", "utility")
    gateway(compose)["environment"] = env


def unserved_health_path(compose: dict[str, Any]) -> None:
    check = copy.deepcopy(gateway(compose)["healthcheck"])
    check["test"] = [part.replace("/healthz", "/health") for part in check["test"]]
    gateway(compose)["healthcheck"] = check


def no_health_check(compose: dict[str, Any]) -> None:
    del compose["services"]["redis"]["healthcheck"]


def no_restart_policy(compose: dict[str, Any]) -> None:
    del compose["services"]["postgres"]["restart"]


def migrations_not_awaited(compose: dict[str, Any]) -> None:
    waits = dict(gateway(compose)["depends_on"])
    waits["migrate"] = {"condition": "service_started"}
    gateway(compose)["depends_on"] = waits


def unused_port(compose: dict[str, Any]) -> None:
    env = dict(compose["services"]["sim-utility"]["environment"])
    env["LENDGATE_SIMULATOR_PORTS"] = '{"utility": 8105}'
    compose["services"]["sim-utility"]["environment"] = env


def proxy_misses_a_replica(compose: dict[str, Any]) -> None:
    env = dict(compose["services"]["proxy"]["environment"])
    env["NGINX_GATEWAY_2"] = "gateway-1:8000"
    compose["services"]["proxy"]["environment"] = env


def replica_published(compose: dict[str, Any]) -> None:
    gateway(compose)["ports"] = ["8000:8000"]


def several_workers(compose: dict[str, Any]) -> None:
    gateway(compose)["command"] = ["lendgate", "serve", "--workers", "4"]


def workers_by_core(compose: dict[str, Any]) -> None:
    env = dict(gateway(compose)["environment"])
    del env["LENDGATE_WORKERS"]
    gateway(compose)["environment"] = env


def third_replica(compose: dict[str, Any]) -> None:
    compose["services"]["gateway-3"] = copy.deepcopy(gateway(compose))


@pytest.mark.parametrize(
    ("plant", "expected"),
    [
        (rename_command, "lendgate has no command db migrate"),
        (unknown_option, "no option --threads"),
        (unknown_setting, "LENDGATE_DATABASE_URI is not a setting"),
        (invalid_value, "LENDGATE_PORT='http' is invalid"),
        (drop_a_simulator, "no simulator serves utility"),
        (wrong_source_url, "LENDGATE_SOURCE_URLS does not lead to utility"),
        (unserved_health_path, "health check asks /health, not served"),
        (no_health_check, "redis: no health check"),
        (no_restart_policy, "postgres: no restart policy"),
        (migrations_not_awaited, "gateway-1 does not wait for migrate to complete"),
        (unused_port, "the image exposes 8104, which nothing uses"),
        (proxy_misses_a_replica, "are not the replicas"),
        (replica_published, "gateway-1 publishes a port"),
        (third_replica, "Prometheus scrapes"),
        (several_workers, "compose gateway-1: serves with 4 processes; one per container"),
        (workers_by_core, "gateway-1: serves with one per CPU core processes"),
    ],
)
def test_a_planted_mismatch_is_found(plant: Plant, expected: str) -> None:
    compose = load(COMPOSE)
    plant(compose)

    found = problems(compose, load(PRODUCTION))

    assert any(expected in problem for problem in found), found


def test_production_refuses_the_development_defaults() -> None:
    production = load(PRODUCTION)
    weakened = copy.deepcopy(production)
    settings = dict(weakened["services"]["gateway-2"]["environment"])
    settings["LENDGATE_SOURCE_CREDENTIALS"] = "{}"
    settings["LENDGATE_ENVIRONMENT"] = "development"
    weakened["services"]["gateway-2"]["environment"] = settings

    found = problems(load(COMPOSE), weakened)

    assert "production gateway-2: not LENDGATE_ENVIRONMENT=production" in found
    assert any("gateway-2: LENDGATE_SOURCE_CREDENTIALS is not required" in p for p in found)


def test_every_registered_source_has_a_simulator_service() -> None:
    services = load(COMPOSE)["services"]
    commands = [" ".join(service.get("command", [])) for service in services.values()]

    assert commands.count("lendgate simulators serve") == len(load_sources())


def test_the_image_runs_the_gateway_unprivileged_from_an_installed_wheel() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]

    assert dockerfile.count("\nFROM ") >= 1  # a build stage and a runtime stage
    assert "pip install -e" not in dockerfile and "--editable" not in dockerfile
    assert "USER lendgate" in final_stage and "useradd" in final_stage
    assert "HEALTHCHECK" in final_stage
    assert resolve_command(dockerfile_cmd()) is None
    # Nothing private goes in: the build context is a list of what the image needs.
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignored
    allowed = {line[1:].rstrip("/") for line in ignored if line.startswith("!")}
    assert not allowed & {"tests", "var", ".env", "keys", ".venv", ".git", "bench"}


def test_the_lock_pins_every_runtime_dependency_within_the_declared_ranges() -> None:
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from deploy.lock import runtime_closure

    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pins = dict(
        (canonicalize_name(name), version)
        for name, version in (line.split("==") for line in lines if line and line[0] != "#")
    )
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]

    assert set(runtime_closure()) <= set(pins), "run `make lock`"
    for line in declared:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name != "lendgate-sdk":
            assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]}: {line}"


def production_gateway(production: dict[str, Any]) -> dict[str, Any]:
    service: dict[str, Any] = copy.deepcopy(production["services"]["gateway-1"])
    production["services"]["gateway-1"] = service
    return service


def outbox_in_production(production: dict[str, Any]) -> None:
    env = production_gateway(production)["environment"]
    env["LENDGATE_SMS_SENDER"] = "outbox"


def outbox_setting_left_over(production: dict[str, Any]) -> None:
    env = production_gateway(production)["environment"]
    env["LENDGATE_SMS_OUTBOX"] = "/var/lib/lendgate/sms/outbox.jsonl"


def sms_provider_optional(production: dict[str, Any]) -> None:
    env = production_gateway(production)["environment"]
    env["LENDGATE_SMS_HTTP_URL"] = "${LENDGATE_SMS_HTTP_URL:-}"


def sms_key_missing(production: dict[str, Any]) -> None:
    del production_gateway(production)["environment"]["LENDGATE_SMS_HTTP_API_KEY"]


def environment_merged_with_development(production: dict[str, Any]) -> None:
    service = production_gateway(production)
    service["environment"] = dict(service["environment"])  # no longer `!override`


def outbox_volume_kept(production: dict[str, Any]) -> None:
    service = production_gateway(production)
    service["volumes"] = [*service["volumes"], "sms:/var/lib/lendgate/sms"]


def keys_created_in_production(production: dict[str, Any]) -> None:
    del production["services"]["keys"]["command"]


@pytest.mark.parametrize(
    ("plant", "expected"),
    [
        (outbox_in_production, "production gateway-1: the SMS outbox in production"),
        (outbox_setting_left_over, "production gateway-1: the SMS outbox in production"),
        (
            sms_provider_optional,
            "production gateway-1: LENDGATE_SMS_HTTP_URL is not required",
        ),
        (
            sms_key_missing,
            "production gateway-1: LENDGATE_SMS_HTTP_API_KEY is not required",
        ),
        (environment_merged_with_development, "production gateway-1: the SMS outbox"),
        (outbox_volume_kept, "production gateway-1: the SMS outbox volume in production"),
        (keys_created_in_production, "production keys: `lendgate keys init` creates"),
    ],
)
def test_a_planted_production_mismatch_is_found(plant: Plant, expected: str) -> None:
    production = load(PRODUCTION)
    plant(production)

    found = problems(load(COMPOSE), production)

    assert any(problem.startswith(expected) for problem in found), found


def test_production_replicas_text_through_a_provider_and_keys_are_only_checked() -> None:
    from tests.deploy.wiring import environment, merged

    whole = merged(load(COMPOSE), load(PRODUCTION))
    services = whole["services"]

    for name in ("gateway-1", "gateway-2"):
        env = environment(services[name])
        assert env["LENDGATE_SMS_SENDER"].startswith("${LENDGATE_SMS_SENDER:?")
        assert "LENDGATE_SMS_OUTBOX" not in env
        assert env["LENDGATE_REDIS_URL"] == "redis://redis:6379/0"
        assert services[name]["volumes"] == ["keys:/var/lib/lendgate/keys"]
    assert services["keys"]["command"] == ["lendgate", "keys", "check"]
    development = load(COMPOSE)["services"]["gateway-1"]
    assert environment(development)["LENDGATE_SMS_SENDER"] == "outbox"


def test_the_development_replicas_text_into_the_outbox() -> None:
    compose = load(COMPOSE)
    env = dict(gateway(compose)["environment"])
    env["LENDGATE_SMS_SENDER"] = "gateway.sms.http:http_sender"
    gateway(compose)["environment"] = env

    found = problems(compose, load(PRODUCTION))

    assert "compose gateway-1: development does not text into the SMS outbox" in found


def test_the_image_carries_the_letters_chinese_font() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    without_font = dockerfile.replace(" fonts-wqy-microhei", "")
    elsewhere = dockerfile.replace("wqy-microhei.ttc", "wqy-zenhei.ttc")
    only_in_build = dockerfile.replace(
        "FROM python:3.11-slim AS build\n",
        "FROM python:3.11-slim AS build\nRUN apt-get install -y fonts-wqy-microhei\n",
    ).replace(" fonts-wqy-microhei \\", " \\")

    assert dockerfile_problems(dockerfile) == []
    assert dockerfile_problems(without_font) == [
        "the runtime stage does not install fonts-wqy-microhei"
    ]
    assert dockerfile_problems(elsewhere) == [
        "LENDGATE_AUTHORIZATION_FONT=/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc, "
        "not /usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
    ]
    assert dockerfile_problems(only_in_build) == [
        "the runtime stage does not install fonts-wqy-microhei"
    ]
