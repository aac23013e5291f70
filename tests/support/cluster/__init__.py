"""What stands in for a cluster node and the services on it: real programs (Python 3.11,
Spark 3.5, Livy) run on this machine as EMR runs them; only what cannot exist here is shimmed.

- ``node``: a node's Python built by bootstrap.sh (sudo/dnf/aws/docker shimmed), Spark 3.5, S3A
- ``livy_server``: a real Apache Livy 0.9 on 127.0.0.1 and sparkmagic's kernel (EMR's notebooks)
"""
