"""Task storage (Redis, memory) and the task lifecycle service (acknowledge, resolve,
permissions). Contract: ``alerting.store.base.TaskStore``; service: ``lifecycle.TaskService``."""
