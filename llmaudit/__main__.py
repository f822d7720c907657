"""python -m llmaudit."""

from llmaudit.cli import main

main()
