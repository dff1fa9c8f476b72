"""Entry script for ``spark-submit``: the same command line as ``salesflow``.

    spark-submit --master spark://host:7077 \\
        --packages org.apache.spark:spark-sql-kafka-0-10_2.13:4.0.0 \\
        "$(python -c 'import salesflow.spark_submit as m; print(m.__file__)')" \\
        --config salesflow.yaml spark stream --source kafka --continuous

Under spark-submit the session's master, packages and resources come from spark-submit; the
``spark:`` config section fills in only what spark-submit did not set.
"""

from __future__ import annotations

import os
import sys  # noqa: F401

if __name__ == "__main__":
    os.environ["SALESFLOW_UNDER_SPARK_SUBMIT"] = "1"
    from salesflow.cli.main import main

    main(sys.argv[1:])
