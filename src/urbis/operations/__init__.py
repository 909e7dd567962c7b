"""What the solutions share: alarms and maintenance work orders."""
