"""Experiments that chapters run: one module per experiment, each tested in tests/.

Kept out of the core modules so that the model stays small; a chapter imports the one it
needs, e.g. ``from minitransformer.experiments import bottleneck``.
"""
