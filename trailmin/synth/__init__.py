"""Synthetic CloudTrail trails of a fictional organization, deterministic by seed (``trail``):
the sample logs, the tests' corpora and the benchmarks'.

``trail`` is the entry point (``iter_records``, ``write_trail``); the other modules are the
generator, split by what they write:

- ``values`` and ``agents``: constants, times, random IDs, identities; user agents;
- ``shared`` and ``emit``: the random stream and the values records share; the generator's state
  (``Synth``) and the record itself (``Synth.call``, ``emit_s3_object``);
- ``cast``: the organization's principals and resources in each account, and who calls how;
- a module per workload: ``app`` (app-backend on Lambda and ECS), ``ci`` (GitHub Actions
  deploys), ``console`` (sign-ins, console calls) with ``sso`` (Identity Center) and ``users``
  (alice, bob, root), ``access_keys`` (legacy-batch, export-job, an intruder), ``vendor`` (a
  third party's weekly audit through ``role/vendor-audit``), ``services`` (AWS on its own), and
  ``churn/`` (the workloads whose resources keep changing);
- ``plan``: each day's episodes, and the records in time order;
- ``delivery``: the S3 layout, log files and digests.

Everything random in the records comes from one ``random.Random`` (``Shared.rng``), drawn in the
order the records are built (file names and delivery delays from a second one): moving a draw
changes every file after it, so a change here is checked against ``sample_logs/``. Episodes added
later (the vendor's audit, the leaked key's first check) draw from a stream of their own in
``Shared.aside`` and lie outside the day's budget, so that they add records and change no other.

Imports nothing of trailmin but ``trailmin.errors``; writes files only (``ruff.toml`` here).
"""
