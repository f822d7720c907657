"""Jinja2 templates for llmaudit reports, shipped as package data (`llmaudit.templates`)."""
