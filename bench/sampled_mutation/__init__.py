"""The sampled mutation score of the conformance suite: cosmic-ray over ``reference_service/``.

``bench/mutation_score.py`` is the command line; docs/mutation.md ("Sampled mutation score") the manual.
Modules: ``paths`` (where things live, the engine config), ``operators`` (two operators cosmic-ray lacks),
``sampling`` (session, filters, stratified sample), ``judge`` (the test command), ``stop_early`` (its pytest
plugin), ``procs`` (pid records), ``workers`` (HTTP workers in their own copies, exec), ``results``
(verdicts, the reviewed survivors, the scores file).
"""
