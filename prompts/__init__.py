"""Prompt files for the LLM policy (read with agent.prompts.load_prompt)."""
