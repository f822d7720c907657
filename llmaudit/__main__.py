"""python -m llmaudit."""

from llmaudit.cli import main

if __name__ == "__main__":
    main()
