"""Sources of mail and activity, and targets of remediation actions."""
