"""Stage 5, what principals hold against what they did: authorization details (``details``,
pure), reading them and the credential report from IAM (``fetch``, read-only boto3), the diff
(``diff``, with Access Advisor as a second usage signal: ``access_advisor``), who may assume each
role (``trust``) and the IAM security checklist (``audit``).

Pure but ``fetch``. May import ``trailmin.aws``, ``trailmin.mapping``, ``trailmin.query``,
``trailmin.policy``, ``trailmin.text`` and ``trailmin.errors``; boto3 only in ``fetch``
(``ruff.toml`` here).
"""
