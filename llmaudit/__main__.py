"""python -m llmaudit."""

if __name__ == "__main__":
    # The command line is imported here, not at the top: the reading workers' server imports this module as
    # their main one, and has no use for it (typer and rich, 0.1 s it would spend before the first worker starts).
    from llmaudit.cli import main

    main()
