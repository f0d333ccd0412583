"""The documentation. What ``help()`` shows: public modules declare ``__all__``, the adaptive
and pk constructors list their keys, and no docstring points to a document the package does not
ship. The pages in docs/: every example runs, the output page matches real runs, and the build
fails on a broken cross-reference or a failing example."""

import inspect
import pydoc
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import dtp_gillespie as dg
import pytest
from dtp_gillespie import schedule as schedule_module
from markdown_examples import Block, count_marks, python_blocks, run_block


@pytest.mark.parametrize("module", [dg.analysis, dg.plot, dg.presets], ids=lambda m: m.__name__)
def test_public_modules_declare_all_of_their_public_functions(module: ModuleType) -> None:
    declared = set(module.__all__)
    assert all(hasattr(module, name) for name in declared)
    defined = {
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    }
    assert defined <= declared, sorted(defined - declared)


@pytest.mark.parametrize("kind", ["adaptive", "pk"])
def test_help_of_the_constructor_lists_every_key_with_its_default(kind: str) -> None:
    text = pydoc.render_doc(getattr(dg.Schedule, kind), renderer=pydoc.plaintext)
    keys = [k for k in schedule_module._KEYS[kind] if k != "kind"]
    missing = [k for k in keys if f"``{k}``" not in text]
    assert not missing, f"help(dg.Schedule.{kind}) does not list {missing}"
    assert text.count("default") >= len(keys) - 2  # every optional key says its default


def test_no_docstring_cites_a_document_that_is_not_shipped() -> None:
    package = Path(dg.__file__).parent
    cited = {
        f"{path.name}: {m.group(0)}"
        for path in package.glob("*.py")
        for m in re.finditer(r"DESIGN\.md[^\n]*", path.read_text(encoding="utf-8"))
    }
    assert not cited


# --- the documentation pages (docs/) -------------------------------------------------------------
# The pages are built by `sphinx-build -W --keep-going -b html docs docs/_build/html` (.ci/run),
# which executes the tutorial (a MyST-markdown notebook) and fails on any warning. The tests below
# run every other example, check the output page against real runs, and show that the build fails
# on a broken cross-reference or a failing example.

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.glob("*.md"))


def is_notebook(page: Path) -> bool:
    """A page whose front matter makes it a MyST-markdown notebook, executed by the build."""
    text = page.read_text(encoding="utf-8")
    return text.startswith("---\n") and "file_format: mystnb" in text.split("\n---\n", 1)[0]


DOC_REDUCED = {
    "n_replicates=1_000_000, seed=42, store=": "n_replicates=200, seed=42, store=",
    "n_replicates=1_000_000, seed=42, summary_only": "n_replicates=200, seed=42, summary_only",
    "n_replicates=10_000, seed=42,": "n_replicates=50, seed=42,",
    "n_replicates=1000, seed=42,": "n_replicates=100, seed=42,",
}
"""Page text -> the text the test runs instead (smaller ensembles; the code is the same)."""

DOC_EXPECTED_NOT_RUN = 1
"""Blocks marked ``<!-- not run: ... -->`` (the remote-scheduler Dask example)."""

DOC_BLOCKS = [b for page in PAGES if not is_notebook(page) for b in python_blocks(page)]
DOC_RUN = [b for b in DOC_BLOCKS if b.not_run is None]


def test_the_pages_are_there_and_the_tutorial_is_executed_by_the_build() -> None:
    names = {page.stem for page in PAGES}
    assert {
        "index",
        "getting-started",
        "tutorial",
        "model",
        "schedules",
        "large-ensembles",
        "output",
        "analysis",
        "presets",
        "exactness",
        "performance",
        "reproducibility",
        "api",
    } <= names
    tutorial = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    assert is_notebook(DOCS / "tutorial.md")
    assert tutorial.count("```{code-cell}") >= 8
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert 'nb_execution_mode = "force"' in conf  # executed at every build, never from a cache


@pytest.mark.parametrize("page", [p for p in PAGES if is_notebook(p)], ids=lambda p: p.name)
def test_a_notebook_page_has_no_python_block_that_nothing_would_run(page: Path) -> None:
    # In a notebook only {code-cell}s run; a ```python block there would be neither executed by
    # the build nor run by the tests below.
    assert python_blocks(page) == []


def test_the_pages_have_their_examples_and_every_mark_is_counted() -> None:
    assert len(DOC_BLOCKS) >= 6
    not_run = [b.id for b in DOC_BLOCKS if b.not_run is not None]
    assert len(not_run) == DOC_EXPECTED_NOT_RUN, not_run
    assert sum(count_marks(page) for page in PAGES) == DOC_EXPECTED_NOT_RUN


@pytest.mark.parametrize("text", list(DOC_REDUCED))
def test_every_reduction_of_the_pages_still_matches_an_example(text: str) -> None:
    assert any(text in b.code for b in DOC_RUN), f"{text!r} is in no example of docs/ any more"


@pytest.mark.parametrize("block", DOC_RUN, ids=[b.id for b in DOC_RUN])
def test_docs_example_runs_on_its_own(block: Block, tmp_path: Path) -> None:
    run_block(block, DOC_REDUCED, tmp_path)


def _schema_rows() -> dict[str, list[str]]:
    """Rows of the tables of docs/output.md that start with a name in backquotes: name -> the
    other cells (the first row of a name: its row in a table of variables)."""
    rows: dict[str, list[str]] = {}
    for line in (DOCS / "output.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `([\w.]+)` \|(.*)\|$", line)
        if m:
            rows.setdefault(m[1], [cell.strip() for cell in m[2].split("|")])
    return rows


