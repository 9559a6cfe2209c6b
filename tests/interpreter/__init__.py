DEAF = (
    "import signal\n"
    "for s in (signal.SIGALRM, signal.SIGPROF):\n"
    "    signal.signal(s, signal.SIG_IGN)\n"
)
"""A cell prefix that ignores both signals that interrupt a cell at its time limits."""
