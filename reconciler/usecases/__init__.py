"""The use cases behind the commands, one module each: validate, plan, apply, drift, targets, import and
publish (the GitHub reports).

Each takes parsed options and injected collaborators (the Runtime with its gateway), and returns a result
value that knows its exit status, or raises an error from core/errors.py. Nothing here prints or exits: the
command line renders results, and maps errors to exit statuses in one place (cli/exits.py).
"""
