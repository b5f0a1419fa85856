"""Scale and speed benchmark; the same as
``python -m sklearn_daeknn benchmark scale``.

Example: ``python benchmarks/scale.py --output docs/results/scale.json``.
"""

import sys

from sklearn_daeknn.__main__ import main

if __name__ == "__main__":
    raise SystemExit(main(["benchmark", "scale", *sys.argv[1:]]))
