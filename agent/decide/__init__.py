"""Deciding: the policy interface, the expert rules, the guard over every decision, the goal parser and plan edits."""
