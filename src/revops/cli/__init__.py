"""The `revops` command line: the application's entry point, above every other package."""
