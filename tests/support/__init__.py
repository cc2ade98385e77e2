"""Helpers for the project's own tests: CI-aware requirements and cached cross builds."""
