"""The local session bigfruits starts: its JVM's options."""
from __future__ import annotations


def test_the_local_driver_uses_the_serial_collector_at_the_default_heap(spark):
    """Spark's default 1 GB driver heap: the serial collector keeps the JVM smaller than G1."""
    beans = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    names = {bean.getName() for bean in beans}
    assert names == {"Copy", "MarkSweepCompact"}, names
    options = spark.sparkContext.getConf().get("spark.driver.extraJavaOptions")
    assert "-Dlog4j2.configurationFile=file:" in options
