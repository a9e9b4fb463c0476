"""`seer models export NAME --out DIR`: a self-contained folder that serves one model.

The folder holds a workspace with the model's production bundle registered, the lean scorer's
own code (the engine and command-line modules `seer serve` loads — no Spark, pandas, pyarrow
or studio), a
`seer` launcher, a requirements file pinning only the packages the scorer imports, a
Dockerfile on a slim Python base with a health check, and a Kubernetes Deployment + Service
whose probes use the Open Inference Protocol's health routes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from engine.model_registry import ModelRegistry, RegistryError
from engine.workspace import Workspace

ENGINE = Path(__file__).resolve().parent
PORT = 8600

# What `seer serve` loads, listed by a fresh interpreter (so nothing else of the engine and
# no package the scorer does not import lands in the folder).
_PROBE = """
import json, sys
import uvicorn, uvloop, httptools, uvicorn.loops.uvloop, uvicorn.protocols.http.httptools_impl
import seer_cli.models, engine.serving.app, engine.workspace, engine.api_keys
from engine.serving import routes_mlflow, routes_ops, routes_v1, routes_v2, scoring, lgbm
print(json.dumps(sorted(sys.modules)))
"""

LAUNCHER = '''#!/usr/bin/env python3
"""`seer serve` of an exported model folder (the scorer's commands only)."""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "app"))

from seer_cli.models import add_commands  # noqa: E402

parser = argparse.ArgumentParser(prog="seer")
add_commands(parser.add_subparsers(dest="command", required=True))
args = parser.parse_args()
sys.exit(args.func(args))
'''

HEALTHCHECK = f'''#!/usr/bin/env python3
"""Exit 0 when the service answers its readiness route (used by Docker's HEALTHCHECK)."""
import sys
import urllib.request

port = sys.argv[1] if len(sys.argv) > 1 else "{PORT}"
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{{port}}/v2/health/ready", timeout=3) as r:
        sys.exit(0 if r.status == 200 else 1)
except OSError:
    sys.exit(1)
'''


_OWN = {"engine", "seer_cli"}
# imported when installed, never needed by the scorer (form parsing, auto-reload)
_OPTIONAL = {"python-multipart", "watchfiles", "setuptools"}


class ExportError(ValueError):
    """An export that cannot be done, said as a sentence."""


def _probe_modules() -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ENGINE.parent)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _code_files(modules: list[str]) -> list[Path]:
    """The source files of the engine and command-line modules the scorer loaded."""
    files = set()
    for name in modules:
        if name.split(".")[0] not in _OWN:
            continue
        rel = Path(*name.split("."))
        for candidate in (rel.with_suffix(".py"), rel / "__init__.py"):
            if (ENGINE.parent / candidate).exists():
                files.add(candidate)
    return sorted(files)


def _requirements(modules: list[str]) -> list[str]:
    """Pinned distributions of the third-party packages the scorer imports."""
    owners = metadata.packages_distributions()
    tops = {m.split(".")[0] for m in modules} - set(sys.stdlib_module_names) - _OWN
    dists = {d for top in tops if not top.startswith("_") for d in owners.get(top, [])}
    dists -= _OPTIONAL
    return sorted(f"{d}=={metadata.version(d)}" for d in dists)


def _dockerfile(name: str, gbdt: bool) -> str:
    apt = (
        "RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 "
        "&& rm -rf /var/lib/apt/lists/*\n"
        if gbdt
        else ""
    )
    nodeps = "RUN pip install --no-cache-dir --no-deps -r requirements-nodeps.txt\n" if gbdt else ""
    return f"""# The Seer scoring service for model "{name}" (exported by `seer models export`).
FROM python:{sys.version_info.major}.{sys.version_info.minor}-slim
{apt}WORKDIR /srv/seer
COPY requirements.txt requirements-nodeps.txt ./
RUN pip install --no-cache-dir -r requirements.txt
{nodeps}COPY . .
RUN useradd --create-home seer && chown -R seer /srv/seer/workspace
USER seer
EXPOSE {PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s CMD python healthcheck.py {PORT}
CMD ["python", "seer", "serve", "--host", "0.0.0.0", "--port", "{PORT}", "--workspace", "workspace", "--mlflow-model", "{name}"]
"""


def _kubernetes(name: str) -> str:
    app = f"seer-{name}".lower().replace("_", "-").replace(".", "-")[:63]

    def probe(path: str) -> str:
        return (
            f"          httpGet: {{path: {path}, port: {PORT}}}\n"
            "          periodSeconds: 10\n          timeoutSeconds: 3\n"
        )

    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  labels: {{app: {app}}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {app}}}
  template:
    metadata:
      labels: {{app: {app}}}
    spec:
      containers:
      - name: scorer
        image: {app}:latest
        ports:
        - containerPort: {PORT}
        readinessProbe:
{probe("/v2/health/ready")}        livenessProbe:
{probe("/v2/health/live")}        resources:
          requests: {{cpu: 250m, memory: 128Mi}}
          limits: {{memory: 512Mi}}
---
apiVersion: v1
kind: Service
metadata:
  name: {app}
spec:
  selector: {{app: {app}}}
  ports:
  - port: 80
    targetPort: {PORT}
"""


def _readme(name: str, version: int) -> str:
    return f"""# Seer scoring service: {name}

Version {version} of "{name}" (registered here as version 1), served by Seer's lean scorer.

    python -m venv .venv && .venv/bin/pip install -r requirements.txt
    .venv/bin/pip install --no-deps -r requirements-nodeps.txt   # GBDT models: LightGBM's library
    .venv/bin/python seer serve --workspace workspace --port {PORT} --mlflow-model {name}

or `docker build -t seer-{name} . && docker run -p {PORT}:{PORT} seer-{name}`, or
`kubectl apply -f kubernetes.yaml` once the image is in your registry. Probes: GET
/v2/health/live and /v2/health/ready. Protocols: KServe v1 (/v1/models/{name}:predict),
Open Inference Protocol v2 (/v2/models/{name}/infer), MLflow (/invocations).
Each replica keeps its own request log and prediction-id secret in workspace/.
"""


def export_model(ws: Workspace, name: str, out: Path) -> dict[str, Any]:
    """Write the serving folder for the production version of ``name`` into ``out``."""
    registry = ModelRegistry(ws)
    route = registry.route(name)
    if route is None or route.production is None:
        raise ExportError(f'No model named "{name}" is in production in {ws.root}.')
    if out.exists() and any(out.iterdir()):
        raise ExportError(f"{out} is not empty: export into a new folder.")
    bundle = registry.path(name, route.production)
    manifest = json.loads((bundle / "manifest.json").read_text("utf-8"))
    gbdt = manifest["model_type"] == "gbdt"
    tmp = out.parent / f".{out.name}.export-tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _fill(tmp, name, route.production, bundle, gbdt)
    except (OSError, RegistryError, subprocess.CalledProcessError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ExportError(f"Cannot export {name}: {exc}") from None
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return {"name": name, "version": route.production, "folder": str(out), "gbdt": gbdt}


def _fill(folder: Path, name: str, version: int, bundle: Path, gbdt: bool) -> None:
    served = Workspace(folder / "workspace")
    ModelRegistry(served).publish(bundle, name, description=f"exported version {version}")
    modules = _probe_modules()
    for rel in _code_files(modules):
        target = folder / "app" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ENGINE.parent / rel, target)
    (folder / "requirements.txt").write_text("\n".join(_requirements(modules)) + "\n")
    nodeps = [f"lightgbm=={metadata.version('lightgbm')}"] if gbdt else []
    (folder / "requirements-nodeps.txt").write_text("".join(f"{r}\n" for r in nodeps))
    (folder / "seer").write_text(LAUNCHER)
    (folder / "seer").chmod(0o755)
    (folder / "healthcheck.py").write_text(HEALTHCHECK)
    (folder / "Dockerfile").write_text(_dockerfile(name, gbdt))
    (folder / ".dockerignore").write_text("**/__pycache__\n.venv\n")
    (folder / "kubernetes.yaml").write_text(_kubernetes(name))
    (folder / "README.md").write_text(_readme(name, version))
