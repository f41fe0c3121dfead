"""Sphinx configuration: ``pip install -e ".[docs]" && sphinx-build -W docs docs/_build``.

The gallery (sphinx-gallery) runs every script in ``examples/`` with ``--small`` and
renders its output and figures; a failing example fails the build.
"""

import pathlib
import sys

import sklearn_influence

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # for _gallery

project = "sklearn_influence"
author = "the sklearn_influence developers"
copyright = f"2026, {author}"  # the footer reads "© <copyright>"
version = release = sklearn_influence.__version__
html_title = f"{project} {release}"  # browser tabs and the page header
html_short_title = project  # the sidebar's link back home
extensions = ["myst_parser", "sphinx.ext.autodoc", "numpydoc", "sphinx.ext.mathjax", "sphinx_gallery.gen_gallery"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3  # links such as definitions.md#the-quantities (checked: -W fails on a bad one)
numpydoc_show_class_members = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {
    "page_width": "1240px",  # alabaster's 940 px left ~660 px for gallery code and printed tables
    "body_max_width": "none",
    "sidebar_width": "250px",  # room for "sklearn_influence" in the sidebar's heading on one line
}
html_static_path = ["_static"]  # custom.css: code and output blocks (see there)
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py",  # execute every example, not only plot_*
    "reset_argv": "_gallery.small_flag",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "show_memory": False,
    "remove_config_comments": True,  # "# sphinx_gallery_thumbnail_path = ..." lines stay out of the pages
}
