"""Every code example of the documentation site runs, so the docs cannot rot.

Fenced blocks of each ``docs/*.md`` page, in page order, in a fresh working
directory per page:

- `` ```python `` blocks are executed, all blocks of a page in one namespace;
  `` ```python {.no-run} `` blocks are not, and must say why in a ``no-run:``
  comment inside the block;
- `` ```bash {.run} `` blocks are run with ``bash -euo pipefail`` in a scratch
  virtualenv layered over this interpreter's packages, so ``pip install`` in
  the docs installs into the scratch environment only, and ``meshinsights``
  is the CLI of that environment; other ``bash`` blocks are only checked: every
  ``meshinsights ...`` command in them must name real commands and options;
- a block with ``title="path"`` is also written to that path (run configs,
  modules and test files that later blocks use);
- every `` ```toml `` block parses; those with a ``[pipeline]`` table are run
  configs and go through :func:`meshinsights.config.parse_run_config`.

``mkdocs build --strict`` is run too (skipped only where mkdocs is not
installed; CI installs ``requirements-docs.txt``).
"""

from __future__ import annotations

import linecache
import os
import re
import shlex
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import tomllib
from click.testing import CliRunner

from meshinsights.cli import main as cli_main
from meshinsights.config import parse_run_config
from meshinsights.connectors import PluginManager
from meshinsights.run import solution_parameter_keys

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,})[ \t]*(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
_ATTRIBUTE = re.compile(r'(?P<key>[\w-]+)="(?P<value>[^"]*)"')
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@attrs.frozen
class Block:
    """One fenced code block of a docs page."""

    page: str
    line: int
    lang: str
    classes: frozenset[str]
    title: str | None
    code: str

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"

    @property
    def runs(self) -> bool:
        if self.lang == "python":
            return "no-run" not in self.classes
        return self.lang == "bash" and "run" in self.classes


def _parse_info(info: str) -> tuple[str, frozenset[str], str | None]:
    """``python {.no-run}``, ``{.python .no-run}``, ``toml title="x.toml"`` -> lang, classes, title."""
    info = info.strip()
    lang = ""
    if not info.startswith("{"):
        lang, _, info = info.partition(" ")
    inner = info.strip().strip("{}")
    title = None
    for match in _ATTRIBUTE.finditer(inner):
        if match.group("key") == "title":
            title = match.group("value")
    words = _ATTRIBUTE.sub("", inner).split()
    classes = [w[1:] for w in words if w.startswith(".")]
    if not lang and classes:
        lang, classes = classes[0], classes[1:]
    return lang.lower(), frozenset(classes), title


def blocks_of(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        lang, classes, title = _parse_info(match.group("info"))
        indent = len(match.group("indent"))
        body = "".join(line[indent:] if line[:indent].isspace() else line
                       for line in match.group("body").splitlines(keepends=True))
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(page.name, line, lang, classes, title, body))
    return found


ALL_BLOCKS = [block for page in PAGES for block in blocks_of(page)]


def _ids(blocks: list[Block]) -> list[str]:
    return [block.where for block in blocks]


def test_the_docs_have_examples() -> None:
    """Guards the extraction itself: a broken fence pattern must not pass silently."""
    assert {"index.md", "getting-started.md", "writing-a-processor.md", "api.md"} <= {p.name for p in PAGES}
    assert sum(b.lang == "python" and b.runs for b in ALL_BLOCKS) >= 10
    assert sum(b.lang == "bash" and b.runs for b in ALL_BLOCKS) >= 5
    assert sum(b.lang == "toml" for b in ALL_BLOCKS) >= 5
    assert {b.lang for b in ALL_BLOCKS} <= {"python", "bash", "toml", "text", "mermaid", "json"}


NO_RUN = [b for b in ALL_BLOCKS if b.lang == "python" and not b.runs]


@pytest.mark.parametrize("block", NO_RUN, ids=_ids(NO_RUN))
def test_a_python_block_that_does_not_run_says_why(block: Block) -> None:
    assert re.search(r"#.*no-run: \S", block.code), (
        f"{block.where}: a {{.no-run}} block needs a '# no-run: <reason>' comment"
    )


# -- TOML -------------------------------------------------------------------------------------
TOML_BLOCKS = [b for b in ALL_BLOCKS if b.lang == "toml"]


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=_ids(TOML_BLOCKS))
def test_toml_block_parses(block: Block) -> None:
    data = tomllib.loads(block.code)
    if "pipeline" not in data:
        return
    environ = {name: f"example-{name.lower()}" for name in _ENV_VAR.findall(block.code)}
    config = parse_run_config(block.code, parameters_keys=solution_parameter_keys(), environ=environ)
    assert config.pipeline.solution


# -- meshinsights commands in bash blocks -------------------------------------------------
def _commands(block: Block) -> Iterator[list[str]]:
    text = block.code.replace("\\\n", " ")
    for raw in text.splitlines():
        for part in re.split(r"&&|\|\||;|\|", raw.split(" #", 1)[0]):
            words = shlex.split(part.strip(), comments=True)
            while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
                words = words[1:]  # VAR=value before the command
            redirect = next((i for i, w in enumerate(words) if w[:1] in "<>" or w[:2] == "2>"), None)
            words = words[:redirect]
            if words[:3] == ["python", "-m", "meshinsights"]:
                words = words[2:]
            if words[:1] == ["meshinsights"]:
                yield words[1:]


