"""The audit trail: every change through the API recorded (middleware), and read."""
