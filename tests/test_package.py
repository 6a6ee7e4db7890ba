"""`pip install .` gives a working server from any directory: the wheel carries every file the server reads at run
time (templates, static files, migrations, the committed built tracker), it needs nothing but its runtime
dependencies, and the installed server runs without the checkout; `make serve` installs just that."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest
import requests
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from sqlalchemy import create_engine, select

from server.mail.confirmation import confirmation_url
from server.mail.unsubscribe import unsubscribe_url
from server.models import Contact

from .support.databases import fresh_database_url
from .support.servers import ROOT, Process, free_port

PACKAGED = ROOT / "server" / "tracker_dist"
# The core, a build per combination of the tracker's modules, and their manifest
BUILT = ("manifest.json", *json.loads((PACKAGED / "manifest.json").read_text()))
SECRET_KEY = "package-test-secret-key"
# What a working checkout holds besides the sources a wheel is built from (a fresh clone has none of it, tracker_js/dist
# included: the package's built tracker is the one committed in server/tracker_dist).
NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".venv-serve",
    "dist",
    "node_modules",
    "build",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    "test-results",
    "instance",
)


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command to its end and return its output; fail the test with that output when it fails."""
    result = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{args} exited with {result.returncode}:\n{result.stdout}{result.stderr}"
    return result.stdout


def runtime_files() -> list[Path]:
    """Every file under server/ that is not Python: the server reads each of them at run time."""
    return sorted(
        path.relative_to(ROOT / "server")
        for path in (ROOT / "server").rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout's sources, as a clone holds them: no Node modules, no tracker_js/dist."""
    copy = tmp_path_factory.mktemp("source") / "sibyl"
    shutil.copytree(ROOT, copy, ignore=NOT_SOURCES)
    return copy


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built offline from the sources, as `pip install .` builds it."""
    out = tmp_path_factory.mktemp("wheels")
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        source,
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-w",
        out,
        cwd=out,
    )
    [built] = out.glob("sibyl-*.whl")
    return built


@pytest.fixture(scope="module")
def python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh virtualenv outside the checkout, with the wheel installed into it."""
    home = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", "--without-pip", home, cwd=home)
    interpreter = home / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", interpreter, "install", "--no-deps", "--no-index", wheel, cwd=home)
    # Third-party dependencies come from this run's environment, without the network. The .pth is written after
    # the install, so that pip saw no other sibyl; the editable install's own .pth there is not read from here.
    site_packages = Path(
        run(interpreter, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=home).strip()
    )
    dependencies = dict.fromkeys((sysconfig.get_path("purelib"), sysconfig.get_path("platlib")))
    (site_packages / "dependencies.pth").write_text("".join(f"{path}\n" for path in dependencies))
    return interpreter


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working directory: nothing of the checkout is importable from it."""
    return tmp_path


def clean_env() -> dict[str, str]:
    """This run's environment without its Sibyl settings or Python path."""
    return {name: value for name, value in os.environ.items() if not name.startswith("SIBYL_") and name != "PYTHONPATH"}


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A clean environment on a new, empty database."""
    database_url = fresh_database_url(tmp_path_factory.mktemp("package-db"))
    return clean_env() | {"SIBYL_DATABASE_URL": database_url, "SIBYL_SECRET_KEY": SECRET_KEY}


def git(*args: str) -> bytes:
    """`git ARGS` in the checkout, its output as bytes; the test is skipped where the checkout is not a git one."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: the committed tracker cannot be read")
    result = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, timeout=60, check=False)
    if result.returncode != 0 and b"not a git repository" in result.stderr:
        pytest.skip("not a git checkout: the committed tracker cannot be read")
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def test_the_committed_tracker_is_the_build_of_the_committed_sources(tmp_path: Path) -> None:
    """server/tracker_dist is committed, so that a server needs no Node: it must be what the build makes of the
    tracker's sources as committed with it."""
    archive = tmp_path / "sources.tar"
    archive.write_bytes(git("archive", "--format=tar", "HEAD", "tracker_js/src"))
    with tarfile.open(archive) as sources:
        sources.extractall(tmp_path, filter="data")
    built = tmp_path / "built"
    run(sys.executable, "-m", "build_tracker", "--src", tmp_path / "tracker_js" / "src", "--out", built, cwd=ROOT)
    for name in BUILT:
        committed = git("show", f"HEAD:server/tracker_dist/{name}")
        assert committed == (built / name).read_bytes(), (
            f"server/tracker_dist/{name} is not the build of tracker_js/src: "
            "run python -m build_tracker and commit server/tracker_dist"
        )


