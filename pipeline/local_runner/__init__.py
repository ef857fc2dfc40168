"""The local-runner adapter of the bounded pipeline.

Beam's local runner (FnApiRunner) pays a fixed cost per element and per transform that dwarfs
normalizing a short JSON line, and it keeps everything crossing a GroupByKey in memory. So
locally the bounded pipeline hands Beam batches of lines, and shuffles valid envelopes through
spill files by dedupe shard: the same per-event functions as the portable graph
(:func:`~pipeline.transforms.check.check`, :func:`~pipeline.transforms.dedupe.keep_first`,
:func:`~pipeline.transforms.stage.stage_event`), arranged for one machine. A distributed
runner (Dataflow) runs the portable graph (:mod:`pipeline.bounded`) instead, whose
parallelism follows its workers.
"""
