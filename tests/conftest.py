import glob
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

EXAMPLE = os.path.join(os.path.dirname(__file__), "examples", "custom_variant.py")


@pytest.fixture(autouse=True, scope="session")
def _cache_in_a_temporary_folder(tmp_path_factory):
    """Fitted latency predictors are cached under $XDG_CACHE_HOME: a temporary one here,
    so the suite neither reads nor fills the user's cache."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="session")
def example_variant_file():
    return EXAMPLE


@pytest.fixture(autouse=True)
def _registries_restored():
    """Variants, PyTorch modules, metrics and tasks a test registers (directly or through
    an example file) do not leak into the next test."""
    from attncost import metrics, nn, variants
    from attncost.search import tasks

    import importlib.util

    variants.names(), tasks.task_names()  # load the built-ins first
    if importlib.util.find_spec("torch") is not None:
        nn.module_names()
    saved = (dict(variants.REGISTRY), dict(nn._FACTORIES), dict(metrics.METRICS),
             dict(tasks.TASKS))
    yield
    for registry, before in zip((variants.REGISTRY, nn._FACTORIES, metrics.METRICS,
                                 tasks.TASKS), saved):
        if registry != before:
            registry.clear()
            registry.update(before)


# -- PostgreSQL: a throwaway server on loopback --------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bindirs or not os.path.exists(os.path.join(bindirs[-1], "initdb")):
        if os.environ.get("ATTNCOST_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL server binaries not found (.ci/run installs them)")
        pytest.skip("PostgreSQL server not installed (apt-get install postgresql)")
    bindir = bindirs[-1]
    root = tempfile.mkdtemp(prefix="attncost-pg-", dir="/tmp")
    os.chmod(root, 0o777)
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    port = _free_port()
    data = os.path.join(root, "data")

    def run(*cmd: str) -> None:
        subprocess.run([*as_user, *cmd], check=True, capture_output=True, cwd=root)

    run(f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust")
    run(f"{bindir}/pg_ctl", "-D", data, "-l", os.path.join(root, "log"), "-w", "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start")
    try:
        run(f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
            "attncost")
        yield f"postgresql://postgres@127.0.0.1:{port}/attncost"
    finally:
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
                       capture_output=True, cwd=root)
        shutil.rmtree(root, ignore_errors=True)
