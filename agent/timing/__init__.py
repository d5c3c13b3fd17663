"""Time: the run's one clock and the time plan every step spends from."""
