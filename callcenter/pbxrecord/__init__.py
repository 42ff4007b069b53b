"""Asterisk's own durable record of every call (CEL), read beside the AMI stream.

The daemon sees calls through AMI only while it runs and is connected. Asterisk writes
its Channel Event Log whatever the daemon does, so calls that began or ended in a gap
are completed from it (docs/decisions/0009-pbx-record.md).
"""
