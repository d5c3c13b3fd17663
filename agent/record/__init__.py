"""The run's record: the event log, the run folder, statuses and the report rendered from them."""
