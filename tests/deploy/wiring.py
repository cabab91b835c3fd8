"""What the deployment files say, read as the code would: commands, settings, sources, health
checks and ports. `problems` lists every way they disagree with the code."""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any
from unittest import mock

import typer.main
import yaml

from connectors.registry import load_sources
from gateway.cli.main import app as cli_app
from gateway.core.settings import Settings
from tests.support.stack import api_routes

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
PRODUCTION = ROOT / "deploy" / "compose.production.yml"
DOCKERFILE = ROOT / "Dockerfile"
NGINX = ROOT / "deploy" / "nginx.conf"

OUR_IMAGE = "${LENDGATE_IMAGE:-lendgate:latest}"
RUNTIME_VARIABLES = {"FORWARDED_ALLOW_IPS"}
"""Variables read by what the gateway runs on rather than by its settings (uvicorn)."""
PRODUCTION_REQUIRED = ("LENDGATE_ISSUER", "LENDGATE_SOURCE_URLS", "LENDGATE_SOURCE_CREDENTIALS")
"""Development defaults production must set itself: compose refuses to start without them."""
PRODUCTION_SMS_REQUIRED = (
    "LENDGATE_SMS_SENDER",
    "LENDGATE_SMS_HTTP_URL",
    "LENDGATE_SMS_HTTP_API_KEY",
)
"""What a production replica needs to text one-time codes through a real provider."""
WQY_MICROHEI = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
"""Where Debian's fonts-wqy-microhei puts the font (as .ci/run installs it)."""
SMS_VOLUME_TARGET = "/var/lib/lendgate/sms"
PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")
HEALTH_URL = re.compile(r"http://127\.0\.0\.1:(?:(\d+)|%s)(/[A-Za-z0-9_/.-]*)")


class Override(dict[str, Any]):
    """A map tagged `!override`: it replaces the base file's, instead of being merged in."""


class OverrideList(list[Any]):
    """A sequence tagged `!override`: it replaces the base file's, instead of extending it."""


class ComposeLoader(yaml.SafeLoader):
    """YAML as compose reads it: anchors, merge keys and compose's `!override` tag."""


def _override(loader: yaml.SafeLoader, node: yaml.Node) -> Override | OverrideList:
    if isinstance(node, yaml.MappingNode):
        return Override(
            {str(key): value for key, value in loader.construct_mapping(node, deep=True).items()}
        )
    if isinstance(node, yaml.SequenceNode):
        return OverrideList(loader.construct_sequence(node, deep=True))
    raise yaml.constructor.ConstructorError(None, None, "!override needs a map or a list")


ComposeLoader.add_constructor("!override", _override)


