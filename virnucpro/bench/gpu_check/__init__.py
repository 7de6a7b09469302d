"""The short GPU check (``scripts/gpu_check.py``): its steps and limits (``spec``), the child
processes (``child``), the model steps run in one process (``model_group``, measuring in
``steps``), the command steps (``commands``), the plan over them (``plan``), the GPU image and
its wheels (``image``) and the dry run's estimate of each step on the GPU (``estimate``).

May import: every other package of ``virnucpro.bench``.
"""
