"""The ML work of mlpilot: plain typed functions over pandas and scikit-learn.

Nothing in this package imports `agent`, `rich`, `openai` or `langgraph`, so every tool can be used and
tested on its own.
"""