def test_make_serve_installs_the_package_without_node_or_test_tools(tmp_path: Path) -> None:
    """Everything `make serve` and `make worker` would run, prerequisites included (-B: as if all were out of date)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    for target in ("serve", "worker"):
        commands = run("make", "-n", "-B", target, f"SERVE_VENV={tmp_path / 'venv'}", cwd=ROOT)
        for word in ("npm", "node", "esbuild", "build_tracker", "[test", "[lint", " -e "):
            assert word not in commands, f"make {target} runs {word!r}:\n{commands}"
        assert f"{tmp_path / 'venv'}/bin/python -m pip install --quiet ." in commands
    serve = run("make", "-n", "-B", "serve", f"SERVE_VENV={tmp_path / 'venv'}", cwd=ROOT)
    assert serve.index("flask --app server db upgrade") < serve.index("bin/gunicorn -c python:server.gunicorn_conf")


@pytest.mark.slow
def test_the_wheel_needs_gunicorn_and_no_test_or_build_tools(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        requirements = HeaderParser().parsestr(archive.read(metadata).decode()).get_all("Requires-Dist") or []
        assert "server/tracker_dist/sa.js" in archive.namelist()
    runtime = {
        canonicalize_name(requirement.name)
        for requirement in map(Requirement, requirements)
        if requirement.marker is None or "extra" not in str(requirement.marker)
    }
    assert {"flask", "gunicorn", "sqlalchemy", "alembic"} <= runtime
    assert runtime.isdisjoint({"pytest", "playwright", "ruff", "mypy", "setuptools", "requests"})


@pytest.mark.slow
def test_the_sdist_carries_the_built_tracker(source: Path, tmp_path: Path) -> None:
    """`pip install` from a source archive needs no build either: the archive holds server/tracker_dist."""
    run(
        sys.executable,
        "-c",
        f"from setuptools import build_meta; build_meta.build_sdist({str(tmp_path)!r})",
        cwd=source,
    )
    [sdist] = tmp_path.glob("sibyl-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {f"server/tracker_dist/{name}" for name in BUILT} <= names


def test_the_build_puts_the_tracker_into_the_package_too(built_tracker: Path) -> None:
    for name in BUILT:
        assert (PACKAGED / name).read_bytes() == (built_tracker.parent / name).read_bytes()


@pytest.mark.slow
def test_the_installed_package_holds_every_runtime_file(python: Path, workdir: Path) -> None:
    location = Path(run(python, "-c", "import server; print(server.__file__)", cwd=workdir, env=clean_env()).strip())
    assert location.is_relative_to(python.parent.parent) and not location.is_relative_to(ROOT)
    installed = location.parent
    expected = runtime_files()
    assert Path("templates/links/unsubscribe.html") in expected and Path("tracker_dist/sa.js") in expected
    assert [name for name in expected if not (installed / name).is_file()] == []
    assert (installed / "tracker_dist" / "sa.js").read_bytes() == (PACKAGED / "sa.js").read_bytes()


@pytest.mark.slow
def test_the_installed_server_runs_from_any_directory(python: Path, workdir: Path, env: dict[str, str]) -> None:
    flask = (python, "-m", "flask", "--app", "server")
    assert "Database at head." in run(*flask, "db", "upgrade", cwd=workdir, env=env)
    created = run(*flask, "sites", "create", "packaged-shop", "--origin", "https://shop.example", cwd=workdir, env=env)
    keys = dict(line.split("=", 1) for line in created.splitlines() if line.startswith(("client_key=", "api_key=")))
    snippet = run(*flask, "sites", "snippet", "packaged-shop", cwd=workdir, env=env)
    assert f'client_key: "{keys["client_key"]}"' in snippet

    # The web tier as `make serve` starts it: gunicorn with the package's settings (server/gunicorn_conf.py).
    port = free_port()
    gunicorn = (python, "-m", "gunicorn", "-c", "python:server.gunicorn_conf", "--workers", "1")
    server = Process(
        [str(part) for part in (*gunicorn, "--bind", f"127.0.0.1:{port}", "server:create_app()")],
        port,
        env | {"SIBYL_PUBLIC_URL": f"http://127.0.0.1:{port}", "SIBYL_WORKER": "external"},
        "/healthz",
        cwd=workdir,
    )
    server.start()
    try:
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200

        script = requests.get(server.url + "/sa.js", timeout=5)
        assert script.status_code == 200
        assert script.headers["Content-Type"].startswith("application/javascript")
        assert script.content == (PACKAGED / "sa.js").read_bytes()

        login = requests.get(server.url + "/login", timeout=5)
        assert login.status_code == 200 and 'id="login-form"' in login.text
        assert requests.get(server.url + "/static/dashboard/dashboard.css", timeout=5).status_code == 200

        answer = requests.post(
            server.url + "/v3/contacts",
            json={"email": "reader@example.com"},
            headers={"api-key": keys["api_key"]},
            timeout=5,
        )
        assert answer.status_code == 201, answer.text
        engine = create_engine(env["SIBYL_DATABASE_URL"])
        with engine.connect() as connection:
            site_id, nonce = connection.execute(
                select(Contact.site_id, Contact.link_nonce).where(Contact.id == answer.json()["id"])
            ).one()
        engine.dispose()

        page = requests.get(unsubscribe_url(server.url, SECRET_KEY, site_id, answer.json()["id"], nonce), timeout=5)
        assert page.status_code == 200 and '<button type="submit">Unsubscribe</button>' in page.text
        confirm = requests.get(confirmation_url(server.url, SECRET_KEY, site_id, answer.json()["id"], nonce), timeout=5)
        assert confirm.status_code == 200 and "packaged-shop" in confirm.text
    finally:
        server.stop()
