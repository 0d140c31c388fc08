"""Alert policies, analyzers, clustering and playbooks. Pure logic over domain objects."""
