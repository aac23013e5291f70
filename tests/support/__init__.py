"""What the tests stand on, importable as ``tests.support.<module>``, grouped by what each part
stands in for: a subpackage per outside thing replaced (AWS, a cluster node, Spark's JVM, the
network), so a test's imports say what it fakes and what it runs for real. The modules at the
top replace nothing (paths and datasets every kind of test reads).

- ``paths``: the checkout, the bundled sample (``bigfruits.locations``), the CLI as a user runs it
- ``datasets``: images the pipeline never saw (unseen classes, every colour mode, broken files)
- ``report_html``: report.html read back as a user sees it (sections, tables, captions, images)
- ``browser``: headless Chromium (Debian's ``chromium``): screenshots, and which images decoded
- ``aws.server``: moto on 127.0.0.1 over HTTPS + the boto3 env fixtures (the AWS APIs moto has)
- ``aws.emr``: ``FakeEmr``, clusters and steps that advance per poll (moto's EMR never finishes)
- ``aws.stubbed``: ``StubbedAws``, botocore ``Stubber`` clients (EMR Studio, Price List: no moto)
- ``aws.cli``: ``bigfruits aws`` as typed, no sleeping, a fixed caller IP, scripted confirmations
- ``aws.model``: requests checked against botocore's service models (what AWS would accept)
- ``cluster.node``: a node's Python built by bootstrap.sh (shims for sudo/dnf/aws/docker), Spark 3.5
- ``cluster.livy_server``: a real Apache Livy 0.9 on 127.0.0.1 and sparkmagic's kernel (notebooks)
- ``spark.hadoop_fs``: an in-process SparkSession with an object store's Hadoop FileSystem (S3A)
- ``network.toxiproxy``: a real Toxiproxy in front of moto: S3's latency and faults
"""
