"""The paper's MNIST benchmark; same as ``python -m sklearn_daeknn benchmark mnist``.

Run from the repository root: ``python benchmarks/mnist.py --help``.
"""

from sklearn_daeknn.benchmarks.mnist import main

if __name__ == "__main__":
    main()
