#!/usr/bin/env python3
"""Unpick autopick files with a trained model (see README)."""
import sys

from unpicker.commands.unpick import main

if __name__ == "__main__":
    sys.exit(main())
