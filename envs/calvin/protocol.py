"""The protocol's data for one config: which chains run, the oracle's task list, and each task's instruction.

Loaded the same way in the main process (episodes, protocol record, summary) and in every simulator worker
(reset states, instructions, success), so both sides agree on what chain ``i`` is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from foresight.envs.calvin.config import CalvinConfig
from foresight.envs.calvin.language import load_instructions
from foresight.envs.calvin.oracle import load_task_definitions
from foresight.envs.calvin.resources import INSTRUCTIONS, SEQUENCES, TASKS, data_file, sha256_file
from foresight.envs.calvin.sequences import EvalSequence, load_sequences


@dataclass(frozen=True)
class ProtocolData:
    """Everything a CALVIN evaluation reads besides the simulator."""

    chains: tuple[EvalSequence, ...]  # the first num_sequences chains, index = position in the sequences file
    task_names: tuple[str, ...]  # the oracle's tasks in tasks.yaml order (the official task ids)
    instructions: dict[str, str]
    sequences_file: Path
    tasks_file: Path
    instructions_file: Path

    def digests(self) -> dict[str, str]:
        """SHA-256 of each file, for the protocol record."""
        return {
            "sequences_sha256": sha256_file(self.sequences_file),
            "tasks_sha256": sha256_file(self.tasks_file),
            "instructions_sha256": sha256_file(self.instructions_file),
        }


def load_protocol(config: CalvinConfig) -> ProtocolData:
    sequences_file = Path(config.sequences_file).expanduser() if config.sequences_file else data_file(SEQUENCES)
    tasks_file, instructions_file = data_file(TASKS), data_file(INSTRUCTIONS)
    task_names = tuple(load_task_definitions(tasks_file))
    chains = load_sequences(sequences_file, known_tasks=set(task_names))
    if config.num_sequences > len(chains):
        raise ValueError(
            f"env.num_sequences={config.num_sequences}, but {sequences_file} holds {len(chains)} chains; "
            f"choose at most {len(chains)}"
        )
    chains = chains[: config.num_sequences]
    used = sorted({task for chain in chains for task in chain.subtasks})
    return ProtocolData(
        chains=tuple(chains),
        task_names=task_names,
        instructions=load_instructions(instructions_file, used),
        sequences_file=sequences_file,
        tasks_file=tasks_file,
        instructions_file=instructions_file,
    )
