"""Rap Simulator's launcher package: the ``rapsim`` command (see ``rapsim.cli``)."""
