#!/usr/bin/env python3
"""Train the unpicker network on labelled training files (see README)."""
import sys

from unpicker.commands.train import main

if __name__ == "__main__":
    sys.exit(main())
