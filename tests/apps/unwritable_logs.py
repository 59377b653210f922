"""Log records the OTLP encoder cannot write as they are, among 20 good ones, then a normal exit.

A file name with a byte that is not UTF-8 (os.fsdecode keeps it as a lone surrogate), an int past int64 handed
to logging as the message, and a logger whose name has such a byte (the record's scope): each made its batch
fail on every export, and every record after it wait behind it until the buffer overflowed.
"""

import logging
import os

from hms_otel import metric

for i in range(20):
    metric.log(f"good-{i}")
    if i == 5:
        metric.log("opened " + os.fsdecode(b"file-\xff.txt"), path=os.fsdecode(b"/tmp/\xfe"))
    if i == 10:
        logging.getLogger("files").warning(2**70)
    if i == 15:
        logging.getLogger(os.fsdecode(b"scope-\xff")).warning("from a bad scope")
