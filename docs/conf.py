"""Sphinx configuration of the latentode documentation.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (``.ci/run``).
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))  # document the checkout, installed or not

import latentode  # noqa: E402

project = "latentode"
author = "latentode developers"
project_copyright = "latentode developers"
release = latentode.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "cli_reference",  # docs/_ext/cli_reference.py: the CLI page, from argparse
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
# Option names stay as typed: no "--help" turned into an en dash.
smartquotes = False

# MyST: ``:::`` fences and ``#anchor`` links to headings of every page.
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# numpydoc-style docstrings.
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# ``Attributes`` sections as fields: a class-level annotation of the same attribute (e.g.
# ``module_``) is then not described twice.
napoleon_use_ivar = True

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autoclass_content = "class"

html_theme = "alabaster"
html_title = f"latentode {release}"


def _skip_member(app, what, name, obj, skip, options):
    """Hide scikit-learn's generated metadata-routing setters (``set_fit_request``, ...).

    Their docstrings point into scikit-learn's own glossary, which this site does not have.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
