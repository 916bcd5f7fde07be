#!/usr/bin/env python3
"""Build labelled training files from autopick files and their hand-cleaned copies."""
import sys

from unpicker.commands.training_set import main

if __name__ == "__main__":
    sys.exit(main())
