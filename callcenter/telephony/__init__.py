"""Telephony domain: what is happening on the PBX, as pure logic fed with AMI events."""
