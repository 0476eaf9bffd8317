"""Studies: several methods trained and evaluated under one protocol with only the foresight swapped.

``python -m foresight.study <name>`` runs a study file (:mod:`foresight.study.spec`) through the trainer and the
evaluation runner (:mod:`foresight.study.runner`), records what each arm is made of
(:mod:`foresight.study.components`) and writes the report (:mod:`foresight.study.report`).
"""

from foresight.study.components import COMPONENTS, components, differences, flags
from foresight.study.spec import ArmSpec, StudySpec, load_study

__all__ = ["COMPONENTS", "ArmSpec", "StudySpec", "components", "differences", "flags", "load_study"]
