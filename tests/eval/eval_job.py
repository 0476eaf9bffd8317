"""Runs the fake evaluation in processes of its own: killed outright by the resume test, and launched with
``accelerate launch --num_processes 2 --cpu`` by the sharding test.

    python eval_job.py <out dir> <policy dir> '<ReachConfig JSON>' '<EvalConfig JSON>'

Imports happen inside ``main`` because spawned workers re-import this file as their ``__mp_main__``.
"""

import sys


def main(argv: list[str]) -> None:
    import json
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from eval_fakes import ReachConfig, ReachSuite
    from eval_policy import loaded_policy

    from foresight.eval import EvalConfig, evaluate

    out, policy_dir, env_json, eval_json = argv
    suite = ReachSuite(ReachConfig(**json.loads(env_json)))
    evaluate(suite, loaded_policy(Path(policy_dir)), EvalConfig(**json.loads(eval_json)), Path(out))


if __name__ == "__main__":
    main(sys.argv[1:])
