"""The ``gankit`` commands, one module each (listed in :data:`gankit.cli.COMMAND_MODULES`), all
of one shape: a docstring, ``register(sub)``, which adds the command's parser to ``sub`` with
the flags it shares with other commands from :func:`gankit.commands.common.common` and
``set_defaults(func=run)``, and ``run(args)``, which calls the Python API and returns the exit
code."""
