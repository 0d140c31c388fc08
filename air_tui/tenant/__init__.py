"""Where mail and activity come from and where actions land."""
