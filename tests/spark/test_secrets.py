"""Spark gets the lake's secrets without putting them on a command line any local user can read."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

SCRIPT = """
import os, sys
from salesflow.config import load_settings
from salesflow.engine.spark import spark_session
settings = load_settings()
session = spark_session(settings.spark, settings.lake)
cmdlines = []  # every process's, the JVM that spark-submit started among them
for child in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
    try:
        cmdlines.append(open(f"/proc/{child}/cmdline", "rb").read().replace(b"\\0", b" ").decode())
    except OSError:
        pass
hadoop = session.sparkContext._jsc.hadoopConfiguration()
print("JVM_SEEN", any("org.apache.spark.deploy.SparkSubmit" in c for c in cmdlines))
print("SECRET_IN_CMDLINE", any(os.environ["SALESFLOW__LAKE__SECRET_ACCESS_KEY"] in c for c in cmdlines))
print("HADOOP_HAS_SECRET", hadoop.get("fs.s3a.secret.key") == os.environ["SALESFLOW__LAKE__SECRET_ACCESS_KEY"])
print("KEY_ID_ON_BUILDER", session.conf.get("spark.hadoop.fs.s3a.access.key") == "AKIDEXAMPLE")
session.stop()
"""


def test_s3_secret_reaches_hadoop_but_not_the_process_list(tmp_path: Path) -> None:
    secret = "sparksecret-" + uuid.uuid4().hex
    env = {**os.environ, "SALESFLOW__LAKE__ROOT": "s3://bucket/lake", "SALESFLOW__LAKE__ACCESS_KEY_ID": "AKIDEXAMPLE",
           "SALESFLOW__LAKE__SECRET_ACCESS_KEY": secret, "SALESFLOW__LAKE__ENDPOINT": "http://127.0.0.1:9",
           "SALESFLOW__SPARK__MASTER": "local[1]"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "JVM_SEEN True" in result.stdout and "SECRET_IN_CMDLINE False" in result.stdout
    assert "HADOOP_HAS_SECRET True" in result.stdout and "KEY_ID_ON_BUILDER True" in result.stdout
