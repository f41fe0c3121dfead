"""sphinx-gallery hooks (referred to by name from conf.py, so the configuration pickles)."""


def small_flag(gallery_conf, script_vars):
    """Run every example with ``--small`` (the scripts without the flag ignore it)."""
    return ["--small"]
