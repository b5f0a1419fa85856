"""The paper's CIFAR-10 benchmark: ``python -m sklearn_daeknn benchmark cifar10``.

Run from the repository root: ``python benchmarks/cifar10.py --help``.
"""

from sklearn_daeknn.benchmarks.cifar10 import main

if __name__ == "__main__":
    main()
