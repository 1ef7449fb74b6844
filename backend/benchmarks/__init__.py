"""The bahr-db benchmark suite: ``python -m benchmarks`` (``make bench``).

Plain Python timed with :func:`time.perf_counter_ns`, against a throwaway embedded
PostgreSQL cluster started for the run (never ``DATABASE_URL``), so every run starts from
the same state. Every figure is measured beside its anchor, interleaved in the same run,
and reported both as an absolute number and as a ratio to the anchor. ``--smoke`` runs
the same code with tiny sizes; CI uses it only to check that the suite still works.

See ``docs/benchmarks.md`` for the results of the last full run.
"""
