"""The experiments of sklearn-daeknn: the paper's tables and figures, scale.

Not part of the installed package: run them from a clone of the repository,
``python -m benchmarks NAME --help``. They use only the public API of
:mod:`sklearn_daeknn`. The paper's protocol is split by job:

- ``_protocol``: the rows of the tables, the run's config, its test attacks;
- ``_fitting``: fitting the models once, with a joblib cache;
- ``_transfer``: the evaluation steps under the transfer attack;
- ``_adaptive``: the adaptive attack on the vote, and DkNN credibility;
- ``_reports``: printing, Markdown and the figures;
- ``_runner``: :func:`~benchmarks._runner.run_paper_benchmark`, the whole run;
- ``_cli``: what the command lines share.

One module per experiment (``mnist``, ``mnist_adaptive``, ``cifar10``,
``scale``) has ``add_arguments(parser)`` and ``run(args)``; ``__main__``
lists them.
"""
