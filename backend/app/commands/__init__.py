"""The ``bahr-db`` sub-commands, one module per area; :mod:`app.cli` assembles them."""
