"""A task in one file: "firstmatch" — is the first token repeated later in the sequence?

Sequences of ``seq_len`` random tokens; the label is 1 when the first token appears again,
else 0 (balanced by construction). A model must compare the first position with every other:
one attention lookup. Register it, then name it in a spec (``task = "firstmatch"``) and load
the file with ``attncost search SPEC --task-file tests/examples/custom_task.py``.
"""

from attncost.config import ModelConfig
from attncost.search.tasks import Task, TaskData, TaskOption, register_task


@register_task
class FirstMatch(Task):
    name = "firstmatch"
    description = "is the first token repeated later? (binary, balanced)"
    options = (TaskOption("length", "int", 16, "tokens per sequence", minimum=2),
               TaskOption("vocab", "int", 32, "distinct tokens", minimum=3),
               TaskOption("examples", "int", 2000, "training sequences", minimum=10))
    input_kind, output_kind = "tokens", "sequence"

    def seq_len(self, opts):
        return opts["length"]

    def chance(self, opts):
        return 0.5

    def model(self, layers, attention, opts, **fields):
        return ModelConfig(name="firstmatch", vocab=opts["vocab"], max_positions=opts["length"],
                           pooling="cls", class_head=(2,),
                           **self.skeleton(layers, attention, opts, **fields))

    def data(self, opts, seed):
        import torch

        def sample(n, generator):
            x = torch.randint(1, opts["vocab"], (n, opts["length"]), generator=generator)
            y = torch.randint(0, 2, (n,), generator=generator)
            for i in range(n):  # make the label true: plant or remove the first token
                rest = x[i, 1:]
                if y[i]:
                    rest[torch.randint(0, len(rest), (1,), generator=generator)] = x[i, 0]
                else:
                    rest[rest == x[i, 0]] = 1 + x[i, 0] % (opts["vocab"] - 1)
            return x, y

        train = sample(opts["examples"], torch.Generator().manual_seed(100 + seed))
        val = sample(500, torch.Generator().manual_seed(7))  # fixed held-out set
        return TaskData(*train, *val)