def test_the_output_page_lists_every_variable_with_its_dims_dtype_and_units() -> None:
    spec = {
        "states": ["S", "P"],
        "division": {"S": 0.04, "P": 0.01},
        "death": {"S": {"off": 0.01, "on": 0.3}, "P": 0.01},
        "switch": [{"from": "S", "to": "P", "rate": 0.01}],
    }
    with_biomarker = {
        **spec,
        "biomarker": {"name": "PSA", "units": "ng/mL", "production": {"S": 1.0}, "decay": 0.5},
    }
    run = {"initial": {"S": 50}, "t_end": 5.0, "n_replicates": 3, "seed": 1}
    datasets = [
        dg.simulate(spec, "on", progression={"size": 100}, **run),
        dg.simulate(spec, dg.Schedule.pk(dose=1.0, dose_every=1.0, half_life=1.0), **run),
        dg.simulate(with_biomarker, "on", **run),
        dg.simulate(with_biomarker, "on", summary_only=True, **run),
    ]
    rows = _schema_rows()
    missing, wrong = [], []
    for ds in datasets:
        for name, var in [*ds.coords.items(), *ds.data_vars.items()]:
            if name not in rows:
                missing.append(name)
                continue
            dims, dtype, units = rows[name][:3]
            documented_dims = tuple(d.strip() for d in dims.strip("()").split(","))
            documented_dtype = "object" if dtype == "str" else dtype
            documented_units = var.attrs["units"] if units == "the model's" else units.strip("`")
            actual = (var.dims, str(var.dtype), var.attrs.get("units"))
            if actual != (documented_dims, documented_dtype, documented_units):
                wrong.append((name, actual, (documented_dims, documented_dtype, units)))
    assert not missing, f"docs/output.md does not list {sorted(set(missing))}"
    assert not wrong, wrong
    assert set(datasets[0].attrs) <= set(rows), "docs/output.md misses a global attribute"


def test_the_output_page_lists_every_status_code() -> None:
    text = (DOCS / "output.md").read_text(encoding="utf-8")
    ds = dg.simulate(
        {"states": ["S"], "division": {"S": 0.1}, "death": {"S": 0.0}},
        "on",
        initial={"S": 1},
        t_end=1.0,
        seed=1,
    )
    codes = ds["status"].attrs["flag_values"]
    meanings = ds["status"].attrs["flag_meanings"].split()
    for code, meaning in zip(codes, meanings, strict=True):
        assert f"| {code} | `{meaning}` |" in text, meaning
    assert "| −1 | `not_run` |" in text


# --- the build fails on a broken page ------------------------------------------------------------

_GOOD_PAGE = """# A page

## A heading

[Same page](#a-heading), [the notebook](notebook.md), {func}`dtp_gillespie.simulate`.

```{eval-rst}
.. autofunction:: dtp_gillespie.simulate
```

```{toctree}
notebook
```
"""

_NOTEBOOK = """---
file_format: mystnb
kernelspec:
  name: python3
  display_name: Python 3
---

# A notebook

```{code-cell} ipython3
import dtp_gillespie as dg

dg.Model.from_dict({"states": ["S"], "division": {"S": 0.1}, "death": {"S": 0.0}}).states
```
"""


def _build(
    tmp_path: Path, page: str, notebook: str = _NOTEBOOK
) -> subprocess.CompletedProcess[str]:
    """Build a tiny project with the real configuration (docs/conf.py) and these two pages."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.md").write_text(page, encoding="utf-8")
    (src / "notebook.md").write_text(notebook, encoding="utf-8")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-c", str(DOCS)]
    return subprocess.run(
        [*command, "-b", "html", str(src), str(tmp_path / "html")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def sphinx_installed() -> None:
    pytest.importorskip("sphinx", reason="the docs extra is not installed")
    pytest.importorskip("myst_nb", reason="the docs extra is not installed")


@pytest.mark.usefixtures("sphinx_installed")
def test_the_build_of_good_pages_passes(tmp_path: Path) -> None:
    result = _build(tmp_path, _GOOD_PAGE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(&#39;S&#39;,)" in (tmp_path / "html" / "notebook.html").read_text(encoding="utf-8")


@pytest.mark.usefixtures("sphinx_installed")
def test_a_broken_cross_reference_fails_the_build(tmp_path: Path) -> None:
    page = _GOOD_PAGE.replace(
        "[Same page](#a-heading)",
        "[gone](missing.md), [no heading](#no-such-heading), {func}`dtp_gillespie.no_such_name`",
    )
    result = _build(tmp_path, page)
    assert result.returncode != 0
    for target in ("missing.md", "no-such-heading", "dtp_gillespie.no_such_name"):
        assert target in result.stderr, result.stderr[-3000:]


@pytest.mark.usefixtures("sphinx_installed")
def test_a_failing_example_fails_the_build(tmp_path: Path) -> None:
    notebook = _NOTEBOOK.replace('"death": {"S": 0.0}', '"death": {"S": -1.0}')
    result = _build(tmp_path, _GOOD_PAGE, notebook)
    assert result.returncode != 0
    assert "Executing notebook failed" in result.stderr, result.stderr[-3000:]
    assert "InvalidModelError" in result.stderr
