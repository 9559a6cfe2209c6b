"""Code that runs *inside* the sandbox: the fork server and the per-session notebook child.

Nothing here may import from ``verimath``: this directory is bind-mounted on its own into the
sandbox (read-only) and imported there as the top-level package ``sandbox``. Siblings are
imported relatively so the same files also work as ``verimath.interpreter.sandbox`` on the host.
"""
