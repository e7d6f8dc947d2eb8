"""Workloads whose resources keep changing, as real ones do (``write_trail(churn=True)``).

Beside the stable cast (the same three tables, one queue, a few secrets and keys every day),
every account runs: new S3 keys with ids and dates, a log stream per Lambda execution environment
and ECS task, EC2 instances of an Auto Scaling group replaced every few days, a task definition
revision and a Lambda version per deploy, a Step Functions execution per run. Each workload has its
own role and resources of the same types as the others', so that a principal's neighbours hold
resources it never touched. Their state lives in one ``state.Churn`` per account; each episode
emits exactly the number of calls it is given, as every episode does.

``state``: the workloads' resources and what runs; ``calls``: the calls they share; one module
per workload: ``storefront`` (ECS), ``api_function`` (Lambda), ``fleet`` (EC2 and SSM),
``pipeline`` (Step Functions, Glue, Athena), ``release`` (deploys from GitHub Actions) and
``curious`` (people at the console).
"""
