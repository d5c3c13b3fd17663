"""A run of the job: its clock and time plan, the graph and its steps, the runner, approval, resume and retrain."""
