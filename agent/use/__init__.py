"""Using a finished run: predicting with its model and monitoring new batches against it."""
