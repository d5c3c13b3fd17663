"""Prompt files for the LLM policy (read with agent.llm.prompts.load_prompt)."""
