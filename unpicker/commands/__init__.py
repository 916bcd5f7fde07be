"""Command-line front ends, one module a command (argparse, then a call into the package)."""