def load(path: Path) -> dict[str, Any]:
    """A compose file as YAML (anchors, merge keys and `!override` resolved)."""
    loaded: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=ComposeLoader)
    return loaded


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` laid over `base` as compose merges: maps by key, lists appended, `command`
    and whatever is tagged `!override` replaced."""
    result = copy.deepcopy(base)
    for name, service in override.get("services", {}).items():
        target = result["services"].setdefault(name, {})
        for key, value in service.items():
            if isinstance(value, (Override, OverrideList)):
                target[key] = copy.deepcopy(value)
            elif isinstance(value, dict) and isinstance(target.get(key), dict):
                target[key] = {**target[key], **value}
            elif isinstance(value, list) and isinstance(target.get(key), list):
                target[key] = value if key == "command" else [*target[key], *value]
            else:
                target[key] = value
    return result


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, whichever of compose's two spellings it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def ours(service: dict[str, Any]) -> bool:
    """Whether the service runs the image built from this repository."""
    return "build" in service or service.get("image") == OUR_IMAGE


def resolve_command(words: list[str]) -> str | None:
    """The problem with a `lendgate ...` command line, or None when the CLI has it."""
    if not words or words[0] != "lendgate":
        return f"{words!r} is not a lendgate command"
    command: Any = typer.main.get_command(cli_app)
    for word in words[1:]:
        if word.startswith("-"):
            break
        if not hasattr(command, "commands"):
            return f"lendgate {' '.join(words[1:])}: {command.name} takes no subcommand {word}"
        found = command.commands.get(word)
        if found is None:
            return f"lendgate has no command {' '.join(words[1 : words.index(word) + 1])}"
        command = found
    if hasattr(command, "commands"):
        return f"{' '.join(words)} names a group, not a command"
    options = [word for word in words[1:] if word.startswith("-")]
    known = {name for parameter in command.params for name in parameter.opts}
    unknown = [option for option in options if option.split("=", 1)[0] not in known]
    if unknown:
        return f"{' '.join(words)}: no option {', '.join(unknown)}"
    return None


def command_of(service: dict[str, Any], default: list[str]) -> list[str]:
    command = service.get("command", default)
    return shlex.split(command) if isinstance(command, str) else list(command)


def dockerfile_cmd() -> list[str]:
    line = re.search(r"^CMD (\[.*\])$", DOCKERFILE.read_text(), re.MULTILINE)
    assert line, "the Dockerfile has no CMD in exec form"
    words: list[str] = json.loads(line.group(1))
    return words


def dockerfile_exposed() -> set[int]:
    found = re.findall(r"^EXPOSE (.+)$", DOCKERFILE.read_text(), re.MULTILINE)
    return {int(port) for line in found for port in line.split()}


def dockerfile_health_paths() -> set[str]:
    text = DOCKERFILE.read_text()
    health = re.search(r"^HEALTHCHECK .*?CMD (.+?)$", text, re.MULTILINE | re.DOTALL)
    assert health, "the Dockerfile has no HEALTHCHECK"
    return {path for _, path in HEALTH_URL.findall(health.group(1))}


def get_paths(app: Any) -> set[str]:
    """The paths an app answers GET on."""
    return {path for method, path, _ in api_routes(app) if method == "GET"}


@functools.cache
def gateway_paths() -> set[str]:
    from gateway.app import create_app

    return get_paths(create_app())


@functools.cache
def simulator_paths(source: str) -> set[str]:
    from connectors.simulators.app import create_simulator_app
    from connectors.simulators.population import Population

    app = create_simulator_app(source, credential="x", population=Population.generate(1, 1))
    return get_paths(app)


def health_checks(service: dict[str, Any]) -> list[tuple[int | None, str]]:
    """(port, path) of every loopback URL a service's health check asks."""
    test = service.get("healthcheck", {}).get("test", [])
    text = " ".join(test) if isinstance(test, list) else str(test)
    return [(int(port) if port else None, path) for port, path in HEALTH_URL.findall(text)]


def simulated_sources(service: dict[str, Any]) -> dict[str, int]:
    ports = environment(service).get("LENDGATE_SIMULATOR_PORTS")
    if ports is None:
        return {name: source.default_port for name, source in load_sources().items()}
    parsed: dict[str, int] = json.loads(ports)
    return parsed


def problems(compose: dict[str, Any], production: dict[str, Any]) -> list[str]:
    """Every disagreement between the deployment files and the code."""
    found: list[str] = []
    services: dict[str, dict[str, Any]] = compose["services"]
    fields = set(Settings.model_fields)
    found.extend(
        f"Dockerfile CMD: {problem}"
        for problem in [resolve_command(dockerfile_cmd())]
        if problem is not None
    )
    found.extend(f"Dockerfile: {p}" for p in dockerfile_problems(DOCKERFILE.read_text()))
    served = gateway_paths()
    found.extend(
        f"Dockerfile HEALTHCHECK asks {path}, which the gateway does not serve"
        for path in dockerfile_health_paths() - served
    )
    gateways: dict[str, int] = {}
    simulators: dict[str, dict[str, int]] = {}
    for whole, label in ((compose, "compose"), (merged(compose, production), "production")):
        for name, service in whole["services"].items():
            where = f"{label} {name}"
            if "restart" not in service:
                found.append(f"{where}: no restart policy")
            if "healthcheck" not in service:
                found.append(f"{where}: no health check")
            if not ours(service):
                continue
            words = command_of(service, dockerfile_cmd())
            problem = resolve_command(words)
            if problem is not None:
                found.append(f"{where}: {problem}")
            env = environment(service)
            for variable, value in env.items():
                if variable in RUNTIME_VARIABLES:
                    continue
                field = variable.removeprefix("LENDGATE_").lower()
                if not variable.startswith("LENDGATE_") or field not in fields:
                    found.append(f"{where}: {variable} is not a setting")
                elif "${" not in value:
                    try:
                        with mock.patch.dict(os.environ, {variable: value}):
                            Settings(_env_file=None)
                    except ValueError as error:
                        found.append(f"{where}: {variable}={value!r} is invalid: {error}")
            if label == "production" and words[:2] != ["lendgate", "simulators"]:
                if env.get("LENDGATE_ENVIRONMENT") != "production":
                    found.append(f"{where}: not LENDGATE_ENVIRONMENT=production")
                for required in PRODUCTION_REQUIRED:
                    if ":?" not in env.get(required, ""):
                        found.append(f"{where}: {required} is not required (${{...:?}})")
                if words[:3] == ["lendgate", "keys", "init"]:
                    found.append(f"{where}: `lendgate keys init` creates missing keys")
                if words[:2] == ["lendgate", "serve"]:
                    found.extend(_production_sms(where, service, env))
            serves = words[:2] == ["lendgate", "serve"]
            if label == "compose" and serves and env.get("LENDGATE_SMS_SENDER") != "outbox":
                found.append(f"{where}: development does not text into the SMS outbox")
            if words[:2] == ["lendgate", "serve"]:
                processes = _serve_workers(words, env)
                if processes != "1":
                    found.append(
                        f"{where}: serves with {processes} processes; one per container "
                        "(metrics are per process, Prometheus scrapes each replica)"
                    )
                configured = env.get("LENDGATE_PORT", "8000")
                port = int(configured) if configured.isdigit() else 8000
                gateways[name] = port
                for check_port, path in health_checks(service):
                    if path not in served:
                        found.append(f"{where}: health check asks {path}, not served")
                    if check_port not in (None, port):
                        found.append(f"{where}: health check asks port {check_port}, not {port}")
            if words[:3] == ["lendgate", "simulators", "serve"]:
                sources = simulated_sources(service)
                simulators[name] = sources
                for check_port, path in health_checks(service):
                    if check_port not in sources.values():
                        found.append(f"{where}: health check asks port {check_port}, not served")
                    for source, port in sources.items():
                        if port == check_port and path not in simulator_paths(source):
                            found.append(f"{where}: health check asks {path}, not served")
    found.extend(_sources(services, gateways, simulators))
    found.extend(_topology(services, gateways, simulators))
    return found


def _serve_workers(words: list[str], env: dict[str, str]) -> str:
    """How many processes `lendgate serve` runs, as written (the default is per CPU core)."""
    for index, word in enumerate(words):
        if word.startswith("--workers="):
            return word.split("=", 1)[1]
        if word == "--workers" and index + 1 < len(words):
            return words[index + 1]
    return env.get("LENDGATE_WORKERS", "one per CPU core")


def _production_sms(where: str, service: dict[str, Any], env: dict[str, str]) -> list[str]:
    found = [
        f"{where}: {required} is not required (${{...:?}})"
        for required in PRODUCTION_SMS_REQUIRED
        if ":?" not in env.get(required, "")
    ]
    if "outbox" in env.get("LENDGATE_SMS_SENDER", "") or "LENDGATE_SMS_OUTBOX" in env:
        found.append(f"{where}: the SMS outbox in production")
    mounts = [str(volume).split(":")[1] for volume in service.get("volumes", [])]
    if SMS_VOLUME_TARGET in mounts:
        found.append(f"{where}: the SMS outbox volume in production")
    return found


def dockerfile_problems(text: str) -> list[str]:
    """What the image's runtime stage lacks for the authorization letters' Chinese font."""
    final_stage = text.rsplit("\nFROM ", 1)[-1]
    found = []
    installs = re.findall(r"apt-get install[^\n]*(?:\\\n[^\n]*)*", final_stage)
    if not any("fonts-wqy-microhei" in line.split() for line in installs):
        found.append("the runtime stage does not install fonts-wqy-microhei")
    font = re.search(r"LENDGATE_AUTHORIZATION_FONT=(\S+)", final_stage)
    if font is None:
        found.append("the image does not set LENDGATE_AUTHORIZATION_FONT")
    elif font.group(1) != WQY_MICROHEI:
        found.append(f"LENDGATE_AUTHORIZATION_FONT={font.group(1)}, not {WQY_MICROHEI}")
    return found


def _sources(
    services: dict[str, dict[str, Any]],
    gateways: dict[str, int],
    simulators: dict[str, dict[str, int]],
) -> list[str]:
    found = []
    for gateway in gateways:
        env = environment(services[gateway])
        urls = json.loads(env.get("LENDGATE_SOURCE_URLS", "{}"))
        for source in load_sources():
            expected = {
                f"http://{name}:{ports[source]}"
                for name, ports in simulators.items()
                if source in ports
            }
            if not expected:
                found.append(f"no simulator serves {source}")
            elif urls.get(source) not in expected:
                found.append(f"{gateway}: LENDGATE_SOURCE_URLS does not lead to {source}")
    return found


def _topology(
    services: dict[str, dict[str, Any]],
    gateways: dict[str, int],
    simulators: dict[str, dict[str, int]],
) -> list[str]:
    found = []
    if len(gateways) < 2:
        found.append(f"{len(gateways)} gateway replica(s); two are wanted behind the proxy")
    migrations = [
        name
        for name, service in services.items()
        if ours(service) and command_of(service, []) == ["lendgate", "db", "upgrade"]
    ]
    if len(migrations) != 1:
        found.append("no one-shot `lendgate db upgrade` service")
    for gateway in gateways:
        waits = services[gateway].get("depends_on", {})
        for one_shot in migrations:
            condition = waits.get(one_shot, {}).get("condition")
            if condition != "service_completed_successfully":
                found.append(f"{gateway} does not wait for {one_shot} to complete")
    proxy = [name for name, service in services.items() if "nginx" in str(service.get("image"))]
    if len(proxy) != 1:
        return [*found, "no nginx service"]
    proxy_env = environment(services[proxy[0]])
    placeholders = set(PLACEHOLDER.findall(NGINX.read_text()))
    found.extend(
        f"nginx.conf needs {name}, the proxy does not set it"
        for name in sorted(placeholders - set(proxy_env))
    )
    upstreams = {value for key, value in proxy_env.items() if key.startswith("NGINX_GATEWAY_")}
    expected = {f"{name}:{port}" for name, port in gateways.items()}
    if upstreams != expected:
        found.append(f"nginx upstreams {sorted(upstreams)} are not the replicas {sorted(expected)}")
    published = [str(port).rsplit(":", 1)[-1] for port in services[proxy[0]].get("ports", [])]
    if published != [proxy_env.get("NGINX_LISTEN")]:
        found.append(
            f"the proxy publishes {published}, nginx listens on {proxy_env.get('NGINX_LISTEN')}"
        )
    for name in gateways:
        if services[name].get("ports"):
            found.append(f"{name} publishes a port: only the proxy should be reachable")
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target
        for job in scrape["scrape_configs"]
        for config in job["static_configs"]
        for target in config["targets"]
    }
    if targets != expected:
        found.append(f"Prometheus scrapes {sorted(targets)}, not the replicas {sorted(expected)}")
    used = set(gateways.values()) | {p for ports in simulators.values() for p in ports.values()}
    found.extend(
        f"the image exposes {port}, which nothing uses"
        for port in sorted(dockerfile_exposed() - used)
    )
    found.extend(
        f"port {port} is used, not exposed" for port in sorted(used - dockerfile_exposed())
    )
    return found
