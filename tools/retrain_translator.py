"""`make pretrained`: retrain the shipped translator from scratch and rewrite its checkpoint.

Usage: python tools/retrain_translator.py [--output DIR] [--steps N]

(A script rather than ``python -m minitransformer.pretrained``: the package imports that
module on start-up, and running an already imported module as __main__ warns.)
"""

import sys

from minitransformer.pretrained import main

if __name__ == "__main__":
    sys.exit(main(["--retrain", *sys.argv[1:]]))
