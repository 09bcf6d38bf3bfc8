"""The embedded exchange's pipeline: one ordered stream of commands, journalled, run by
`Exchange` (see `pipeline.Pipeline`)."""
