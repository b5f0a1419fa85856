"""The experiments of sklearn-daeknn: the paper's tables and figures, the main
job's results page, scale.

Not part of the installed package: run them from a clone of the repository,
``python -m benchmarks NAME --help``. They use only the public API of
:mod:`sklearn_daeknn`. The paper's protocol is split by job:

- ``_protocol``: the rows of the tables, the run's config, its attack suite;
- ``_fitting``: fitting the models once, with a joblib cache;
- ``_suite``: every attack run once (cached, so a run resumes), and each
  row under the suite: its attacks' AA, the worst case, the wins;
- ``_verdict``: the ranking by the worst case, in plain words;
- ``_transfer``: the analyses kept under transfer PGD only (each layer,
  the hardening sweep, the weightings);
- ``_credibility``: DkNN's conformal credibility, clean and attacked;
- ``_reports``: the tables, printing and the figures;
- ``_pages``: the Markdown results pages, written from the results;
- ``_runner``: :func:`~benchmarks._runner.run_paper_benchmark`, the whole run;
- ``_cli``: what the command lines share.

One module per experiment (``mnist``, ``cifar10``, ``digits``, ``scale``)
has ``add_arguments(parser)`` and ``run(args)``; ``__main__`` lists them.
"""
