"""What stands in for Spark itself, in-process (no JVM started): just enough of a SparkSession
for code that reaches Hadoop through py4j, so its logic is tested fast and its failures forced.

- ``hadoop_fs``: Hadoop's FileSystem on an object store (S3A: a rename is a copy) over a folder
"""
