#!/usr/bin/env python3
"""Reads a TensorBoard event file with TensorBoard's own loader and prints {tag: [[step, value], ...]} as JSON.

Usage: read_tensorboard.py EVENT_FILE   (exit 3 when the tensorboard package is missing: the test skips)
"""
import json
import sys

try:
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto import event_pb2
except ImportError:
    sys.exit(3)

out, version = {}, None
for raw in RawEventFileLoader(sys.argv[1]).Load():   # checks every record's CRCs
    event = event_pb2.Event.FromString(raw)
    if event.file_version:
        version = event.file_version
    for v in event.summary.value:
        out.setdefault(v.tag, []).append([event.step, v.simple_value])
print(json.dumps({"file_version": version, "scalars": out}))
