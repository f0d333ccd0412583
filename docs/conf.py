"""Sphinx configuration of the dtp-gillespie documentation.

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (warnings are errors: a
broken link, cross-reference or docstring, or an example that raises, fails the build).
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Document the checkout being built (its python/ with the compiled extension, as an editable
# install leaves it), in autodoc and in the kernel that executes the tutorial alike.
sys.path.insert(0, str(ROOT / "python"))
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT / "python"), os.environ.get("PYTHONPATH")) if p
)

import dtp_gillespie  # noqa: E402

project = "dtp-gillespie"
author = "dtp-gillespie contributors"
copyright = "dtp-gillespie contributors"
release = dtp_gillespie.__version__
version = release

extensions = [
    "myst_nb",  # MyST markdown pages and executed MyST-markdown notebooks (myst-parser included)
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the package's docstrings are numpy-style
    "sphinx.ext.mathjax",
]

source_suffix = {".md": "myst-nb"}
exclude_patterns = ["_build", "jupyter_execute", "Thumbs.db", ".DS_Store"]

# --- MyST -----------------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3  # [text](page.md#a-heading) links resolve to headings, and are checked

# --- notebooks: execute every text notebook at each build, no cache; a failing cell fails it ------
nb_execution_mode = "force"
nb_execution_raise_on_error = False  # a failing cell is a warning (with its traceback): -W fails
nb_execution_timeout = 300
nb_execution_show_tb = True  # the traceback of a failing cell is printed
nb_merge_streams = True
nb_execution_in_temp = True  # examples that write files write them in a temporary folder

# --- autodoc --------------------------------------------------------------------------------------
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "description"
autodoc_class_signature = "separated"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False

# A cross-reference to a name of the package that does not exist is an error; names of other
# libraries (numpy, xarray, ...) are left unresolved, since the build reaches no network for their
# inventories.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(?!dtp_gillespie\b).*"),
    # Docstrings mention internal modules (and the store-status record) by name; they are not part
    # of the documented API and are being reorganised, so they are not link targets.
    (r"py:mod", r"dtp_gillespie\.(?!(analysis|plot|io|presets|errors|conventions)$)\w+"),
    (r"py:class", r"dtp_gillespie\.(stream|_store_status)\.StoreStatus"),
]

# --- HTML -----------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"dtp-gillespie {release}"
