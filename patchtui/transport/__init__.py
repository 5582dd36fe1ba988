"""SSH transport: connect, run, stream lines, cancel."""