CLI_COMMANDS = [(b, c) for b in ALL_BLOCKS if b.lang == "bash" for c in _commands(b)]


@pytest.mark.parametrize(
    ("block", "args"), CLI_COMMANDS, ids=[f"{b.where}:{' '.join(c)}" for b, c in CLI_COMMANDS]
)
def test_documented_command_exists(block: Block, args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Unknown commands or options fail click's parsing before ``--help`` answers."""
    monkeypatch.delenv("MESHINSIGHTS_STRICT_PLUGINS", raising=False)
    result = CliRunner().invoke(cli_main, [*args, "--help"])
    assert result.exit_code == 0, f"{block.where}: meshinsights {' '.join(args)}: {result.output}"


# -- running the pages --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def shell_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of the runnable bash blocks: a scratch venv over this interpreter's packages.

    The docs' ``pip install`` goes into the scratch venv, never into the
    environment running the tests; everything installed here stays visible.
    """
    base = tmp_path_factory.mktemp("docs-shell")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    parent_sites = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "_meshinsights_docs_parent.pth").write_text(
        "".join(f"import site; site.addsitedir({site!r})\n" for site in sorted(parent_sites))
    )
    for name, module in (("meshinsights", "meshinsights"), ("pip", "pip")):
        shim = venv / "bin" / name
        shim.write_text(f'#!/bin/sh\nexec "{python}" -m {module} "$@"\n')
        shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESHINSIGHTS_", "PYTHON"))}
    home = base / "home"
    home.mkdir()
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        HOME=str(home),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        NO_COLOR="1",
    )
    return env


RUNNABLE_PAGES = [p for p in PAGES if any(b.runs or b.title for b in blocks_of(p))]


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=[p.name for p in RUNNABLE_PAGES])
def test_page_examples_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shell_env: dict[str, str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("NO_COLOR", "1")
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    try:
        for block in blocks_of(page):
            if block.title:
                target = tmp_path / block.title
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.code, encoding="utf-8")
            if not block.runs:
                continue
            if block.lang == "python":
                # Tracebacks show the block's lines, named docs/<page>:<line of the fence>.
                lines = block.code.splitlines(True)
                linecache.cache[block.where] = (len(block.code), None, lines, block.where)
                exec(compile(block.code, block.where, "exec"), namespace)
            else:
                result = subprocess.run(
                    ["bash", "-euo", "pipefail", "-c", block.code], cwd=tmp_path, env=shell_env,
                    capture_output=True, text=True, timeout=600, check=False,
                )
                assert result.returncode == 0, (
                    f"{block.where} exited {result.returncode}\n--- stdout\n{result.stdout}"
                    f"\n--- stderr\n{result.stderr}"
                )
    finally:
        PluginManager.cleanup()
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", "") or "").startswith(str(tmp_path)):
                del sys.modules[name]


# -- the site -------------------------------------------------------------------------------
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -r requirements-docs.txt)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output, output
    site = tmp_path / "site"
    for page in PAGES:
        assert (site / page.with_suffix(".html").name).is_file(), page.name
    api = (site / "api.html").read_text(encoding="utf-8")
    for name in ("Pipeline", "PipelineConfig", "PipelineDataObject", "DBConnector", "HVACParams"):
        assert f'id="{_api_anchor(name)}"' in api, f"API reference lacks {name}"


def _api_anchor(name: str) -> str:
    return f"meshinsights_hvac.{name}" if name.startswith("HVAC") else f"meshinsights.{name}"


# -- facts the pages state ----------------------------------------------------------------------
def test_hvac_parameter_table_matches_hvacparams() -> None:
    """docs/hvac.md lists every HVACParams field with its real default."""
    attrs_fields = pytest.importorskip("meshinsights_hvac.params").HVACParams
    text = (DOCS / "hvac.md").read_text(encoding="utf-8")
    table = text.split("| parameter | default | used by |", 1)[1].split("\n\n", 1)[0]
    documented = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", table, re.MULTILINE))
    defaults = {f.name: f.default for f in attrs.fields(attrs_fields) if f.name != "source"}
    assert sorted(documented) == sorted(defaults)
    for name, default in defaults.items():
        assert documented[name] == str(default), f"{name}: docs say {documented[name]}, code {default}"


def test_hvac_plot_script_makes_the_images(tmp_path: Path) -> None:
    """docs/scripts/make_hvac_plots.py still runs; its committed images are small."""
    script = DOCS / "scripts" / "make_hvac_plots.py"
    result = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    made = sorted(p.name for p in tmp_path.glob("*.png"))
    assert made == ["hvac-cycle-medians.png", "hvac-fleet-issues.png", "hvac-power-bands.png"]
    for name in made:
        assert (tmp_path / name).stat().st_size > 5_000
        committed = DOCS / "images" / name
        assert committed.is_file() and committed.stat().st_size < 200_000, name
        assert f"images/{name}" in (DOCS / "hvac.md").read_text(encoding="utf-8")
