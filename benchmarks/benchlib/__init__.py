"""The parts of the side-by-side benchmark that `bench_datasets.py` (the command line) puts together.

- `data`: the datasets listed in INDEX.json, and the one seeded split every system reads;
- `systems`: running mlpilot (its CLI) and the references (`_reference_worker.py` in their own venvs);
- `scoring`: each system's predictions against the test labels, the tie rule, ranks and head-to-head;
- `report`: the markdown tables.

The driver needs only pandas, numpy and scikit-learn, so any of the venvs can run it.
"""
